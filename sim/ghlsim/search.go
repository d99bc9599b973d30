package ghlsim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"ptsync/apiclient/ghlwire"
)

// Search limits, as HighLevel documents them.
const (
	maxListLimit   = 100
	maxPageLimit   = 500
	maxPageWindow  = 10000
	maxQueryLength = 75
)

// matchesQuery is the free-text match of GET /contacts/ and POST /contacts/search: a
// case-insensitive substring of name, email, phone or company.
func matchesQuery(c *ghlwire.Contact, q string) bool {
	q = strings.ToLower(strings.TrimSpace(q))
	if q == "" {
		return true
	}
	for _, f := range []string{c.FullNameLowerCase, c.EmailLowerCase, c.Phone, strings.ToLower(c.CompanyName)} {
		if strings.Contains(f, q) {
			return true
		}
	}
	return false
}

// hListContacts serves the deprecated GET /contacts/: newest first by dateAdded, id as the
// tiebreak (descending too). startAfter+startAfterId continue after that row; startAfter
// alone returns the first page again, as the real API does.
func (s *Server) hListContacts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := s.checkLocation(q.Get("locationId")); e != nil {
		s.writeErr(w, e)
		return
	}
	limit, after, e := parseListCursor(q)
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.mu.RLock()
	repeat := s.cursorRepeat
	rows := make([]*snap, 0, len(s.st.contacts))
	for _, rec := range s.st.contacts {
		if matchesQuery(&rec.cur.c, q.Get("query")) {
			rows = append(rows, rec.cur)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(rows, newestFirst)
	start := 0
	if after != nil {
		start, _ = slices.BinarySearchFunc(rows, after, newestFirst)
		if start < len(rows) && newestFirst(rows[start], after) == 0 {
			start++
		}
	}
	end := min(start+limit, len(rows))
	page := rows[start:end]
	resp := ghlwire.ListContactsResponse{Contacts: make([]ghlwire.Contact, len(page)), Count: len(rows)}
	for i, sn := range page {
		resp.Contacts[i] = cloneContact(sn.c)
	}
	cur := start/limit + 1
	resp.Meta = &ghlwire.ListMeta{Total: len(rows), CurrentPage: cur}
	if cur > 1 {
		p := cur - 1
		resp.Meta.PrevPage = &p
	}
	if end < len(rows) && len(page) > 0 {
		last := page[len(page)-1]
		if repeat && after != nil { // test hook: hand back the cursor the client sent
			last = after
		}
		s.nextListPage(resp.Meta, r, limit, last)
	}
	s.writeJSON(w, 200, resp)
}

// newestFirst orders the list: dateAdded descending, then id descending.
func newestFirst(a, b *snap) int {
	if c := b.added.Compare(a.added); c != 0 {
		return c
	}
	return strings.Compare(b.c.ID, a.c.ID)
}

// parseListCursor reads GET /contacts/'s limit (default 20, at most maxListLimit) and its
// startAfter+startAfterId cursor (nil when absent, or when startAfterId is: the API's bug).
func parseListCursor(q url.Values) (int, *snap, *Error) {
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 1:
			return 0, nil, errUnprocessable("limit must be a positive number")
		case n > maxListLimit:
			return 0, nil, errUnprocessable("limit must not be greater than 100")
		}
		limit = n
	}
	sa, said := q.Get("startAfter"), q.Get("startAfterId")
	if sa == "" {
		return limit, nil, nil
	}
	ms, err := strconv.ParseInt(sa, 10, 64)
	if err != nil {
		return 0, nil, errUnprocessable("startAfter must be a number")
	}
	if said == "" { // startAfter without startAfterId is ignored: the API's known bug
		return limit, nil, nil
	}
	return limit, &snap{c: ghlwire.Contact{ID: said}, added: time.UnixMilli(ms).UTC()}, nil
}

