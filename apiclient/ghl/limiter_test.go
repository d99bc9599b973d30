package ghl

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
)

// slidingServer enforces max requests per interval by ARRIVAL time, like the simulator, and
// answers 429 with HighLevel's headers beyond it.
type slidingServer struct {
	mu       sync.Mutex
	max      int
	interval time.Duration
	hits     []time.Time
	ok, r429 int
}

func (s *slidingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	now := time.Now()
	cut := now.Add(-s.interval)
	i := 0
	for i < len(s.hits) && !s.hits[i].After(cut) {
		i++
	}
	s.hits = s.hits[i:]
	limited := len(s.hits) >= s.max
	if !limited {
		s.hits = append(s.hits, now)
		s.ok++
	} else {
		s.r429++
	}
	h := w.Header()
	h.Set(ghlwire.HeaderRateLimitMax, strconv.Itoa(s.max))
	h.Set(ghlwire.HeaderRateLimitIntervalMillis, strconv.FormatInt(s.interval.Milliseconds(), 10))
	h.Set(ghlwire.HeaderRateLimitRemaining, strconv.Itoa(s.max-len(s.hits)))
	h.Set(ghlwire.HeaderRateLimitDaily, "200000")
	h.Set(ghlwire.HeaderRateLimitDailyRemaining, "150000")
	s.mu.Unlock()
	if limited {
		jsonReply(429, `{"statusCode":429,"message":"Too many requests"}`)(w, r)
		return
	}
	jsonReply(200, `{"tasks":[]}`)(w, r)
}

func TestLimiterNeverExceedsSlidingWindow(t *testing.T) {
	cases := []struct {
		name          string
		max, workers  int
		interval      time.Duration
		requests      int
		localMax      int // the client's configured shape before headers correct it
		localInterval time.Duration
	}{
		{"sequential", 20, 1, 100 * time.Millisecond, 100, 20, 100 * time.Millisecond},
		{"concurrent", 20, 16, 100 * time.Millisecond, 200, 20, 100 * time.Millisecond},
		{"shape learned from headers", 15, 8, 100 * time.Millisecond, 120, 100, 10 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := &slidingServer{max: tc.max, interval: tc.interval}
			lim := NewLimiter(LimiterOptions{Location: "loc1", Max: tc.localMax, Interval: tc.localInterval})
			c, _ := newFakeClient(t, srv, func(o *Options) { o.Limiter = lim; o.MaxRateLimitRetries = 50 })
			var next atomic.Int32
			var wg sync.WaitGroup
			for range tc.workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int32(tc.requests) {
						if _, err := c.ListTasks(context.Background(), "c1"); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if srv.ok != tc.requests {
				t.Fatalf("server accepted %d of %d", srv.ok, tc.requests)
			}
			// The first request goes alone and its headers correct a wrong initial shape.
			if srv.r429 != 0 {
				t.Fatalf("server answered 429 %d times", srv.r429)
			}
			t.Logf("%d requests, %d x 429", srv.ok, srv.r429)
		})
	}
}

