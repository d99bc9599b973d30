package ghlsim

import (
	"strconv"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
)

func TestRateLimitHeadersOnEveryResponse(t *testing.T) {
	h := newHarness(t, Options{Limits: Limits{BurstMax: 100, BurstInterval: 10 * time.Second, DailyMax: 200000, DailyInterval: 24 * time.Hour}})
	loc := h.sim.LocationID()
	tests := []struct {
		name   string
		method string
		path   string
		hdr    []string
		status int
	}{
		{"success", "GET", "/contacts/?locationId=" + loc, nil, 200},
		{"not found", "GET", "/contacts/nope", nil, 404},
		{"unauthorized", "GET", "/contacts/nope", []string{"Authorization", "Bearer nope"}, 401},
		{"bad version", "GET", "/contacts/nope", []string{"Version", ""}, 400},
		{"unknown route", "GET", "/nothing", nil, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call(tc.method, tc.path, nil, tc.hdr...)
			if r.status != tc.status {
				t.Fatalf("%d %s", r.status, r.body)
			}
			want := map[string]string{
				ghlwire.HeaderRateLimitDaily:          "200000",
				ghlwire.HeaderRateLimitIntervalMillis: "10000",
				ghlwire.HeaderRateLimitMax:            "100",
			}
			for k, v := range want {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for _, k := range []string{ghlwire.HeaderRateLimitDailyRemaining, ghlwire.HeaderRateLimitRemaining, ghlwire.HeaderRateLimitDailyReset} {
				if _, err := strconv.Atoi(r.header.Get(k)); err != nil {
					t.Errorf("%s = %q", k, r.header.Get(k))
				}
			}
		})
	}
}

// TestRateLimitSlidingWindow uses a time-scaled limit (5 per 200 ms, 11 per hour) on the
// fake clock, so the window arithmetic is exact.
func TestRateLimitSlidingWindow(t *testing.T) {
	h := newHarness(t, Options{Limits: Limits{BurstMax: 5, BurstInterval: 200 * time.Millisecond, DailyMax: 11, DailyInterval: time.Hour}})
	loc := h.sim.LocationID()
	get := func() resp { return h.call("GET", "/contacts/?locationId="+loc, nil) }
	create := func() resp {
		return h.call("POST", "/contacts/", map[string]any{"locationId": loc, "firstName": "R"})
	}
	steps := []struct {
		name      string
		advance   time.Duration
		call      func() resp
		status    int
		remaining string
	}{
		{"1st at t0", 0, get, 200, "4"},
		{"2nd at t0", 0, get, 200, "3"},
		{"3rd at t0", 0, get, 200, "2"},
		{"4th at t0+100ms", 100 * time.Millisecond, get, 200, "1"},
		{"5th at t0+100ms", 0, get, 200, "0"},
		{"6th at t0+199ms is over", 99 * time.Millisecond, get, 429, "0"},
		{"a write over the limit", 0, create, 429, "0"},
		// A fixed window would now grant 5; the sliding one frees only the 3 from t0.
		{"t0+200ms frees the t0 hits", time.Millisecond, get, 200, "2"},
		{"second freed", 0, get, 200, "1"},
		{"third freed", 0, get, 200, "0"},
		{"still 2 in the window from t0+100ms", 0, get, 429, "0"},
		{"t0+300ms frees them (9th of the day)", 100 * time.Millisecond, get, 200, "1"},
		{"10th of the day", 0, get, 200, "0"},
		{"11th of the day, a write, window empty again", 300 * time.Millisecond, create, 201, "4"},
		{"daily cap", 0, get, 429, "4"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			h.clock.Advance(st.advance)
			r := st.call()
			if r.status != st.status || r.header.Get(ghlwire.HeaderRateLimitRemaining) != st.remaining {
				t.Fatalf("status %d remaining %s, want %d %s: %s", r.status, r.header.Get(ghlwire.HeaderRateLimitRemaining), st.status, st.remaining, r.body)
			}
			if st.status == 429 {
				e := r.errBody(t)
				if e.StatusCode != 429 || e.Messages()[0] != ghlwire.MsgTooManyRequests {
					t.Errorf("429 body %s", r.body)
				}
			}
		})
	}
	r := get()
	if r.header.Get(ghlwire.HeaderRateLimitDailyRemaining) != "0" {
		t.Errorf("daily remaining %s", r.header.Get(ghlwire.HeaderRateLimitDailyRemaining))
	}
	reset, _ := strconv.Atoi(r.header.Get(ghlwire.HeaderRateLimitDailyReset))
	if reset <= 0 || reset > int(time.Hour/time.Millisecond) {
		t.Errorf("daily reset %d ms", reset)
	}
	c := h.sim.Counters()
	if c.RateLimitedBurst != 3 || c.RateLimitedDaily != 2 || c.Writes != 1 || h.sim.ContactCount() != 1 {
		t.Errorf("burst %d daily %d writes %d contacts %d", c.RateLimitedBurst, c.RateLimitedDaily, c.Writes, h.sim.ContactCount())
	}
	t.Run("daily window resets", func(t *testing.T) {
		h.clock.Advance(time.Hour)
		if r := get(); r.status != 200 || r.header.Get(ghlwire.HeaderRateLimitDailyRemaining) != "10" {
			t.Fatalf("%d daily remaining %s", r.status, r.header.Get(ghlwire.HeaderRateLimitDailyRemaining))
		}
	})
}