// nextListPage fills meta's cursor and next-page fields to continue after last.
func (s *Server) nextListPage(meta *ghlwire.ListMeta, r *http.Request, limit int, last *snap) {
	q := r.URL.Query()
	ms, id := last.added.UnixMilli(), last.c.ID
	np := meta.CurrentPage + 1
	v := url.Values{"locationId": {s.opts.LocationID}, "startAfter": {strconv.FormatInt(ms, 10)}, "startAfterId": {id}}
	if q.Has("limit") {
		v.Set("limit", strconv.Itoa(limit))
	}
	if q.Get("query") != "" {
		v.Set("query", q.Get("query"))
	}
	next := "http://" + r.Host + "/contacts/?" + v.Encode()
	meta.StartAfter, meta.StartAfterID, meta.NextPage, meta.NextPageURL = &ms, &id, &np, &next
}

// hBusiness serves GET /contacts/business/{businessId} (limit and skip are strings).
func (s *Server) hBusiness(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := s.checkLocation(q.Get("locationId")); e != nil {
		s.writeErr(w, e)
		return
	}
	limit, skip := 25, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			s.writeErr(w, errUnprocessable("limit must be a number string between 1 and 100"))
			return
		}
		limit = n
	}
	if v := q.Get("skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.writeErr(w, errUnprocessable("skip must be a number string"))
			return
		}
		skip = n
	}
	bid := r.PathValue("businessId")
	s.mu.RLock()
	var rows []*snap
	for _, rec := range s.st.contacts {
		if rec.cur.c.BusinessID == bid && matchesQuery(&rec.cur.c, q.Get("query")) {
			rows = append(rows, rec.cur)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(rows, func(a, b *snap) int {
		return cmp.Or(strings.Compare(a.c.FullNameLowerCase, b.c.FullNameLowerCase), strings.Compare(a.c.ID, b.c.ID))
	})
	out := ghlwire.BusinessContactsResponse{Contacts: []ghlwire.Contact{}, Count: len(rows)}
	for i := skip; i < len(rows) && i < skip+limit; i++ {
		out.Contacts = append(out.Contacts, cloneContact(rows[i].c))
	}
	s.writeJSON(w, 200, out)
}

// fieldKind tells how a search field compares.
type fieldKind int

const (
	kindText fieldKind = iota
	kindDate
	kindTags
	kindPhone
	kindBool
)

var searchFields = map[string]fieldKind{
	"id": kindText, "email": kindText, "firstName": kindText, "lastName": kindText,
	"firstNameLowerCase": kindText, "lastNameLowerCase": kindText, "name": kindText,
	"contactName": kindText, "companyName": kindText, "city": kindText, "state": kindText,
	"country": kindText, "postalCode": kindText, "source": kindText, "type": kindText,
	"assignedTo": kindText, "businessId": kindText, "timezone": kindText, "website": kindText,
	"address1": kindText, "dateOfBirth": kindText,
	"dateAdded": kindDate, "dateUpdated": kindDate,
	"tags": kindTags, "phone": kindPhone, "dnd": kindBool,
}

func textValue(s *snap, field string) string {
	c := &s.c
	switch field {
	case "id":
		return c.ID
	case "email":
		return c.EmailLowerCase
	case "firstName", "firstNameLowerCase":
		return c.FirstNameLowerCase
	case "lastName", "lastNameLowerCase":
		return c.LastNameLowerCase
	case "name", "contactName":
		return c.FullNameLowerCase
	case "companyName":
		return strings.ToLower(c.CompanyName)
	case "city":
		return strings.ToLower(c.City)
	case "state":
		return strings.ToLower(c.State)
	case "country":
		return strings.ToLower(c.Country)
	case "postalCode":
		return strings.ToLower(c.PostalCode)
	case "source":
		return strings.ToLower(c.Source)
	case "type":
		return c.Type
	case "assignedTo":
		return c.AssignedTo
	case "businessId":
		return c.BusinessID
	case "timezone":
		return c.Timezone
	case "website":
		return strings.ToLower(c.Website)
	case "address1":
		return strings.ToLower(c.Address1)
	case "dateOfBirth":
		return c.DateOfBirth
	case "phone":
		return c.Phone
	case "dnd":
		return strconv.FormatBool(c.Dnd)
	}
	return ""
}

func dateValue(s *snap, field string) time.Time {
	if field == "dateAdded" {
		return s.added
	}
	return s.updated
}

// sortKey is one compiled sort criterion.
type sortKey struct {
	field string
	desc  bool
	date  bool
}

func (k sortKey) value(s *snap) any {
	if k.date {
		return dateValue(s, k.field).UnixMilli()
	}
	return textValue(s, k.field)
}

func compareSnaps(keys []sortKey, a, b *snap) int {
	for _, k := range keys {
		var c int
		if k.date {
			c = dateValue(a, k.field).Compare(dateValue(b, k.field))
		} else {
			c = strings.Compare(textValue(a, k.field), textValue(b, k.field))
		}
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return strings.Compare(a.c.ID, b.c.ID)
}

// compareCursor orders a snap against a searchAfter cursor [sortValues..., id].
func compareCursor(keys []sortKey, a *snap, cur []any) int {
	for i, k := range keys {
		var c int
		if k.date {
			t, _ := parseTimeValue(cur[i])
			c = dateValue(a, k.field).Compare(t)
		} else {
			str, _ := cur[i].(string)
			c = strings.Compare(textValue(a, k.field), str)
		}
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	id, _ := cur[len(keys)].(string)
	return strings.Compare(a.c.ID, id)
}

// hSearch serves POST /contacts/search against the index as of now - SearchLag.
func (s *Server) hSearch(w http.ResponseWriter, r *http.Request) {
	req, keys, e := decodeSearch(r)
	if e != nil {
		s.writeErr(w, e)
		return
	}
	if e := s.checkLocation(req.LocationID); e != nil {
		s.writeErr(w, e)
		return
	}
	page := max(req.Page, 1)
	if req.SearchAfter == nil && page*req.PageLimit > maxPageWindow {
		s.writeErr(w, errBadRequest(fmt.Sprintf("page * pageLimit must not exceed %d; use searchAfter to read further", maxPageWindow)))
		return
	}
	pred, e := compileFilters(req.Filters, "AND")
	if e != nil {
		s.writeErr(w, e)
		return
	}

	s.mu.RLock()
	visible := s.st.visibleAt(s.now().Add(-s.lag))
	repeat := s.cursorRepeat
	s.mu.RUnlock()
	// Only the rows up to the end of the requested page are kept, in order (rows after a
	// searchAfter cursor, the first page*limit otherwise): a walk over a large location then
	// costs O(n log limit) per page instead of a full sort of every match.
	start := (page - 1) * req.PageLimit
	if req.SearchAfter != nil {
		start = 0
	}
	cmp := func(a, b *snap) int { return compareSnaps(keys, a, b) }
	rows, total := topRows(visible, start+req.PageLimit, cmp, func(sn *snap) (match, after bool) {
		if !pred(sn) || !matchesQuery(&sn.c, req.Query) {
			return false, false
		}
		return true, req.SearchAfter == nil || compareCursor(keys, sn, req.SearchAfter) > 0
	})
	start = min(start, len(rows))
	end := min(start+req.PageLimit, len(rows))
	resp := ghlwire.SearchResponse{Contacts: make([]ghlwire.Contact, 0, end-start), Total: total, TraceID: s.traceID()}
	for _, sn := range rows[start:end] {
		c := cloneContact(sn.c)
		c.SearchAfter = make([]any, 0, len(keys)+1)
		for _, k := range keys {
			c.SearchAfter = append(c.SearchAfter, k.value(sn))
		}
		c.SearchAfter = append(c.SearchAfter, sn.c.ID)
		resp.Contacts = append(resp.Contacts, c)
	}
	if len(resp.Contacts) > 0 && s.faults.futureTimestamp(s.now()) {
		resp.Contacts[0].DateUpdated = FutureTimestamp
		s.ctr.fault(FaultFutureTimestamp)
	}
	if repeat && req.SearchAfter != nil && len(resp.Contacts) > 0 { // test hook: the cursor never advances
		resp.Contacts[len(resp.Contacts)-1].SearchAfter = req.SearchAfter
	}
	s.writeJSON(w, 200, resp)
}

// decodeSearch reads the search body strictly (an unknown property is a 422, malformed JSON
// a 400) and validates it as HighLevel does, returning the compiled sort keys (dateAdded desc
// when none is given).
func decodeSearch(r *http.Request) (ghlwire.SearchRequest, []sortKey, *Error) {
	var req ghlwire.SearchRequest
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return req, nil, errBadRequest("cannot read request body")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return req, nil, errUnprocessable("property " + strings.Trim(f, `"`) + " should not exist")
		}
		return req, nil, errBadRequest("Unexpected token in JSON body: " + err.Error())
	}
	var msgs []string
	if req.LocationID == "" {
		msgs = append(msgs, "locationId should not be empty")
	}
	switch {
	case req.PageLimit <= 0:
		msgs = append(msgs, "pageLimit must be a positive number")
	case req.PageLimit > maxPageLimit:
		msgs = append(msgs, "pageLimit must not be greater than 500")
	}
	if req.Page < 0 {
		msgs = append(msgs, "page must be a positive number")
	}
	if req.Page != 0 && req.SearchAfter != nil {
		msgs = append(msgs, "page and searchAfter cannot be used together")
	}
	if len(req.Query) > maxQueryLength {
		msgs = append(msgs, "query must be shorter than or equal to 75 characters")
	}
	keys, bad := searchSortKeys(req.Sort)
	msgs = append(msgs, bad...)
	if req.SearchAfter != nil && len(req.SearchAfter) != len(keys)+1 {
		msgs = append(msgs, fmt.Sprintf("searchAfter must have %d values: the sort values then the id", len(keys)+1))
	}
	if len(msgs) > 0 {
		return req, nil, errUnprocessable(msgs...)
	}
	return req, keys, nil
}

// searchSortKeys compiles the sort criteria (dateAdded desc when there are none) and the
// messages of the ones that are invalid.
func searchSortKeys(sorts []ghlwire.SearchSort) ([]sortKey, []string) {
	var msgs []string
	keys := []sortKey{}
	for i, so := range sorts {
		kind, ok := searchFields[so.Field]
		if !ok || kind == kindTags {
			msgs = append(msgs, fmt.Sprintf("sort[%d].field %q is not sortable", i, so.Field))
			continue
		}
		d := strings.ToLower(so.Direction)
		if d != "" && d != "asc" && d != "desc" {
			msgs = append(msgs, fmt.Sprintf("sort[%d].direction must be asc or desc", i))
		}
		keys = append(keys, sortKey{field: so.Field, desc: d == "desc", date: kind == kindDate})
	}
	if len(sorts) == 0 {
		keys = append(keys, sortKey{field: "dateAdded", desc: true, date: true})
	}
	return keys, msgs
}

// topRows returns, in cmp order, the first n of the candidates that keep reports as matching
// and after the cursor, and how many matched at all (the search's total). It keeps a sorted
// buffer of at most n rows, so it never sorts every match.
func topRows(cands []*snap, n int, cmp func(a, b *snap) int, keep func(*snap) (match, after bool)) ([]*snap, int) {
	total := 0
	buf := make([]*snap, 0, min(n, len(cands)))
	for _, sn := range cands {
		match, after := keep(sn)
		if !match {
			continue
		}
		total++
		if !after || n <= 0 {
			continue
		}
		if len(buf) == n && cmp(sn, buf[n-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(buf, sn, cmp)
		if len(buf) < n {
			buf = append(buf, nil)
		}
		copy(buf[i+1:], buf[i:len(buf)-1])
		buf[i] = sn
	}
	return buf, total
}