// A limiter that starts while the server's window is already spent (this service before a
// restart, or another client) learns it from its first answer: at most one 429, not one per
// worker, and every request still goes through.
func TestLimiterStartsIntoASpentWindow(t *testing.T) {
	for _, spent := range []int{10, 20} {
		t.Run(strconv.Itoa(spent)+" of 20 spent", func(t *testing.T) {
			srv := &slidingServer{max: 20, interval: 200 * time.Millisecond}
			for range spent {
				srv.hits = append(srv.hits, time.Now())
			}
			lim := NewLimiter(LimiterOptions{Location: "loc1", Max: 20, Interval: 200 * time.Millisecond})
			c, _ := newFakeClient(t, srv, func(o *Options) { o.Limiter = lim; o.MaxRateLimitRetries = 50 })
			var wg sync.WaitGroup
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 3 {
						if _, err := c.ListTasks(context.Background(), "c1"); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()
			if srv.ok != 48 || srv.r429 > 1 {
				t.Fatalf("%d accepted, %d x 429; want 48 and at most one 429", srv.ok, srv.r429)
			}
		})
	}
}

func TestLimiterDailyShare(t *testing.T) {
	lim := NewLimiter(LimiterOptions{Location: "loc1", Max: 1000, DailyCap: 10, DailyShare: 0.5})
	ctx := context.Background()
	for i := range 5 {
		p, err := lim.Acquire(ctx, "op")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		p.Done(nil, 200)
	}
	_, err := lim.Acquire(ctx, "get-contact")
	var dle *DailyLimitError
	if !errors.Is(err, ErrDailyLimit) || !errors.Is(err, ErrRateLimited) || !errors.As(err, &dle) || dle.ResetAt.IsZero() {
		t.Fatalf("err = %v", err)
	}
	// The server's daily remaining counts too (another client spent most of the day).
	lim2 := NewLimiter(LimiterOptions{Location: "loc1", Max: 1000})
	p, _ := lim2.Acquire(ctx, "op")
	h := http.Header{}
	h.Set(ghlwire.HeaderRateLimitDaily, "1000")
	h.Set(ghlwire.HeaderRateLimitDailyRemaining, "50")
	h.Set(ghlwire.HeaderRateLimitDailyReset, "60000")
	p.Done(h, 200)
	if _, err := lim2.Acquire(ctx, "op"); !errors.Is(err, ErrDailyLimit) {
		t.Fatalf("950 of 1000 used with share 0.9: err = %v", err)
	}
	if snap := lim2.Snapshot(); snap.DailyCap != 1000 || snap.DailyBudget != 900 || time.Until(snap.DailyResetAt) > time.Minute {
		t.Fatalf("snapshot %+v", snap)
	}
}

func TestLimiterCancelReturnsSlot(t *testing.T) {
	lim := NewLimiter(LimiterOptions{Max: 1, Interval: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	p, err := lim.Acquire(ctx, "op")
	if err != nil {
		t.Fatal(err)
	}
	p.Cancel()
	p.Done(nil, 200) // no effect after Cancel
	if _, err := lim.Acquire(ctx, "op"); err != nil {
		t.Fatalf("slot not returned: %v", err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := lim.Acquire(short, "op"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a full limiter must wait: %v", err)
	}
}

func TestRetryDelaysJitteredAndBounded(t *testing.T) {
	base, ceiling := 10*time.Millisecond, 200*time.Millisecond
	t.Run("max jitter is the exponential ceiling", func(t *testing.T) {
		p := RetryPolicy{Base: base, Cap: ceiling, Jitter: func(n int64) int64 { return n - 1 }}
		want := []time.Duration{10, 20, 40, 80, 160, 200, 200}
		for i, w := range want {
			if d := p.Delay(i + 1); d != w*time.Millisecond {
				t.Errorf("Delay(%d) = %v, want %v", i+1, d, w*time.Millisecond)
			}
		}
		if d := p.Delay(500); d != ceiling {
			t.Errorf("Delay(500) = %v (overflow?)", d)
		}
	})
	t.Run("zero jitter", func(t *testing.T) {
		p := RetryPolicy{Base: base, Cap: ceiling, Jitter: func(int64) int64 { return 0 }}
		if d := p.Delay(4); d != 0 {
			t.Errorf("Delay = %v", d)
		}
	})
	t.Run("default source spreads delays within bounds", func(t *testing.T) {
		p := RetryPolicy{Base: base, Cap: ceiling}
		seen := map[time.Duration]bool{}
		for range 200 {
			d := p.Delay(3)
			if d < 0 || d > 40*time.Millisecond {
				t.Fatalf("Delay(3) = %v outside [0, 40ms]", d)
			}
			seen[d] = true
		}
		if len(seen) < 50 {
			t.Fatalf("only %d distinct delays in 200 draws: not jittered", len(seen))
		}
	})
}

// Acceptance 8 (unit level): the breaker opens under 100 % failure, fails fast, half-opens
// after its cooldown and closes after a success.
func TestBreakerOpensAndHalfOpens(t *testing.T) {
	var healthy atomic.Bool
	var hits atomic.Int32
	c, obs := newFakeClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if healthy.Load() {
			jsonReply(200, `{"notes":[]}`)(w, r)
			return
		}
		jsonReply(500, `{"statusCode":500,"message":"boom"}`)(w, r)
	}), func(o *Options) {
		o.Breaker = BreakerOptions{Failures: 4, Cooldown: 400 * time.Millisecond}
		o.Retry.MaxAttempts = 2
	})
	ctx := context.Background()
	for i := range 2 {
		if _, err := c.ListNotes(ctx, "c1"); !errors.Is(err, ErrServer) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if c.BreakerState() != "open" || hits.Load() != 4 {
		t.Fatalf("state %s after %d hits", c.BreakerState(), hits.Load())
	}
	if _, err := c.ListNotes(ctx, "c1"); !errors.Is(err, ErrBreakerOpen) || hits.Load() != 4 {
		t.Fatalf("open breaker let a call through: %v (hits %d)", err, hits.Load())
	}
	time.Sleep(450 * time.Millisecond)
	if _, err := c.ListNotes(ctx, "c1"); !errors.Is(err, ErrBreakerOpen) && !errors.Is(err, ErrServer) {
		t.Fatalf("half-open probe: %v", err)
	}
	healthy.Store(true)
	time.Sleep(450 * time.Millisecond)
	if _, err := c.ListNotes(ctx, "c1"); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	want := []string{"open", "half-open", "open", "half-open", "closed"}
	if got := obs.stateList(); len(got) != len(want) {
		t.Fatalf("transitions %v, want %v", got, want)
	} else {
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("transitions %v, want %v", got, want)
			}
		}
	}
}
