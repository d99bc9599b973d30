package ghl

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"ptsync/internal/secret"
	"ptsync/sim/ghlsim"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// tokenRequests counts what the simulator's token endpoint was asked: grants and refusals.
func tokenRequests(sim *ghlsim.Server) int64 {
	c := sim.Counters()
	return c.Refreshes + c.TokenRefused
}

// TestClientRejectedIsHeldWithBackoff: with a client secret HighLevel refuses
// (invalid_client), an API call every second for 15 minutes asks the token endpoint 5 times
// (backoff 30 s doubling: at 0, 30, 90, 210 and 450 s), not once per call, and every call
// fails with ErrClientRejected at once.
func TestClientRejectedIsHeldWithBackoff(t *testing.T) {
	env := newSimEnv(t, ghlsim.Options{Seed: 3}, nil)
	ids := env.sim.Seed(1)
	clock := &fakeClock{now: time.Now().Add(48 * time.Hour)} // the stored access token has expired
	env.src.opts.Clock = clock.Now
	env.src.opts.ClientSecret = secret.New("not-the-client-secret")
	env.sink.Register("not-the-client-secret")
	ctx := context.Background()
	before := tokenRequests(env.sim)
	for range 900 {
		_, err := env.client.GetContact(ctx, ids[0])
		if !errors.Is(err, ErrClientRejected) || !strings.Contains(err.Error(), "client_secret") {
			t.Fatalf("call with a rejected client: %v", err)
		}
		clock.Add(time.Second)
	}
	calls := tokenRequests(env.sim) - before
	t.Logf("token endpoint calls in 15 min of one API call per second: %d", calls)
	if calls != 5 {
		t.Errorf("token endpoint asked %d times in 900 calls, want 5 (backoff 30 s doubling)", calls)
	}
	if n := strings.Count(env.sink.buf.String(), "client credentials rejected"); n != 5 {
		t.Errorf("%d log lines about the rejection, want one per attempt (5)", n)
	}
}

// unauthorizedTransport sends every API request to the simulator with a token it does not
// know, so each answer is the simulator's own 401, whatever token the source handed out: a
// refusal a refresh cannot cure (the app removed from the location, say). The token endpoint
// is not behind it: the source has its own HTTP client.
type unauthorizedTransport struct{}

func (unauthorizedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer at-that-was-revoked")
	return http.DefaultTransport.RoundTrip(r)
}

// TestUncuredUnauthorizedHoldsRefreshes: when the token a 401 made the source fetch is
// refused too, further 401s do not spend a refresh each: in 15 minutes of one call per
// second the token endpoint is asked 5 times (at 0, 31, 92, 213 and 454 s), and every call
// fails with ErrUnauthorized.
func TestUncuredUnauthorizedHoldsRefreshes(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	env := newSimEnv(t, ghlsim.Options{Seed: 3}, nil, func(o *Options) { o.Transport, o.Clock = unauthorizedTransport{}, clock.Now })
	env.src.opts.Clock = clock.Now
	ctx := context.Background()
	before := tokenRequests(env.sim)
	for range 900 {
		_, err := env.client.GetContact(ctx, "c-1")
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("call with a refused token: %v", err)
		}
		clock.Add(time.Second)
	}
	calls := tokenRequests(env.sim) - before
	t.Logf("token endpoint calls in 15 min of one 401 per second: %d", calls)
	if calls != 5 {
		t.Errorf("token endpoint asked %d times in 900 calls, want 5", calls)
	}
	if n := strings.Count(env.sink.buf.String(), "refreshed token refused too"); n != 5 {
		t.Errorf("%d log lines about the uncured refusal, want one per hold (5)", n)
	}
}

// TestExpiringTokensStillRefresh: tokens that die after 20 calls each (a refresh cures
// every 401) are refreshed every time, however many: the hold is only for a token refused
// at once after its refresh.
func TestExpiringTokensStillRefresh(t *testing.T) {
	env := newSimEnv(t, ghlsim.Options{Seed: 3}, nil)
	ids := env.sim.Seed(1)
	env.sim.ExpireEvery(20)
	ctx := context.Background()
	before := env.sim.Counters().Refreshes
	for i := range 200 {
		if _, err := env.client.GetContact(ctx, ids[0]); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := env.sim.Counters().Refreshes - before; n < 9 {
		t.Errorf("%d refreshes for 200 calls with tokens living 20 calls, want about 10", n)
	}
}
