package ptd_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/internal/secret"
	"ptsync/metrics"
	"ptsync/sim/ptdsim"
)

func sp(s string) *string { return &s }
func bp(b bool) *bool     { return &b }

// sleeps records the waits the driver asked for instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func (s *sleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

type env struct {
	sim    *ptdsim.Sim
	srv    *httptest.Server
	rest   *ptd.REST
	sleeps *sleeps
	reg    *prometheus.Registry
}

func newEnv(t *testing.T, simOpts ptdsim.Options, mod func(*ptd.RESTOptions)) *env {
	t.Helper()
	if simOpts.APIKey == "" {
		simOpts.APIKey = "test-key-123"
	}
	e := &env{sim: ptdsim.New(simOpts), sleeps: &sleeps{}, reg: prometheus.NewRegistry()}
	e.srv = httptest.NewServer(e.sim.Handler())
	t.Cleanup(e.srv.Close)
	o := ptd.RESTOptions{BaseURL: e.srv.URL, APIKey: secret.New(simOpts.APIKey), Sleep: e.sleeps.sleep,
		Observer: metrics.New(e.reg).PTDObserver()}
	if mod != nil {
		mod(&o)
	}
	r, err := ptd.NewREST(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	e.rest = r
	return e
}

func (e *env) client(t *testing.T, email string) ptdwire.Client {
	t.Helper()
	c, err := e.sim.CreateClient(ptdwire.ClientInput{Email: sp(email), FirstName: sp("Pat"), LastName: sp("Doe")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRESTClientOperations(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, ptdsim.Options{}, nil)
	g := e.sim.AddGroup("Online Coaching")
	p := e.sim.AddPackage("Starter")

	created, err := e.rest.CreateClient(ctx, ptdwire.ClientInput{Email: sp("  Jane.Doe@Example.COM "), FirstName: sp("Jane"),
		Phone: sp("+15550101234"), Access: sp(ptdwire.AccessOnline)})
	if err != nil {
		t.Fatal(err)
	}
	id := created.ID

	tests := []struct {
		name  string
		run   func() (ptdwire.Client, error)
		check func(t *testing.T, c ptdwire.Client)
	}{
		{"create normalizes email and sets etag", func() (ptdwire.Client, error) { return created, nil }, func(t *testing.T, c ptdwire.Client) {
			if c.Email != "jane.doe@example.com" || c.ETag == "" || c.UpdatedAt == "" {
				t.Fatalf("created = %+v", c)
			}
		}},
		{"get returns the header etag", func() (ptdwire.Client, error) { return e.rest.GetClient(ctx, id) }, func(t *testing.T, c ptdwire.Client) {
			if c.ETag != created.ETag || c.FirstName != "Jane" {
				t.Fatalf("get = %+v, want etag %s", c, created.ETag)
			}
		}},
		{"find by email ignores case and white space", func() (ptdwire.Client, error) {
			c, err := e.rest.FindClientByEmail(ctx, "\tJANE.doe@example.com ")
			if c == nil {
				return ptdwire.Client{}, fmt.Errorf("not found (err %v)", err)
			}
			return *c, err
		}, func(t *testing.T, c ptdwire.Client) {
			if c.ID != id {
				t.Fatalf("found %s, want %s", c.ID, id)
			}
		}},
		{"update with the current etag", func() (ptdwire.Client, error) {
			cur, err := e.rest.GetClient(ctx, id)
			if err != nil {
				return cur, err
			}
			return e.rest.UpdateClient(ctx, id, cur.ETag, ptdwire.ClientInput{LastName: sp("Doe"), Phone: sp("")})
		}, func(t *testing.T, c ptdwire.Client) {
			if c.LastName != "Doe" || c.Phone != "" || c.ETag == created.ETag {
				t.Fatalf("updated = %+v", c)
			}
		}},
		{"add tags twice is one change", func() (ptdwire.Client, error) {
			if _, err := e.rest.AddTags(ctx, id, []string{"vip", "lead"}); err != nil {
				return ptdwire.Client{}, err
			}
			return e.rest.AddTags(ctx, id, []string{"VIP"})
		}, func(t *testing.T, c ptdwire.Client) {
			if len(c.Tags) != 2 {
				t.Fatalf("tags = %v", c.Tags)
			}
		}},
		{"remove tags", func() (ptdwire.Client, error) { return e.rest.RemoveTags(ctx, id, []string{"lead", "absent"}) }, func(t *testing.T, c ptdwire.Client) {
			if len(c.Tags) != 1 || c.Tags[0] != "vip" {
				t.Fatalf("tags = %v", c.Tags)
			}
		}},
		{"group, package and access", func() (ptdwire.Client, error) {
			for _, err := range []error{
				e.rest.AddToGroup(ctx, id, g.ID), e.rest.AddToGroup(ctx, id, g.ID),
				e.rest.AssignPackage(ctx, id, p.ID), e.rest.SetAccess(ctx, id, ptdwire.AccessPrintOnly),
			} {
				if err != nil {
					return ptdwire.Client{}, err
				}
			}
			return e.rest.GetClient(ctx, id)
		}, func(t *testing.T, c ptdwire.Client) {
			if len(c.Groups) != 1 || c.Groups[0] != g.ID || len(c.Packages) != 1 || c.Access != ptdwire.AccessPrintOnly {
				t.Fatalf("client = %+v", c)
			}
		}},
		{"remove from group", func() (ptdwire.Client, error) {
			if err := e.rest.RemoveFromGroup(ctx, id, g.ID); err != nil {
				return ptdwire.Client{}, err
			}
			return e.rest.GetClient(ctx, id)
		}, func(t *testing.T, c ptdwire.Client) {
			if len(c.Groups) != 0 {
				t.Fatalf("groups = %v", c.Groups)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.run()
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
	t.Run("find absent is nil nil", func(t *testing.T) {
		c, err := e.rest.FindClientByEmail(ctx, "nobody@example.com")
		if c != nil || err != nil {
			t.Fatalf("got %v, %v", c, err)
		}
	})
	t.Run("catalogue", func(t *testing.T) {
		gs, err := e.rest.ListGroups(ctx)
		if err != nil || len(gs) != 1 || gs[0] != g {
			t.Fatalf("groups = %v, %v", gs, err)
		}
		ps, err := e.rest.ListPackages(ctx)
		if err != nil || len(ps) != 1 || ps[0] != p {
			t.Fatalf("packages = %v, %v", ps, err)
		}
	})
}

func TestRESTErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name         string
		setup        func(e *env) // faults etc.
		call         func(e *env, c ptdwire.Client) error
		want         error
		wantAttempts int64 // requests counted by the simulator for the call
		wantSleeps   []time.Duration
		check        func(t *testing.T, e *env, err error, c ptdwire.Client)
	}{
		{name: "401 wrong key", call: func(e *env, c ptdwire.Client) error {
			bad, err := ptd.NewREST(ptd.RESTOptions{BaseURL: e.srv.URL, APIKey: secret.New("wrong"), Capabilities: ptr(e.rest.Capabilities())})
			if err != nil {
				return err
			}
			_, err = bad.GetClient(ctx, c.ID)
			return err
		}, want: ptd.ErrUnauthorized, wantAttempts: 1},
		{name: "404 unknown client", call: func(e *env, _ ptdwire.Client) error {
			_, err := e.rest.GetClient(ctx, "cl_nope")
			return err
		}, want: ptd.ErrNotFound, wantAttempts: 1},
		{name: "404 unknown group", call: func(e *env, c ptdwire.Client) error {
			return e.rest.AddToGroup(ctx, c.ID, "gr_nope")
		}, want: ptd.ErrNotFound, wantAttempts: 1},
		{name: "409 duplicate email carries existingId", call: func(e *env, _ ptdwire.Client) error {
			_, err := e.rest.CreateClient(ctx, ptdwire.ClientInput{Email: sp(" PAT@example.com"), FirstName: sp("Pat")})
			return err
		}, want: ptd.ErrExists, wantAttempts: 1, check: func(t *testing.T, _ *env, err error, c ptdwire.Client) {
			if id, ok := ptd.ExistingID(err); !ok || id != c.ID {
				t.Fatalf("ExistingID = %q, %v; want %q", id, ok, c.ID)
			}
		}},
		{name: "409 update to a taken email", call: func(e *env, c ptdwire.Client) error {
			other, err := e.sim.CreateClient(ptdwire.ClientInput{Email: sp("other@example.com"), FirstName: sp("O")})
			if err != nil {
				return err
			}
			_, err = e.rest.UpdateClient(ctx, other.ID, other.ETag, ptdwire.ClientInput{Email: sp("Pat@Example.com")})
			return err
		}, want: ptd.ErrExists, wantAttempts: 1},
		{name: "412 lost race", call: func(e *env, c ptdwire.Client) error {
			if _, err := e.sim.EditClient(c.ID, ptdwire.ClientInput{LastName: sp("Coach-Edited")}); err != nil {
				return err
			}
			_, err := e.rest.UpdateClient(ctx, c.ID, c.ETag, ptdwire.ClientInput{LastName: sp("Mine")})
			return err
		}, want: ptd.ErrPreconditionFailed, wantAttempts: 1, check: func(t *testing.T, e *env, _ error, c ptdwire.Client) {
			if got, _ := e.sim.Client(c.ID); got.LastName != "Coach-Edited" {
				t.Fatalf("lost race overwrote the coach's edit: %q", got.LastName)
			}
		}},
		{name: "428 without If-Match", call: func(e *env, c ptdwire.Client) error {
			_, err := e.rest.UpdateClient(ctx, c.ID, "", ptdwire.ClientInput{LastName: sp("X")})
			return err
		}, want: ptd.ErrPreconditionRequired, wantAttempts: 1},
		{name: "400 invalid email", call: func(e *env, _ ptdwire.Client) error {
			_, err := e.rest.CreateClient(ctx, ptdwire.ClientInput{Email: sp("not an email"), FirstName: sp("X")})
			return err
		}, want: ptd.ErrBadRequest, wantAttempts: 1},
		{name: "429 with Retry-After is retried after that wait",
			setup: func(e *env) { e.sim.FailNext(2, 429, 3*time.Second) },
			call: func(e *env, c ptdwire.Client) error {
				_, err := e.rest.GetClient(ctx, c.ID)
				return err
			}, wantAttempts: 3, wantSleeps: []time.Duration{3 * time.Second, 3 * time.Second}},
		{name: "429 on a create is retried (nothing happened)",
			setup: func(e *env) { e.sim.FailNext(1, 429, time.Second) },
			call: func(e *env, _ ptdwire.Client) error {
				_, err := e.rest.CreateClient(ctx, ptdwire.ClientInput{Email: sp("new@example.com"), FirstName: sp("N")})
				return err
			}, wantAttempts: 2, wantSleeps: []time.Duration{time.Second}},
		{name: "429 with a Retry-After beyond the maximum fails at once",
			setup: func(e *env) { e.sim.FailNext(1, 429, time.Hour) },
			call: func(e *env, c ptdwire.Client) error {
				_, err := e.rest.GetClient(ctx, c.ID)
				return err
			}, want: ptd.ErrRateLimited, wantAttempts: 1, check: func(t *testing.T, _ *env, err error, _ ptdwire.Client) {
				var ae *ptd.APIError
				if !errors.As(err, &ae) || ae.RetryAfter != time.Hour {
					t.Fatalf("APIError.RetryAfter not reported: %v", err)
				}
			}},
		{name: "503 on a get is retried with jitter",
			setup: func(e *env) { e.sim.FailNext(2, 503, 0) },
			call: func(e *env, c ptdwire.Client) error {
				_, err := e.rest.GetClient(ctx, c.ID)
				return err
			}, wantAttempts: 3, check: func(t *testing.T, e *env, _ error, _ ptdwire.Client) {
				s := e.sleeps.got()
				if len(s) != 2 || s[0] > 250*time.Millisecond || s[1] > 500*time.Millisecond {
					t.Fatalf("backoff sleeps = %v, want 2 within the full-jitter ceilings", s)
				}
				want := `
# HELP ptsync_api_retries_total Upstream API request retries, by the reason for the retry.
# TYPE ptsync_api_retries_total counter
ptsync_api_retries_total{operation="get-client",reason="server_error",upstream="ptd"} 2
`
				if err := testutil.GatherAndCompare(e.reg, strings.NewReader(want), "ptsync_api_retries_total"); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "503 on a create is not retried",
			setup: func(e *env) { e.sim.FailNext(1, 503, 0) },
			call: func(e *env, _ ptdwire.Client) error {
				_, err := e.rest.CreateClient(ctx, ptdwire.ClientInput{Email: sp("new2@example.com"), FirstName: sp("N")})
				return err
			}, want: ptd.ErrServer, wantAttempts: 1},
		{name: "persistent 500 gives up after the retries",
			setup: func(e *env) { e.sim.FailNext(10, 500, 0) },
			call: func(e *env, c ptdwire.Client) error {
				_, err := e.rest.ListTasks(ctx, c.ID)
				return err
			}, want: ptd.ErrServer, wantAttempts: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, ptdsim.Options{}, nil)
			c := e.client(t, "pat@example.com")
			if tc.setup != nil {
				tc.setup(e)
			}
			e.sim.ResetStats()
			err := tc.call(e, c)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			st := e.sim.Stats()
			if tc.wantAttempts != 0 && st.TotalRequests != tc.wantAttempts {
				t.Fatalf("requests = %d (%v), want %d", st.TotalRequests, st.Requests, tc.wantAttempts)
			}
			if tc.wantSleeps != nil && fmt.Sprint(e.sleeps.got()) != fmt.Sprint(tc.wantSleeps) {
				t.Fatalf("sleeps = %v, want %v", e.sleeps.got(), tc.wantSleeps)
			}
			if tc.check != nil {
				tc.check(t, e, err, c)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
