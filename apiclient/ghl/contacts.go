package ghl

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"ptsync/apiclient/ghlwire"
)

// Operation names (the spec's operationIds), used in errors and metrics.
const (
	OpGetContact          = "get-contact"
	OpGetContacts         = "get-contacts"
	OpContactsByBusiness  = "get-contacts-by-businessId"
	OpCreateContact       = "create-contact"
	OpUpdateContact       = "update-contact"
	OpDeleteContact       = "delete-contact"
	OpUpsertContact       = "upsert-contact"
	OpSearchContacts      = "search-contacts-advanced"
	OpGetDuplicateContact = "get-duplicate-contact"
	OpGetAllTasks         = "get-all-tasks"
	OpGetTask             = "get-task"
	OpCreateTask          = "create-task"
	OpUpdateTask          = "update-task"
	OpUpdateTaskCompleted = "update-task-completed"
	OpDeleteTask          = "delete-task"
	OpGetAllNotes         = "get-all-notes"
	OpGetNote             = "get-note"
	OpCreateNote          = "create-note"
	OpUpdateNote          = "update-note"
	OpDeleteNote          = "delete-note"
	OpGetAppointments     = "get-appointments-for-contact"
	OpAddTags             = "add-tags"
	OpRemoveTags          = "remove-tags"
	// OpGetAccessToken is the OAuth token endpoint (apps/oauth.json), called by OAuthSource.
	OpGetAccessToken = "get-access-token"
)

// Operations lists the operation labels the client reports to its Observer, so the service
// can declare them at start; withOAuth adds the token endpoint an OAuthSource calls.
func Operations(withOAuth bool) []string {
	ops := []string{OpGetContact, OpGetContacts, OpContactsByBusiness, OpCreateContact, OpUpdateContact,
		OpDeleteContact, OpUpsertContact, OpSearchContacts, OpGetDuplicateContact, OpGetAllTasks, OpGetTask,
		OpCreateTask, OpUpdateTask, OpUpdateTaskCompleted, OpDeleteTask, OpGetAllNotes, OpGetNote, OpCreateNote,
		OpUpdateNote, OpDeleteNote, OpGetAppointments, OpAddTags, OpRemoveTags}
	if withOAuth {
		ops = append(ops, OpGetAccessToken)
	}
	return ops
}

func esc(s string) string { return url.PathEscape(s) }

