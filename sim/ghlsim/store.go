package ghlsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"ptsync/apiclient/ghlwire"
)

// Sentinel errors of the Go control API; *Error values unwrap to one of them.
var (
	// ErrNotFound: the contact, task or note does not exist.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate: the location does not allow duplicated contacts and the email or phone
	// matches an existing contact (Error.Meta names it).
	ErrDuplicate = errors.New("duplicate contact")
	// ErrInvalid: the input failed validation (HTTP 400 or 422).
	ErrInvalid = errors.New("invalid input")
	// ErrForbidden: the request names another location.
	ErrForbidden = errors.New("forbidden")
)

// Error is an API error as the simulator sends it: the HTTP status and the message(s).
// It unwraps to ErrNotFound, ErrDuplicate, ErrInvalid or ErrForbidden.
type Error struct {
	Status   int
	Messages []string
	Meta     *ghlwire.DuplicateMeta
}

func (e *Error) Error() string {
	return fmt.Sprintf("ghlsim: %d %s", e.Status, strings.Join(e.Messages, ", "))
}

// Unwrap maps the status onto a sentinel.
func (e *Error) Unwrap() error {
	switch {
	case e.Meta != nil:
		return ErrDuplicate
	case e.Status == 404:
		return ErrNotFound
	case e.Status == 403:
		return ErrForbidden
	default:
		return ErrInvalid
	}
}

func errNotFound(what string) *Error {
	return &Error{Status: 404, Messages: []string{what + " not found"}}
}
func errUnprocessable(msgs ...string) *Error {
	return &Error{Status: 422, Messages: msgs}
}
func errBadRequest(msg string) *Error { return &Error{Status: 400, Messages: []string{msg}} }

// snap is one immutable version of a contact. Writes build a new snap; the search index
// keeps old ones until the indexing lag has passed.
type snap struct {
	c              ghlwire.Contact
	added, updated time.Time
}

// version is a snap as the search index sees it from time at on; a nil s is a deletion.
type version struct {
	at time.Time
	s  *snap
}

type taskRec struct {
	t     ghlwire.Task
	added time.Time
}

type contactRec struct {
	cur   *snap
	tasks []*taskRec
	notes []ghlwire.Note
	appts []ghlwire.Appointment
}

// store is the simulator's data; every method expects Server.mu to be held.
type store struct {
	location string
	contacts map[string]*contactRec
	index    map[string][]version
	rng      *rand.Rand
}

func newStore(location string, seed int64) *store {
	return &store{
		location: location,
		contacts: make(map[string]*contactRec),
		index:    make(map[string][]version),
		rng:      rand.New(rand.NewPCG(uint64(seed), 0x5eed)),
	}
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newID returns a 20-character id shaped like HighLevel's.
func (st *store) newID() string {
	b := make([]byte, 20)
	for i := range b {
		b[i] = idAlphabet[st.rng.IntN(len(idAlphabet))]
	}
	return string(b)
}

// CustomFieldID returns the id the simulator gives the custom field with key: a stable
// 20-character id, the same in every simulator instance.
func CustomFieldID(key string) string {
	h := fnv.New64a()
	h.Write([]byte(key))
	return fmt.Sprintf("cf%018x", h.Sum64())[:20]
}

// isoMillis formats t as HighLevel does: "2021-07-02T05:18:26.704Z".
func isoMillis(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// parseTimeValue reads a date given as ISO-8601 text or epoch milliseconds.
func parseTimeValue(v any) (time.Time, bool) {
	switch x := v.(type) {
	case float64:
		return time.UnixMilli(int64(x)).UTC(), true
	case int64:
		return time.UnixMilli(x).UTC(), true
	case int:
		return time.UnixMilli(int64(x)).UTC(), true
	case json.Number:
		n, err := x.Int64()
		return time.UnixMilli(n).UTC(), err == nil
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z07:00", "2006-01-02 15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, x); err == nil {
				return t.UTC(), true
			}
		}
		var n int64
		if _, err := fmt.Sscanf(x, "%d", &n); err == nil && fmt.Sprint(n) == x {
			return time.UnixMilli(n).UTC(), true
		}
	}
	return time.Time{}, false
}

