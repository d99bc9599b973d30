package ghl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/internal/secret"
)

// cannedTransport answers every request with one scripted response, in memory: the fuzz
// target exercises the client's whole receive path (limiter, breaker, status mapping, body
// cap, decoding) without a listener per input.
type cannedTransport struct {
	status int
	ctype  string
	body   []byte
}

func (c cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	h := http.Header{}
	if c.ctype != "" {
		h.Set("Content-Type", c.ctype)
	}
	return &http.Response{StatusCode: c.status, Header: h, Body: io.NopCloser(bytes.NewReader(c.body)),
		ContentLength: int64(len(c.body)), Request: r}, nil
}

// fuzzOps are the operations whose answers the client decodes, one per response shape.
var fuzzOps = []struct {
	name string
	call func(ctx context.Context, c *Client) (any, error)
}{
	{OpGetContact, func(ctx context.Context, c *Client) (any, error) { return c.GetContact(ctx, "c1") }},
	{OpGetContacts, func(ctx context.Context, c *Client) (any, error) { return c.ListContactsPage(ctx, ListParams{}) }},
	{OpSearchContacts, func(ctx context.Context, c *Client) (any, error) {
		return c.SearchContacts(ctx, ghlwire.SearchRequest{})
	}},
	{OpGetDuplicateContact, func(ctx context.Context, c *Client) (any, error) {
		ct, _, err := c.FindDuplicate(ctx, "a@b.c", "")
		return ct, err
	}},
	{OpCreateContact, func(ctx context.Context, c *Client) (any, error) {
		return c.CreateContact(ctx, ghlwire.ContactInput{Email: new("a@b.c")})
	}},
	{OpUpsertContact, func(ctx context.Context, c *Client) (any, error) {
		ct, _, err := c.UpsertContact(ctx, ghlwire.ContactInput{Email: new("a@b.c")})
		return ct, err
	}},
	{OpGetAllTasks, func(ctx context.Context, c *Client) (any, error) { return c.ListTasks(ctx, "c1") }},
	{OpGetTask, func(ctx context.Context, c *Client) (any, error) { return c.GetTask(ctx, "c1", "t1") }},
	{OpGetAllNotes, func(ctx context.Context, c *Client) (any, error) { return c.ListNotes(ctx, "c1") }},
	{OpGetNote, func(ctx context.Context, c *Client) (any, error) { return c.GetNote(ctx, "c1", "n1") }},
	{OpGetAppointments, func(ctx context.Context, c *Client) (any, error) { return c.ListAppointments(ctx, "c1") }},
	{OpAddTags, func(ctx context.Context, c *Client) (any, error) { return c.AddTags(ctx, "c1", []string{"vip"}) }},
	{OpDeleteContact, func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteContact(ctx, "c1") }},
}

// fuzzStatuses avoid 429 on purpose: a burst 429 makes the limiter hold callers for a real
// interval (tested in limiter_test.go); the decoding of its body is the same as a 400's.
var fuzzStatuses = []int{200, 201, 400, 401, 403, 404, 422, 500, 502, 204, 302}

var fuzzContentTypes = []string{"application/json", "application/json; charset=utf-8", "text/html", "", "application/problem+json", "application/json; charset="}