// answerDate is the server's clock in an answer's Date header; zero when absent or unreadable.
func answerDate(h http.Header) time.Time {
	t, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// GetContact returns one contact (GET /contacts/{id}). Raw holds the object as received.
func (c *Client) GetContact(ctx context.Context, id string) (ghlwire.Contact, error) {
	if err := requireID(OpGetContact, "contact id", id); err != nil {
		return ghlwire.Contact{}, err
	}
	r, err := c.do(ctx, call{op: OpGetContact, method: http.MethodGet, path: "/contacts/" + esc(id), idempotent: true})
	if err != nil {
		return ghlwire.Contact{}, err
	}
	var env struct {
		Contact json.RawMessage `json:"contact"`
	}
	if err := decodeInto(OpGetContact, r, &env); err != nil {
		return ghlwire.Contact{}, err
	}
	return decodeContact(OpGetContact, env.Contact)
}

// ListParams selects a page of the deprecated GET /contacts/. Limit is 1..100 (default 100);
// the cursor (StartAfter, StartAfterID) is empty for the first page and otherwise comes from
// ListPage.Next. Both cursor halves are always sent together: HighLevel returns the same page
// again when only startAfter is sent.
type ListParams struct {
	Limit        int
	Query        string
	StartAfter   int64 // epoch ms of the last row's dateAdded
	StartAfterID string
}

// ListResult is one raw page of GET /contacts/.
type ListResult struct {
	Contacts []ghlwire.Contact
	Count    int
	Meta     *ghlwire.ListMeta // nil when the server sent none (the spec omits it)
}

// ListContactsPage fetches one page of GET /contacts/ (deprecated by HighLevel; ptsync uses it
// for full sweeps). Prefer ListPages, which follows and guards the cursor.
func (c *Client) ListContactsPage(ctx context.Context, p ListParams) (ListResult, error) {
	if p.Limit <= 0 || p.Limit > 100 {
		p.Limit = 100
	}
	q := url.Values{"locationId": {c.loc}, "limit": {strconv.Itoa(p.Limit)}}
	if p.Query != "" {
		q.Set("query", p.Query)
	}
	if p.StartAfterID != "" || p.StartAfter != 0 {
		q.Set("startAfter", strconv.FormatInt(p.StartAfter, 10))
		q.Set("startAfterId", p.StartAfterID)
	}
	r, err := c.do(ctx, call{op: OpGetContacts, method: http.MethodGet, path: "/contacts/", query: q, idempotent: true})
	if err != nil {
		return ListResult{}, err
	}
	var env struct {
		Contacts []json.RawMessage `json:"contacts"`
		Count    int               `json:"count"`
		Meta     json.RawMessage   `json:"meta"`
	}
	if err := decodeInto(OpGetContacts, r, &env); err != nil {
		return ListResult{}, err
	}
	out := ListResult{Count: env.Count}
	if len(env.Meta) > 0 && string(env.Meta) != "null" {
		var m ghlwire.ListMeta
		if err := lenient(env.Meta, &m); err != nil {
			return ListResult{}, &OpError{Op: OpGetContacts, Kind: ErrDecode, Detail: "malformed meta", Cause: err}
		}
		out.Meta = &m
	}
	if out.Contacts, err = decodeContacts(OpGetContacts, env.Contacts); err != nil {
		return ListResult{}, err
	}
	return out, nil
}

// BusinessParams page GET /contacts/business/{businessId} (limit/skip are strings on the
// wire; Limit default 25).
type BusinessParams struct {
	Limit, Skip int
	Query       string
}

// ContactsByBusiness lists the contacts of a business; count is the server's total.
func (c *Client) ContactsByBusiness(ctx context.Context, businessID string, p BusinessParams) (contacts []ghlwire.Contact, count int, err error) {
	if err := requireID(OpContactsByBusiness, "business id", businessID); err != nil {
		return nil, 0, err
	}
	q := url.Values{"locationId": {c.loc}}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Skip > 0 {
		q.Set("skip", strconv.Itoa(p.Skip))
	}
	if p.Query != "" {
		q.Set("query", p.Query)
	}
	r, err := c.do(ctx, call{op: OpContactsByBusiness, method: http.MethodGet, path: "/contacts/business/" + esc(businessID), query: q, idempotent: true})
	if err != nil {
		return nil, 0, err
	}
	var env struct {
		Contacts []json.RawMessage `json:"contacts"`
		Count    int               `json:"count"`
	}
	if err := decodeInto(OpContactsByBusiness, r, &env); err != nil {
		return nil, 0, err
	}
	contacts, err = decodeContacts(OpContactsByBusiness, env.Contacts)
	return contacts, env.Count, err
}

// CreateContact creates a contact (POST /contacts/, 201). LocationID defaults to the
// client's. Not idempotent: a failure after the request was sent returns an error matching
// ErrOutcomeUnknown; look the contact up (FindDuplicate) before creating again. A location
// that forbids duplicates answers with an error matching ErrDuplicate naming the existing one.
func (c *Client) CreateContact(ctx context.Context, in ghlwire.ContactInput) (ghlwire.Contact, error) {
	if in.LocationID == "" {
		in.LocationID = c.loc
	}
	in.CreateNewIfDuplicateAllowed = nil
	return c.contactCall(ctx, call{op: OpCreateContact, method: http.MethodPost, path: "/contacts/", body: in, write: true})
}

// UpdateContact updates a contact (PUT /contacts/{id}); nil fields are left alone. Never set
// Tags here (it replaces every tag); use AddTags/RemoveTags. Idempotent, so retried.
// LocationID, Gender and CompanyName are not part of the update body and are dropped.
func (c *Client) UpdateContact(ctx context.Context, id string, in ghlwire.ContactInput) (ghlwire.Contact, error) {
	if err := requireID(OpUpdateContact, "contact id", id); err != nil {
		return ghlwire.Contact{}, err
	}
	in.LocationID, in.Gender, in.CompanyName, in.CreateNewIfDuplicateAllowed = "", nil, nil, nil
	return c.contactCall(ctx, call{op: OpUpdateContact, method: http.MethodPut, path: "/contacts/" + esc(id), body: in, idempotent: true, write: true})
}

// UpdateContactOnce is UpdateContact in a single attempt: a 5xx, 429, timeout or reset is
// returned at once instead of being retried after a backoff (an expired access token is still
// refreshed and the call repeated). It is for a caller that guards the write with a fresh read,
// HighLevel having no conditional update: a write retried seconds later would land against a
// read that is no longer fresh. Such a caller re-reads, then writes again.
func (c *Client) UpdateContactOnce(ctx context.Context, id string, in ghlwire.ContactInput) (ghlwire.Contact, error) {
	if err := requireID(OpUpdateContact, "contact id", id); err != nil {
		return ghlwire.Contact{}, err
	}
	in.LocationID, in.Gender, in.CompanyName, in.CreateNewIfDuplicateAllowed = "", nil, nil, nil
	return c.contactCall(ctx, call{op: OpUpdateContact, method: http.MethodPut, path: "/contacts/" + esc(id), body: in, idempotent: true, write: true, once: true})
}

func (c *Client) contactCall(ctx context.Context, cl call) (ghlwire.Contact, error) {
	r, err := c.do(ctx, cl)
	if err != nil {
		return ghlwire.Contact{}, err
	}
	var env struct {
		Contact json.RawMessage `json:"contact"`
	}
	if err := decodeInto(cl.op, r, &env); err != nil {
		return ghlwire.Contact{}, err
	}
	return decodeContact(cl.op, env.Contact)
}

// DeleteContact deletes a contact (DELETE /contacts/{id}). Retried as idempotent; a 404 on a
// retry after an uncertain attempt counts as success.
func (c *Client) DeleteContact(ctx context.Context, id string) error {
	if err := requireID(OpDeleteContact, "contact id", id); err != nil {
		return err
	}
	return c.succeeded(ctx, call{op: OpDeleteContact, method: http.MethodDelete, path: "/contacts/" + esc(id), idempotent: true, write: true})
}

func (c *Client) succeeded(ctx context.Context, cl call) error {
	r, err := c.do(ctx, cl)
	if err != nil {
		return err
	}
	var out ghlwire.SucceededResponse
	return decodeInto(cl.op, r, &out)
}

// UpsertContact creates or updates by the location's duplicate rules (POST /contacts/upsert);
// created reports whether a new contact was made. Not idempotent in the retry sense.
func (c *Client) UpsertContact(ctx context.Context, in ghlwire.ContactInput) (ct ghlwire.Contact, created bool, err error) {
	if in.LocationID == "" {
		in.LocationID = c.loc
	}
	r, err := c.do(ctx, call{op: OpUpsertContact, method: http.MethodPost, path: "/contacts/upsert", body: in, write: true})
	if err != nil {
		return ghlwire.Contact{}, false, err
	}
	var env struct {
		New     bool            `json:"new"`
		Contact json.RawMessage `json:"contact"`
	}
	if err := decodeInto(OpUpsertContact, r, &env); err != nil {
		return ghlwire.Contact{}, false, err
	}
	ct, err = decodeContact(OpUpsertContact, env.Contact)
	return ct, env.New, err
}

// SearchResult is one page of POST /contacts/search.
type SearchResult struct {
	Contacts []ghlwire.Contact // each with its SearchAfter cursor
	Total    int
	TraceID  string
	// Sent is the client's clock when the request was first sent; Date is HighLevel's clock
	// when it answered (the Date header), zero when the answer carried none. Together they
	// bound what a cursor may claim from this answer (store.NewSignpost).
	Sent, Date time.Time
}

// SearchContacts runs one page of POST /contacts/search (read-only, so retried).
// LocationID defaults to the client's; PageLimit defaults to 100 (max 500).
func (c *Client) SearchContacts(ctx context.Context, req ghlwire.SearchRequest) (SearchResult, error) {
	if req.LocationID == "" {
		req.LocationID = c.loc
	}
	if req.PageLimit <= 0 {
		req.PageLimit = 100
	}
	sent := c.now()
	r, err := c.do(ctx, call{op: OpSearchContacts, method: http.MethodPost, path: "/contacts/search", body: req, idempotent: true})
	if err != nil {
		return SearchResult{}, err
	}
	var env struct {
		Contacts []json.RawMessage `json:"contacts"`
		Total    int               `json:"total"`
		TraceID  string            `json:"traceId"`
	}
	if err := decodeInto(OpSearchContacts, r, &env); err != nil {
		return SearchResult{}, err
	}
	out := SearchResult{Total: env.Total, TraceID: env.TraceID, Sent: sent, Date: answerDate(r.header)}
	out.Contacts, err = decodeContacts(OpSearchContacts, env.Contacts)
	return out, err
}

// FindDuplicate asks which contact the location's duplicate rules match for email and/or
// phone (GET /contacts/search/duplicate). found is false when none matches.
func (c *Client) FindDuplicate(ctx context.Context, email, phone string) (ct ghlwire.Contact, found bool, err error) {
	if email == "" && phone == "" {
		return ghlwire.Contact{}, false, &OpError{Op: OpGetDuplicateContact, Kind: ErrInvalidArgument, Detail: "email and phone are both empty"}
	}
	q := url.Values{"locationId": {c.loc}}
	if email != "" {
		q.Set("email", email)
	}
	if phone != "" {
		q.Set("number", phone)
	}
	r, err := c.do(ctx, call{op: OpGetDuplicateContact, method: http.MethodGet, path: "/contacts/search/duplicate", query: q, idempotent: true})
	if err != nil {
		return ghlwire.Contact{}, false, err
	}
	var env struct {
		Contact json.RawMessage `json:"contact"`
	}
	if err := decodeInto(OpGetDuplicateContact, r, &env); err != nil {
		return ghlwire.Contact{}, false, err
	}
	if len(env.Contact) == 0 || string(env.Contact) == "null" {
		return ghlwire.Contact{}, false, nil
	}
	ct, err = decodeContact(OpGetDuplicateContact, env.Contact)
	return ct, err == nil, err
}

// ListAppointments returns a contact's appointments (GET /contacts/{id}/appointments).
func (c *Client) ListAppointments(ctx context.Context, contactID string) ([]ghlwire.Appointment, error) {
	if err := requireID(OpGetAppointments, "contact id", contactID); err != nil {
		return nil, err
	}
	r, err := c.do(ctx, call{op: OpGetAppointments, method: http.MethodGet, path: "/contacts/" + esc(contactID) + "/appointments", idempotent: true})
	if err != nil {
		return nil, err
	}
	var env struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := decodeInto(OpGetAppointments, r, &env); err != nil {
		return nil, err
	}
	out := make([]ghlwire.Appointment, 0, len(env.Events))
	for _, raw := range env.Events {
		var a ghlwire.Appointment
		if err := lenient(raw, &a); err != nil {
			return nil, &OpError{Op: OpGetAppointments, Kind: ErrDecode, Detail: "malformed appointment", Cause: err}
		}
		a.Raw = append(json.RawMessage(nil), raw...)
		out = append(out, a)
	}
	return out, nil
}

// AddTags adds tags to a contact (POST /contacts/{id}/tags, 201) and returns its tags after
// the change. Treated as non-idempotent (retried only when provably not sent).
func (c *Client) AddTags(ctx context.Context, contactID string, tags []string) ([]string, error) {
	return c.tags(ctx, OpAddTags, http.MethodPost, contactID, tags)
}

// RemoveTags removes tags from a contact (DELETE /contacts/{id}/tags with a JSON body) and
// returns its tags after the change. Idempotent.
func (c *Client) RemoveTags(ctx context.Context, contactID string, tags []string) ([]string, error) {
	return c.tags(ctx, OpRemoveTags, http.MethodDelete, contactID, tags)
}

func (c *Client) tags(ctx context.Context, op, method, contactID string, tags []string) ([]string, error) {
	if err := requireID(op, "contact id", contactID); err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return nil, &OpError{Op: op, Kind: ErrInvalidArgument, Detail: "no tags given"}
	}
	r, err := c.do(ctx, call{op: op, method: method, path: "/contacts/" + esc(contactID) + "/tags",
		body: ghlwire.TagsInput{Tags: tags}, idempotent: method == http.MethodDelete, write: true})
	if err != nil {
		return nil, err
	}
	var out ghlwire.TagsResponse
	if err := decodeInto(op, r, &out); err != nil {
		return nil, err
	}
	return out.Tags, nil
}
