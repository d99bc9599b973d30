package ghlsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
)

// fakeClock is a settable clock for deterministic dates and expiries.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is a simulator on a real loopback listener with a full-scope token.
type harness struct {
	t     *testing.T
	sim   *Server
	base  string
	token string
	clock *fakeClock
}

func newHarness(t *testing.T, o Options) *harness {
	t.Helper()
	clock := newClock()
	if o.Now == nil {
		o.Now = clock.Now
	}
	if o.Limits == (Limits{}) {
		o.Limits.Disabled = true
	}
	s := New(o)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &harness{t: t, sim: s, base: base, token: s.IssuePIT(), clock: clock}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("cannot decode %s: %v", r.body, err)
	}
}

func (r resp) errBody(t *testing.T) ghlwire.ErrorBody {
	t.Helper()
	var e ghlwire.ErrorBody
	r.decode(t, &e)
	return e
}

// call sends a request with the harness token and the Version header; hdr overrides.
func (h *harness) call(method, path string, body any, hdr ...string) resp {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Version", ghlwire.APIVersion)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: data}
}

func ptr[T any](v T) *T { return &v }

func (h *harness) create(in ghlwire.ContactInput) ghlwire.Contact {
	h.t.Helper()
	in.LocationID = h.sim.LocationID()
	r := h.call("POST", "/contacts/", in)
	if r.status != 201 {
		h.t.Fatalf("create: %d %s", r.status, r.body)
	}
	var out ghlwire.ContactResponse
	r.decode(h.t, &out)
	return out.Contact
}
