package ghl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/internal/secret"
)

// recObserver records observations for assertions.
type recObserver struct {
	mu       sync.Mutex
	requests map[string]int // "op status" -> count
	retries  map[string]int // "op reason" -> count
	states   []string
	expiry   []time.Time
	rate     int
}

func newRecObserver() *recObserver {
	return &recObserver{requests: map[string]int{}, retries: map[string]int{}}
}

func (o *recObserver) ObserveRequest(op string, status int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests[fmt.Sprintf("%s %d", op, status)]++
}
func (o *recObserver) ObserveRateLimit(string, int, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rate++
}
func (o *recObserver) ObserveTokenExpiry(_ string, e time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.expiry = append(o.expiry, e)
}
func (o *recObserver) ObserveRetry(op, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.retries[op+" "+reason]++
}
func (o *recObserver) ObserveBreakerState(_, state string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.states = append(o.states, state)
}
func (o *recObserver) retryCount(key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.retries[key]
}
func (o *recObserver) stateList() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.states...)
}

const testPIT = "pit-test-0000-secret"

// newFakeClient serves h on httptest and returns a client with a static full-scope token,
// fast retries and a secret-checking logger.
func newFakeClient(t *testing.T, h http.Handler, mod ...func(*Options)) (*Client, *recObserver) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	sink := newSecretSink(t)
	sink.Register(testPIT)
	obs := newRecObserver()
	o := Options{
		BaseURL: srv.URL, LocationID: "loc1",
		Credentials:    NewStaticSource("loc1", secret.New(testPIT), []string{"contacts.readonly", "contacts.write"}),
		Retry:          RetryPolicy{Base: time.Millisecond, Cap: 5 * time.Millisecond, MaxAttempts: 3},
		AttemptTimeout: 2 * time.Second,
		Logger:         sink.Logger(), Observer: obs, Version: "test",
	}
	for _, m := range mod {
		m(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, obs
}

func jsonReply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// Acceptance 4: bad server input gives a typed error naming the operation; nothing panics.
func TestBadServerInput(t *testing.T) {
	big := `{"contact":{"id":"c1","notes":"` + strings.Repeat("x", 2<<20) + `"}}`
	cases := []struct {
		name    string
		h       http.HandlerFunc
		want    error
		maxBody int64
	}{
		{"malformed json", jsonReply(200, `{"contact":{"id":"c1",`), ErrDecode, 0},
		{"not an object", jsonReply(200, `[1,2,3]`), ErrDecode, 0},
		{"empty body", jsonReply(200, ``), ErrDecode, 0},
		{"null contact", jsonReply(200, `{"contact":null}`), ErrDecode, 0},
		{"oversized body", jsonReply(200, big), ErrBodyTooLarge, 1 << 20},
		{"wrong content type", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>502 bad gateway</html>")
		}, ErrDecode, 0},
		{"no content type", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			io.WriteString(w, `{"contact":{"id":"c1"}}`)
		}, ErrDecode, 0},
		{"truncated body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "500")
			io.WriteString(w, `{"contact":{"id":"c1","firstName":"Tr`)
		}, ErrDecode, 0},
		{"error status with html body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(404)
			io.WriteString(w, "<html>nope</html>")
		}, ErrNotFound, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newFakeClient(t, tc.h, func(o *Options) { o.MaxBodyBytes = tc.maxBody })
			_, err := c.GetContact(context.Background(), "c1")
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), OpGetContact) {
				t.Fatalf("error does not name the operation: %v", err)
			}
		})
	}
}

