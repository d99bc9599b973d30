package ghlsim

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
)

func (h *harness) list(query string) (ghlwire.ListContactsResponse, resp) {
	h.t.Helper()
	r := h.call("GET", "/contacts/?locationId="+h.sim.LocationID()+query, nil)
	var out ghlwire.ListContactsResponse
	if r.status == 200 {
		r.decode(h.t, &out)
	}
	return out, r
}

func TestListPagination(t *testing.T) {
	h := newHarness(t, Options{Seed: 11})
	h.sim.Seed(250)
	want := h.sim.Contacts() // oldest first
	slices.Reverse(want)

	t.Run("walk with startAfter and startAfterId", func(t *testing.T) {
		var got []string
		q := "&limit=100"
		for page := 1; ; page++ {
			out, r := h.list(q)
			if r.status != 200 {
				t.Fatalf("page %d: %d %s", page, r.status, r.body)
			}
			m := out.Meta
			if m == nil || m.CurrentPage != page || m.Total != 250 {
				t.Fatalf("page %d meta %+v", page, m)
			}
			if (page == 1) != (m.PrevPage == nil) {
				t.Errorf("page %d prevPage %v", page, m.PrevPage)
			}
			for _, c := range out.Contacts {
				got = append(got, c.ID)
			}
			if m.StartAfterID == nil {
				if m.NextPageURL != nil || m.StartAfter != nil || m.NextPage != nil {
					t.Errorf("last page meta not all null: %+v", m)
				}
				if page != 3 || len(out.Contacts) != 50 {
					t.Errorf("last page %d had %d rows", page, len(out.Contacts))
				}
				break
			}
			if *m.NextPage != page+1 || !strings.Contains(*m.NextPageURL, "startAfterId="+*m.StartAfterID) {
				t.Errorf("meta %+v", m)
			}
			last := out.Contacts[len(out.Contacts)-1]
			added, _ := time.Parse(time.RFC3339, last.DateAdded)
			if *m.StartAfter != added.UnixMilli() || *m.StartAfterID != last.ID {
				t.Errorf("cursor %d/%s is not the last row %s/%s", *m.StartAfter, *m.StartAfterID, last.DateAdded, last.ID)
			}
			q = fmt.Sprintf("&limit=100&startAfter=%d&startAfterId=%s", *m.StartAfter, *m.StartAfterID)
		}
		if len(got) != len(want) {
			t.Fatalf("walked %d contacts, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i].ID {
				t.Fatalf("row %d is %s, want %s (newest first)", i, got[i], want[i].ID)
			}
		}
	})
	t.Run("nextPageUrl is followable", func(t *testing.T) {
		out, _ := h.list("&limit=10")
		u, err := url.Parse(*out.Meta.NextPageURL)
		if err != nil {
			t.Fatal(err)
		}
		r := h.call("GET", u.RequestURI(), nil)
		var next ghlwire.ListContactsResponse
		r.decode(t, &next)
		if next.Contacts[0].ID != want[10].ID || next.Meta.CurrentPage != 2 {
			t.Fatalf("next page starts at %s (page %d), want %s", next.Contacts[0].ID, next.Meta.CurrentPage, want[10].ID)
		}
	})
	t.Run("startAfter alone returns the first page again", func(t *testing.T) {
		first, _ := h.list("&limit=20")
		again, _ := h.list(fmt.Sprintf("&limit=20&startAfter=%d", *first.Meta.StartAfter))
		if again.Contacts[0].ID != first.Contacts[0].ID || again.Meta.CurrentPage != 1 {
			t.Fatalf("startAfter-only page starts at %s, want the first page (%s)", again.Contacts[0].ID, first.Contacts[0].ID)
		}
	})
	t.Run("default limit 20", func(t *testing.T) {
		out, _ := h.list("")
		if len(out.Contacts) != 20 {
			t.Fatalf("%d rows", len(out.Contacts))
		}
	})
	t.Run("query filter", func(t *testing.T) {
		name := want[5].FirstName
		out, _ := h.list("&limit=100&query=" + url.QueryEscape(strings.ToUpper(name)))
		if len(out.Contacts) == 0 || out.Meta.Total != len(out.Contacts) && len(out.Contacts) < 100 {
			t.Fatalf("query %q: %d rows, total %d", name, len(out.Contacts), out.Meta.Total)
		}
		for _, c := range out.Contacts {
			if !strings.Contains(strings.ToLower(c.Name+c.Email+c.CompanyName), strings.ToLower(name)) {
				t.Errorf("row %q does not match %q", c.Name, name)
			}
		}
	})
	errs := []struct{ name, q string }{
		{"limit over 100", "&limit=101"},
		{"limit not a number", "&limit=x"},
		{"startAfter not a number", "&startAfter=x&startAfterId=y"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, r := h.list(tc.q)
			if r.status != 422 || len(r.errBody(t).Messages()) == 0 || !strings.Contains(string(r.body), `"message":[`) {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	t.Run("missing locationId", func(t *testing.T) {
		r := h.call("GET", "/contacts/?limit=5", nil)
		if r.status != 422 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}

func (h *harness) search(req ghlwire.SearchRequest) (ghlwire.SearchResponse, resp) {
	h.t.Helper()
	if req.LocationID == "" {
		req.LocationID = h.sim.LocationID()
	}
	r := h.call("POST", "/contacts/search", req)
	var out ghlwire.SearchResponse
	if r.status == 200 {
		r.decode(h.t, &out)
	}
	return out, r
}

func ids(cs []ghlwire.Contact) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	slices.Sort(out)
	return out
}

func TestSearchFilters(t *testing.T) {
	h := newHarness(t, Options{})
	mk := func(first, last, email, phone string, tags ...string) string {
		h.clock.Advance(time.Minute)
		in := ghlwire.ContactInput{FirstName: ptr(first), LastName: ptr(last), Tags: tags}
		if email != "" {
			in.Email = ptr(email)
		}
		if phone != "" {
			in.Phone = ptr(phone)
		}
		return h.create(in).ID
	}
	a := mk("Alice", "Smith", "Alice@Example.com", "+1 555-010-0001", "vip", "client")
	b := mk("Bob", "Smithers", "bob@example.org", "(555) 010 0002", "lead")
	c := mk("Carol", "Jones", "", "5550100003")
	d := mk("Dan", "Brown", "dan@example.com", "", "client")
	t2 := h.clock.Now().Add(-90 * time.Second) // between b (now-2m) and c (now-1m)
	all := []string{a, b, c, d}
	slices.Sort(all)
	sorted := func(xs ...string) []string { slices.Sort(xs); return xs }
	f := func(field, op string, v any) ghlwire.SearchFilter {
		return ghlwire.SearchFilter{Field: field, Operator: op, Value: v}
	}
	tests := []struct {
		name    string
		filters []ghlwire.SearchFilter
		want    []string
	}{
		{"no filter", nil, all},
		{"eq email case-insensitive", []ghlwire.SearchFilter{f("email", "eq", "alice@EXAMPLE.com")}, sorted(a)},
		{"not_eq email", []ghlwire.SearchFilter{f("email", "not_eq", "alice@example.com")}, sorted(b, c, d)},
		{"contains lastName", []ghlwire.SearchFilter{f("lastName", "contains", "smith")}, sorted(a, b)},
		{"not_contains lastName", []ghlwire.SearchFilter{f("lastName", "not_contains", "smith")}, sorted(c, d)},
		{"exists email", []ghlwire.SearchFilter{f("email", "exists", nil)}, sorted(a, b, d)},
		{"not_exists email", []ghlwire.SearchFilter{f("email", "not_exists", nil)}, sorted(c)},
		{"not_exists phone", []ghlwire.SearchFilter{f("phone", "not_exists", nil)}, sorted(d)},
		{"eq tags", []ghlwire.SearchFilter{f("tags", "eq", "client")}, sorted(a, d)},
		{"eq tags any of", []ghlwire.SearchFilter{f("tags", "eq", []string{"vip", "lead"})}, sorted(a, b)},
		{"not_eq tags", []ghlwire.SearchFilter{f("tags", "not_eq", "client")}, sorted(b, c)},
		{"exists tags", []ghlwire.SearchFilter{f("tags", "exists", nil)}, sorted(a, b, d)},
		{"eq phone in another format", []ghlwire.SearchFilter{f("phone", "eq", "555.010.0002")}, sorted(b)},
		{"eq firstName", []ghlwire.SearchFilter{f("firstName", "eq", "carol")}, sorted(c)},
		{"eq id", []ghlwire.SearchFilter{f("id", "eq", d)}, sorted(d)},
		{"range dateAdded lt ISO", []ghlwire.SearchFilter{f("dateAdded", "range", map[string]any{"lt": t2.Format(time.RFC3339)})}, sorted(a, b)},
		{"range dateUpdated gte epoch ms", []ghlwire.SearchFilter{f("dateUpdated", "range", map[string]any{"gte": t2.UnixMilli()})}, sorted(c, d)},
		{"range both bounds", []ghlwire.SearchFilter{f("dateAdded", "range", map[string]any{"gt": t2.Add(-time.Minute).UnixMilli(), "lte": t2.UnixMilli()})}, sorted(b)},
		{"AND of two", []ghlwire.SearchFilter{f("tags", "eq", "client"), f("email", "contains", ".com")}, sorted(a, d)},
		{"OR group", []ghlwire.SearchFilter{{Group: "OR", Filters: []ghlwire.SearchFilter{f("firstName", "eq", "bob"), f("lastName", "eq", "jones")}}}, sorted(b, c)},
		{"AND group inside OR", []ghlwire.SearchFilter{{Group: "OR", Filters: []ghlwire.SearchFilter{
			{Group: "AND", Filters: []ghlwire.SearchFilter{f("tags", "eq", "client"), f("firstName", "eq", "dan")}},
			f("id", "eq", a)}}}, sorted(a, d)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, r := h.search(ghlwire.SearchRequest{PageLimit: 100, Filters: tc.filters})
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if got := ids(out.Contacts); !slices.Equal(got, tc.want) || out.Total != len(tc.want) {
				t.Fatalf("got %v (total %d), want %v", got, out.Total, tc.want)
			}
			if out.TraceID == "" {
				t.Error("no traceId")
			}
		})
	}
	sorts := []struct {
		name string
		sort []ghlwire.SearchSort
		want []string
	}{
		{"dateAdded asc", []ghlwire.SearchSort{{Field: "dateAdded", Direction: "asc"}}, []string{a, b, c, d}},
		{"dateUpdated desc", []ghlwire.SearchSort{{Field: "dateUpdated", Direction: "desc"}}, []string{d, c, b, a}},
		{"default is dateAdded desc", nil, []string{d, c, b, a}},
		{"id asc", []ghlwire.SearchSort{{Field: "id", Direction: "asc"}}, all},
	}
	for _, tc := range sorts {
		t.Run("sort "+tc.name, func(t *testing.T) {
			out, _ := h.search(ghlwire.SearchRequest{PageLimit: 10, Sort: tc.sort})
			got := make([]string, len(out.Contacts))
			for i, c := range out.Contacts {
				got[i] = c.ID
				if len(c.SearchAfter) != 2 || c.SearchAfter[1] != c.ID {
					t.Errorf("searchAfter %v is not [sortValue, id]", c.SearchAfter)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("order %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSearchValidation(t *testing.T) {
	h := newHarness(t, Options{})
	tests := []struct {
		name   string
		body   any
		status int
		want   string
	}{
		{"missing locationId", map[string]any{"pageLimit": 10}, 422, "locationId should not be empty"},
		{"missing pageLimit", map[string]any{"locationId": h.sim.LocationID()}, 422, "pageLimit must be a positive number"},
		{"pageLimit over 500", map[string]any{"locationId": h.sim.LocationID(), "pageLimit": 501}, 422, "pageLimit must not be greater than 500"},
		{"page with searchAfter", map[string]any{"locationId": h.sim.LocationID(), "pageLimit": 10, "page": 2, "searchAfter": []any{1, "x"}}, 422, "page and searchAfter cannot be used together"},
		{"unknown operator", map[string]any{"locationId": h.sim.LocationID(), "pageLimit": 10, "filters": []any{map[string]any{"field": "email", "operator": "like", "value": "x"}}}, 422, "unknown operator"},
		{"unknown field", map[string]any{"locationId": h.sim.LocationID(), "pageLimit": 10, "filters": []any{map[string]any{"field": "shoe", "operator": "eq", "value": "x"}}}, 422, "not a searchable field"},
		{"query too long", map[string]any{"locationId": h.sim.LocationID(), "pageLimit": 10, "query": strings.Repeat("q", 76)}, 422, "75 characters"},
		{"page window over 10000", map[string]any{"locationId": h.sim.LocationID(), "pageLimit": 500, "page": 21}, 400, "must not exceed 10000"},
		{"page window exactly 10000", map[string]any{"locationId": h.sim.LocationID(), "pageLimit": 500, "page": 20}, 200, `"contacts":[]`},
		{"wrong cursor length", map[string]any{"locationId": h.sim.LocationID(), "pageLimit": 10, "searchAfter": []any{"x"}}, 422, "searchAfter must have 2 values"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call("POST", "/contacts/search", tc.body)
			if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
				t.Fatalf("%d %s; want %d with %q", r.status, r.body, tc.status, tc.want)
			}
			if tc.status == 422 && !strings.Contains(string(r.body), `"message":[`) {
				t.Errorf("422 message is not an array: %s", r.body)
			}
		})
	}
}

// TestSearchAfterWalk walks dateUpdated asc with range gte + searchAfter while contacts
// change between pages: every contact present at the start must be seen, each page must
// continue strictly after the previous one, and the walk must end.
func TestSearchAfterWalk(t *testing.T) {
	h := newHarness(t, Options{Seed: 5})
	h.sim.Seed(800)
	start := h.sim.Contacts()
	since := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	var cursor []any
	var lastKey string
	pages := 0
	for {
		out, r := h.search(ghlwire.SearchRequest{
			PageLimit:   100,
			SearchAfter: cursor,
			Filters:     []ghlwire.SearchFilter{{Field: "dateUpdated", Operator: "range", Value: map[string]any{"gte": since.UnixMilli()}}},
			Sort:        []ghlwire.SearchSort{{Field: "dateUpdated", Direction: "asc"}},
		})
		if r.status != 200 {
			t.Fatalf("page %d: %d %s", pages, r.status, r.body)
		}
		if len(out.Contacts) == 0 {
			break
		}
		pages++
		if pages > 100 {
			t.Fatal("walk does not end")
		}
		for _, c := range out.Contacts {
			key := fmt.Sprintf("%s|%s", c.DateUpdated, c.ID)
			if key <= lastKey {
				t.Fatalf("row %s is not after %s", key, lastKey)
			}
			lastKey = key
			seen[c.ID] = true
		}
		cursor = out.Contacts[len(out.Contacts)-1].SearchAfter
		h.clock.Advance(time.Second)
		h.sim.ChurnStep(15) // edits move contacts to the end of the walk
	}
	for _, c := range start {
		if !seen[c.ID] {
			t.Fatalf("contact %s was never returned", c.ID)
		}
	}
	t.Logf("walked %d pages, saw %d contacts", pages, len(seen))
}

func TestSearchLag(t *testing.T) {
	h := newHarness(t, Options{SearchLag: 5 * time.Second})
	old := h.create(ghlwire.ContactInput{FirstName: ptr("Old"), City: ptr("Before")})
	h.clock.Advance(6 * time.Second)
	byID := func(id string) []ghlwire.Contact {
		out, r := h.search(ghlwire.SearchRequest{PageLimit: 10, Filters: []ghlwire.SearchFilter{{Field: "id", Operator: "eq", Value: id}}})
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		return out.Contacts
	}
	fresh := h.create(ghlwire.ContactInput{FirstName: ptr("Fresh")})
	h.call("PUT", "/contacts/"+old.ID, map[string]any{"city": "After"})
	steps := []struct {
		name      string
		advance   time.Duration
		freshSeen bool
		oldCity   string
	}{
		{"right after the writes", 0, false, "Before"},
		{"before the lag ends", 4 * time.Second, false, "Before"},
		{"after the lag", 2 * time.Second, true, "After"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			h.clock.Advance(st.advance)
			if got := len(byID(fresh.ID)) == 1; got != st.freshSeen {
				t.Errorf("new contact searchable = %v, want %v", got, st.freshSeen)
			}
			if got := byID(old.ID); len(got) != 1 || got[0].City != st.oldCity {
				t.Errorf("old contact %+v, want city %s", got, st.oldCity)
			}
		})
	}
	t.Run("a delete stays visible until the lag passes", func(t *testing.T) {
		h.call("DELETE", "/contacts/"+old.ID, nil)
		if len(byID(old.ID)) != 1 {
			t.Fatal("deleted contact vanished from search before the lag")
		}
		h.clock.Advance(5 * time.Second)
		if len(byID(old.ID)) != 0 {
			t.Fatal("deleted contact still searchable after the lag")
		}
	})
}

func TestCursorRepeatHook(t *testing.T) {
	h := newHarness(t, Options{Seed: 2})
	h.sim.Seed(30)
	h.sim.SetCursorRepeat(true)
	t.Run("list", func(t *testing.T) {
		first, _ := h.list("&limit=10")
		q := fmt.Sprintf("&limit=10&startAfter=%d&startAfterId=%s", *first.Meta.StartAfter, *first.Meta.StartAfterID)
		second, _ := h.list(q)
		if *second.Meta.StartAfterID != *first.Meta.StartAfterID || *second.Meta.StartAfter != *first.Meta.StartAfter {
			t.Fatalf("cursor advanced: %s -> %s", *first.Meta.StartAfterID, *second.Meta.StartAfterID)
		}
	})
	t.Run("search", func(t *testing.T) {
		req := ghlwire.SearchRequest{PageLimit: 10, Sort: []ghlwire.SearchSort{{Field: "dateUpdated", Direction: "asc"}}}
		first, _ := h.search(req)
		req.SearchAfter = first.Contacts[9].SearchAfter
		second, _ := h.search(req)
		if fmt.Sprint(second.Contacts[9].SearchAfter) != fmt.Sprint(req.SearchAfter) {
			t.Fatalf("cursor advanced: %v -> %v", req.SearchAfter, second.Contacts[9].SearchAfter)
		}
	})
}