// NormalizePhone returns phone in the E.164 form HighLevel stores: digits with a leading
// "+"; a bare 10-digit number is taken as North American (+1). ok is false when phone has
// fewer than 7 digits.
func NormalizePhone(phone string) (e164 string, ok bool) {
	var d strings.Builder
	for _, c := range phone {
		if c >= '0' && c <= '9' {
			d.WriteRune(c)
		}
	}
	digits := d.String()
	if len(digits) < 7 || len(digits) > 15 {
		return "", false
	}
	if len(digits) == 10 && !strings.HasPrefix(strings.TrimSpace(phone), "+") {
		digits = "1" + digits
	}
	return "+" + digits, true
}

// normalizeTags lower-cases and trims tags and drops empties and repeats, keeping order, as
// HighLevel stores them.
func normalizeTags(in []string) []string {
	out := make([]string, 0, len(in))
	for _, t := range in {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func cloneContact(c ghlwire.Contact) ghlwire.Contact {
	c.Raw = nil
	c.Tags = append([]string{}, c.Tags...)
	c.CustomFields = slices.Clone(c.CustomFields)
	if c.DndSettings != nil {
		m := make(map[string]ghlwire.DndChannel, len(c.DndSettings))
		for k, v := range c.DndSettings {
			m[k] = v
		}
		c.DndSettings = m
	}
	c.SearchAfter = nil
	return c
}

// put makes s the contact's current version and records it for search at time at.
func (st *store) put(id string, s *snap, at time.Time, lag time.Duration) {
	rec := st.contacts[id]
	if rec == nil {
		rec = &contactRec{}
		st.contacts[id] = rec
	}
	rec.cur = s
	st.indexAdd(id, s, at, lag)
}

// indexAdd appends a version and drops the ones nobody can see any more: a version is dead
// once a later version is itself older than the lag.
func (st *store) indexAdd(id string, s *snap, at time.Time, lag time.Duration) {
	vs := append(st.index[id], version{at: at, s: s})
	horizon := at.Add(-lag)
	i := 0
	for i+1 < len(vs) && !vs[i+1].at.After(horizon) {
		i++
	}
	vs = vs[i:]
	if len(vs) == 1 && vs[0].s == nil && !vs[0].at.After(horizon) {
		delete(st.index, id)
		return
	}
	st.index[id] = slices.Clone(vs)
}

// visibleAt returns the contacts search sees at time t.
func (st *store) visibleAt(t time.Time) []*snap {
	out := make([]*snap, 0, len(st.index))
	for _, vs := range st.index {
		var s *snap
		for _, v := range vs {
			if v.at.After(t) {
				break
			}
			s = v.s
		}
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// findDuplicate returns the contact whose email (case-insensitive) or phone matches, and
// which field matched; skip is an id to ignore (the contact being updated).
func (st *store) findDuplicate(email, phone, skip string) (*snap, string) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email != "" {
		for id, rec := range st.contacts {
			if id != skip && rec.cur.c.EmailLowerCase == email {
				return rec.cur, "email"
			}
		}
	}
	if phone != "" {
		for id, rec := range st.contacts {
			if id != skip && rec.cur.c.Phone == phone {
				return rec.cur, "phone"
			}
		}
	}
	return nil, ""
}

// applyInput writes the fields in sets onto c, trimmed and normalized as HighLevel stores
// them; an invalid value is a 422 naming it, and c is then not to be stored.
func applyInput(c *ghlwire.Contact, in ghlwire.ContactInput) *Error {
	var msgs []string
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&c.FirstName, in.FirstName)
	set(&c.LastName, in.LastName)
	set(&c.Address1, in.Address1)
	set(&c.City, in.City)
	set(&c.State, in.State)
	set(&c.PostalCode, in.PostalCode)
	set(&c.Website, in.Website)
	set(&c.Timezone, in.Timezone)
	set(&c.Source, in.Source)
	set(&c.Country, in.Country)
	set(&c.CompanyName, in.CompanyName)
	set(&c.AssignedTo, in.AssignedTo)
	if in.DateOfBirth != nil {
		v := strings.TrimSpace(*in.DateOfBirth)
		if v != "" && !validDOB(v) {
			msgs = append(msgs, "dateOfBirth must be a valid date (YYYY-MM-DD, YYYY/MM/DD, MM/DD/YYYY, ...)")
		}
		c.DateOfBirth = v
	}
	if in.Email != nil {
		v := strings.TrimSpace(*in.Email)
		if v != "" && (!strings.Contains(v, "@") || strings.ContainsAny(v, " \t")) {
			msgs = append(msgs, "email must be an email")
		}
		// HighLevel keeps the address as typed (trimmed) and a lower-case copy for matching.
		c.Email, c.EmailLowerCase = v, strings.ToLower(v)
	}
	if in.Phone != nil {
		v := strings.TrimSpace(*in.Phone)
		if v == "" {
			c.Phone = ""
		} else if p, ok := NormalizePhone(v); ok {
			c.Phone = p
		} else {
			msgs = append(msgs, "phone must be a valid phone number")
		}
	}
	if in.Dnd != nil {
		c.Dnd = *in.Dnd
	}
	if in.Tags != nil {
		c.Tags = normalizeTags(in.Tags)
	}
	msgs = append(msgs, applyCustomFields(c, in.CustomFields)...)
	if len(msgs) > 0 {
		return errUnprocessable(msgs...)
	}
	switch {
	case in.Name != nil && in.FirstName == nil && in.LastName == nil:
		c.Name = strings.TrimSpace(*in.Name)
	case in.FirstName != nil || in.LastName != nil || c.Name == "":
		c.Name = strings.TrimSpace(c.FirstName + " " + c.LastName)
	}
	c.FirstNameLowerCase = strings.ToLower(c.FirstName)
	c.LastNameLowerCase = strings.ToLower(c.LastName)
	c.FullNameLowerCase = strings.ToLower(c.Name)
	return nil
}

// applyCustomFields sets, replaces or (with an empty value) removes c's custom fields by id,
// or by key through CustomFieldID; it returns the messages of the inputs without either.
func applyCustomFields(c *ghlwire.Contact, fields []ghlwire.CustomFieldInput) []string {
	var msgs []string
	for _, f := range fields {
		id := f.ID
		if id == "" && f.Key != "" {
			id = CustomFieldID(f.Key)
		}
		if id == "" {
			msgs = append(msgs, "customFields.id should not be empty")
			continue
		}
		i := slices.IndexFunc(c.CustomFields, func(x ghlwire.CustomField) bool { return x.ID == id })
		empty := f.FieldValue == nil || f.FieldValue == ""
		switch {
		case i >= 0 && empty:
			c.CustomFields = slices.Delete(c.CustomFields, i, i+1)
		case i >= 0:
			c.CustomFields[i].Value = f.FieldValue
		case !empty:
			c.CustomFields = append(c.CustomFields, ghlwire.CustomField{ID: id, Value: f.FieldValue})
		}
	}
	return msgs
}

func validDOB(v string) bool {
	for _, l := range []string{"2006-01-02", "2006/01/02", "01/02/2006", "01-02-2006", "2006.01.02", time.RFC3339} {
		if _, err := time.Parse(l, v); err == nil {
			return true
		}
	}
	return false
}

// bumpTime returns the next dateUpdated for a contact last updated at prev: now, but never
// earlier than prev+1ms. Strictly increasing dateUpdated per contact keeps (id, dateUpdated)
// a faithful change marker even when a fake clock stands still; real writes are rarely closer
// than a millisecond, so this departs from HighLevel only in that corner.
func bumpTime(prev, now time.Time) time.Time {
	now = now.UTC().Truncate(time.Millisecond)
	if !now.After(prev) {
		return prev.Add(time.Millisecond)
	}
	return now
}

// touch returns a copy of rec's contact with dateUpdated moved to now.
func touch(rec *contactRec, now time.Time) *snap {
	ns := &snap{c: cloneContact(rec.cur.c), added: rec.cur.added}
	ns.updated = bumpTime(rec.cur.updated, now)
	ns.c.DateUpdated = isoMillis(ns.updated)
	return ns
}