func TestLenientDecodingKeepsRaw(t *testing.T) {
	body := `{"contact":{"id":"c1","firstName":"Ann","dnd":"yes","tags":["a"],"futureField":{"x":1},"additionalEmails":[{"email":"b@x.io"}]}}`
	c, _ := newFakeClient(t, jsonReply(200, body))
	ct, err := c.GetContact(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if ct.ID != "c1" || ct.FirstName != "Ann" || len(ct.Tags) != 1 {
		t.Fatalf("decoded %+v", ct)
	}
	if !strings.Contains(string(ct.Raw), `"futureField"`) || !strings.Contains(string(ct.Raw), `"dnd":"yes"`) {
		t.Fatalf("Raw lost fields: %s", ct.Raw)
	}
}

// Each documented status maps to its sentinel, and the message is kept.
func TestErrorMapping(t *testing.T) {
	rl := func(status int, daily string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(ghlwire.HeaderRateLimitDailyRemaining, daily)
			w.Header().Set(ghlwire.HeaderRateLimitRemaining, "0")
			w.Header().Set(ghlwire.HeaderRateLimitMax, "100")
			w.Header().Set(ghlwire.HeaderRateLimitIntervalMillis, "20")
			jsonReply(status, `{"statusCode":429,"message":"Too many requests"}`)(w, r)
		}
	}
	cases := []struct {
		name    string
		h       http.HandlerFunc
		want    error
		notWant error
		msg     string
	}{
		{"404", jsonReply(404, `{"statusCode":404,"message":"Contact not found"}`), ErrNotFound, ErrValidation, "Contact not found"},
		{"400", jsonReply(400, `{"statusCode":400,"message":"Bad Request"}`), ErrValidation, ErrDuplicate, "Bad Request"},
		{"422 array", jsonReply(422, `{"statusCode":422,"message":["email must be an email","phone bad"],"error":"Unprocessable Entity"}`), ErrValidation, ErrNotFound, "email must be an email, phone bad"},
		{"400 duplicate", jsonReply(400, `{"statusCode":400,"message":"This location does not allow duplicated contacts.","meta":{"contactId":"dupe1","matchingField":"email"}}`), ErrDuplicate, ErrValidation, "dupe1"},
		{"401", jsonReply(401, `{"statusCode":401,"message":"Invalid token: access token is invalid","error":"Unauthorized"}`), ErrUnauthorized, ErrScope, "Invalid token"},
		{"401 scope", jsonReply(401, `{"statusCode":401,"message":"The token is not authorized for this scope."}`), ErrScope, ErrUnauthorized, "scope"},
		{"429 burst", rl(429, "150000"), ErrRateLimited, ErrDailyLimit, "burst"},
		{"429 daily", rl(429, "0"), ErrDailyLimit, ErrServer, "daily"},
		{"500", jsonReply(500, `{"statusCode":500,"message":"Internal Server Error"}`), ErrServer, ErrOutcomeUnknown, "500"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newFakeClient(t, tc.h, func(o *Options) { o.MaxRateLimitRetries = 1 })
			_, err := c.GetContact(context.Background(), "c1")
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.notWant != nil && errors.Is(err, tc.notWant) {
				t.Fatalf("err = %v also matches %v", err, tc.notWant)
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Op != OpGetContact {
				t.Fatalf("not an *APIError naming the operation: %#v", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q lacks %q", err, tc.msg)
			}
		})
	}
}

// A 5xx on a create is not retried and says the outcome is unknown; a connection that dies
// after the request was written likewise; a refused dial is retried (nothing was sent).
func TestNonIdempotentRetrySafety(t *testing.T) {
	t.Run("5xx on create", func(t *testing.T) {
		var n atomic.Int32
		c, _ := newFakeClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			jsonReply(503, `{"statusCode":503,"message":"Service Unavailable"}`)(w, r)
		}))
		_, err := c.CreateContact(context.Background(), ghlwire.ContactInput{})
		if !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, ErrServer) || n.Load() != 1 {
			t.Fatalf("err=%v calls=%d", err, n.Load())
		}
	})
	t.Run("connection dropped after write", func(t *testing.T) {
		var n atomic.Int32
		c, _ := newFakeClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			io.ReadAll(r.Body)
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}))
		_, err := c.CreateNote(context.Background(), "c1", ghlwire.NoteInput{Body: ptr("hi")})
		if !errors.Is(err, ErrOutcomeUnknown) || n.Load() != 1 {
			t.Fatalf("err=%v calls=%d", err, n.Load())
		}
		// The same failure on an idempotent call is retried.
		n.Store(0)
		_, err = c.GetNote(context.Background(), "c1", "n1")
		if errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, ErrTransport) || n.Load() != 3 {
			t.Fatalf("get: err=%v calls=%d", err, n.Load())
		}
	})
	t.Run("connection refused is retried", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens: dials are refused
		obs := newRecObserver()
		c, err := New(Options{BaseURL: "http://" + addr, LocationID: "loc1", Credentials: NewStaticSource("loc1", secret.New(testPIT), nil),
			Retry: RetryPolicy{Base: time.Millisecond, Cap: 2 * time.Millisecond, MaxAttempts: 4}, Observer: obs})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.CreateContact(context.Background(), ghlwire.ContactInput{})
		if errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, ErrTransport) {
			t.Fatalf("err = %v", err)
		}
		if got := obs.retryCount(OpCreateContact + " transport"); got != 3 {
			t.Fatalf("retries = %d, want 3", got)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// Acceptance 9 (unit level): a read-only token fails every write before any HTTP call.
func TestReadOnlyFailsFast(t *testing.T) {
	var n atomic.Int32
	c, _ := newFakeClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		jsonReply(200, `{}`)(w, r)
	}), func(o *Options) {
		o.Credentials = NewStaticSource("loc1", secret.New(testPIT), []string{"contacts.readonly"})
	})
	ctx := context.Background()
	writes := map[string]func() error{
		"create":   func() error { _, err := c.CreateContact(ctx, ghlwire.ContactInput{}); return err },
		"update":   func() error { _, err := c.UpdateContact(ctx, "c1", ghlwire.ContactInput{}); return err },
		"delete":   func() error { return c.DeleteContact(ctx, "c1") },
		"upsert":   func() error { _, _, err := c.UpsertContact(ctx, ghlwire.ContactInput{}); return err },
		"addtags":  func() error { _, err := c.AddTags(ctx, "c1", []string{"a"}); return err },
		"rmtags":   func() error { _, err := c.RemoveTags(ctx, "c1", []string{"a"}); return err },
		"task":     func() error { _, err := c.CreateTask(ctx, "c1", ghlwire.TaskInput{}); return err },
		"complete": func() error { _, err := c.SetTaskCompleted(ctx, "c1", "t1", true); return err },
		"note":     func() error { _, err := c.CreateNote(ctx, "c1", ghlwire.NoteInput{}); return err },
		"delnote":  func() error { return c.DeleteNote(ctx, "c1", "n1") },
	}
	for name, f := range writes {
		t.Run(name, func(t *testing.T) {
			err := f()
			if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "read-only: the token grants contacts.readonly only") {
				t.Fatalf("err = %v", err)
			}
		})
	}
	if n.Load() != 0 {
		t.Fatalf("%d HTTP calls were made", n.Load())
	}
	if _, err := c.ListTasks(ctx, "c1"); err != nil || n.Load() != 1 {
		t.Fatalf("reads must still work: %v", err)
	}
}

func TestHeadersOnEveryCall(t *testing.T) {
	var got http.Header
	c, _ := newFakeClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		jsonReply(200, `{"tasks":[]}`)(w, r)
	}))
	if _, err := c.ListTasks(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"Authorization": "Bearer " + testPIT, "Version": "2021-07-28", "Accept": "application/json", "User-Agent": "ptsync/test (+https://github.com/ptsync)"} {
		if got.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, got.Get(k), want)
		}
	}
}