// FuzzDecodeResponse sends arbitrary bodies (with a chosen status and content type) to each
// operation. Properties: no panic; a 2xx may succeed, anything else fails; every failure is
// an *APIError or *OpError naming the operation and matching one of the package's sentinels;
// records returned keep their raw JSON (valid JSON); and rate-limit headers parse without
// panicking.
func FuzzDecodeResponse(f *testing.F) {
	contact := `{"id":"c1","locationId":"loc1","email":"ann@example.com","firstName":"Ann","tags":["vip"],"dateAdded":"2025-01-02T03:04:05.000Z","dateUpdated":"2025-01-02T03:04:05.000Z","customFields":[{"id":"cf1","value":"x"}]}`
	seeds := []struct {
		op, status, ctype uint8
		body              string
	}{
		{0, 0, 0, `{"contact":` + contact + `}`},
		{1, 0, 0, `{"contacts":[` + contact + `],"count":1,"meta":{"startAfter":1700000000000,"startAfterId":"c1","total":1}}`},
		{2, 0, 1, `{"contacts":[` + strings.Replace(contact, `"id":"c1"`, `"id":"c1","searchAfter":[1700000000000,"c1"]`, 1) + `],"total":1,"traceId":"t"}`},
		{3, 0, 0, `{"contact":null}`},
		{4, 1, 0, `{"contact":` + contact + `}`},
		{5, 0, 0, `{"new":true,"contact":` + contact + `,"traceId":"t"}`},
		{6, 0, 0, `{"tasks":[{"id":"t1","title":"Call","dueDate":"2025-01-02T03:04:05Z","completed":false,"contactId":"c1"}]}`},
		{7, 0, 0, `{"task":{"id":"t1","title":"Call","completed":"yes"}}`},
		{8, 0, 0, `{"notes":[{"id":"n1","body":"hello","dateAdded":"2025-01-02T03:04:05Z"}]}`},
		{9, 0, 0, `{"note":{"id":"n1","body":"hello"}}`},
		{10, 0, 0, `{"events":[{"id":"a1","calendarId":"cal","startTime":"2025-01-02 10:00:00","appointmentStatus":"confirmed"}]}`},
		{11, 1, 0, `{"tags":["vip","lead"]}`},
		{12, 0, 0, `{"succeded":true}`},
		{0, 2, 0, `{"statusCode":400,"message":"This location does not allow duplicated contacts.","meta":{"contactId":"c9","matchingField":"email"}}`},
		{0, 6, 0, `{"statusCode":422,"message":["email must be an email","phone must be a string"],"error":"Unprocessable Entity"}`},
		{0, 3, 0, `{"statusCode":401,"message":"The token is not authorized for this scope."}`},
		{0, 5, 2, `<html>not found</html>`},
		{1, 7, 0, `{"message":"Internal server error","traceId":"abc"}`},
		{0, 0, 0, `{"contact":{"id":1,"tags":"vip","email":["x"]}}`},
		{1, 0, 0, `{"contacts":{"id":"c1"}}`},
		{6, 0, 0, `{"tasks":"none"}`},
		{0, 0, 3, `{"contact":` + contact},
		{0, 9, 0, ``},
	}
	for _, s := range seeds {
		f.Add(s.op, s.status, s.ctype, []byte(s.body), "100", "10000", "99", "200000", "199999")
	}
	f.Fuzz(func(t *testing.T, opSel, statusSel, ctypeSel uint8, body []byte, hMax, hInterval, hRemaining, hDaily, hDailyRemaining string) {
		h := http.Header{}
		h.Set(ghlwire.HeaderRateLimitMax, hMax)
		h.Set(ghlwire.HeaderRateLimitIntervalMillis, hInterval)
		h.Set(ghlwire.HeaderRateLimitRemaining, hRemaining)
		h.Set(ghlwire.HeaderRateLimitDaily, hDaily)
		h.Set(ghlwire.HeaderRateLimitDailyRemaining, hDailyRemaining)
		_, _ = ParseRateLimit(h)

		op := fuzzOps[int(opSel)%len(fuzzOps)]
		status := fuzzStatuses[int(statusSel)%len(fuzzStatuses)]
		tr := cannedTransport{status: status, ctype: fuzzContentTypes[int(ctypeSel)%len(fuzzContentTypes)], body: body}
		c, err := New(Options{BaseURL: "http://ghl.invalid", LocationID: "loc1",
			Credentials: NewStaticSource("loc1", secret.New("fuzz-access-token"), []string{"contacts.readonly", "contacts.write"}),
			Transport:   tr, Retry: RetryPolicy{Base: time.Microsecond, Cap: time.Microsecond, MaxAttempts: 1},
			MaxBodyBytes: 1 << 16})
		if err != nil {
			t.Fatal(err)
		}
		got, err := op.call(context.Background(), c)
		if err == nil {
			if status < 200 || status > 299 {
				t.Fatalf("%s: status %d accepted as success", op.name, status)
			}
			checkRaw(t, op.name, got)
			return
		}
		var apiErr *APIError
		var opErr *OpError
		if !errors.As(err, &apiErr) && !errors.As(err, &opErr) {
			t.Fatalf("%s: error is untyped (%T): %v", op.name, err, err)
		}
		if !strings.Contains(err.Error(), op.name) {
			t.Fatalf("%s: error does not name the operation: %v", op.name, err)
		}
		matched := false
		for _, s := range []error{ErrNotFound, ErrValidation, ErrUnauthorized, ErrScope, ErrDuplicate, ErrServer,
			ErrDecode, ErrBodyTooLarge, ErrOutcomeUnknown, ErrInvalidArgument, ErrBreakerOpen, ErrTransport} {
			matched = matched || errors.Is(err, s)
		}
		if apiErr != nil && apiErr.Status == status {
			matched = true // e.g. a 302 or 204 error answer: typed by its status
		}
		if !matched {
			t.Fatalf("%s: status %d error matches no sentinel: %v", op.name, status, err)
		}
	})
}

// checkRaw asserts that every record returned keeps its raw JSON.
func checkRaw(t *testing.T, op string, v any) {
	t.Helper()
	raws := func(r json.RawMessage) {
		if !json.Valid(r) {
			t.Fatalf("%s: record kept invalid raw JSON %q", op, r)
		}
	}
	switch x := v.(type) {
	case ghlwire.Contact:
		if x.Raw != nil {
			raws(x.Raw)
		}
	case ListResult:
		for _, c := range x.Contacts {
			raws(c.Raw)
		}
	case SearchResult:
		for _, c := range x.Contacts {
			raws(c.Raw)
		}
	case []ghlwire.Task:
		for _, c := range x {
			raws(c.Raw)
		}
	case ghlwire.Task:
		raws(x.Raw)
	case []ghlwire.Note:
		for _, c := range x {
			raws(c.Raw)
		}
	case ghlwire.Note:
		raws(x.Raw)
	case []ghlwire.Appointment:
		for _, c := range x {
			raws(c.Raw)
		}
	}
}
