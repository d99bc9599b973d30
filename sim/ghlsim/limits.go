package ghlsim

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"ptsync/apiclient/ghlwire"
)

// Limits are HighLevel's per-location rate limits. Zero fields take the documented
// defaults (100 per 10 s, 200,000 per 24 h); shrink the intervals to time-scale a test.
type Limits struct {
	// BurstMax requests are allowed within any BurstInterval. The window slides with each
	// request's arrival time, the strictest reading of "100 per 10 seconds".
	BurstMax      int
	BurstInterval time.Duration
	// DailyMax requests are allowed per DailyInterval, a fixed window that starts with the
	// location's first request and resets every DailyInterval.
	DailyMax      int
	DailyInterval time.Duration
	// Disabled turns limiting off; the headers are still sent.
	Disabled bool
}

func (l Limits) withDefaults() Limits {
	if l.BurstMax <= 0 {
		l.BurstMax = 100
	}
	if l.BurstInterval <= 0 {
		l.BurstInterval = 10 * time.Second
	}
	if l.DailyMax <= 0 {
		l.DailyMax = 200000
	}
	if l.DailyInterval <= 0 {
		l.DailyInterval = 24 * time.Hour
	}
	return l
}

// Kinds of 429, as counted.
const (
	limitBurst = "burst"
	limitDaily = "daily"
)

type locWindow struct {
	hits     []time.Time // accepted requests inside the sliding burst window, oldest first
	dayStart time.Time
	dayCount int
}

type limiter struct {
	mu     sync.Mutex
	limits Limits
	locs   map[string]*locWindow
}

func newLimiter(l Limits) *limiter { return &limiter{limits: l, locs: map[string]*locWindow{}} }

func (l *limiter) set(lim Limits) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limits = lim.withDefaults()
}

func (l *limiter) get() Limits {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limits
}

// window returns loc's window with expired hits dropped and the day rolled over; l.mu held.
func (l *limiter) window(loc string, now time.Time) *locWindow {
	w := l.locs[loc]
	if w == nil {
		w = &locWindow{dayStart: now}
		l.locs[loc] = w
	}
	for !now.Before(w.dayStart.Add(l.limits.DailyInterval)) {
		w.dayStart = w.dayStart.Add(l.limits.DailyInterval)
		w.dayCount = 0
	}
	cut := now.Add(-l.limits.BurstInterval)
	i := 0
	for i < len(w.hits) && !w.hits[i].After(cut) {
		i++
	}
	w.hits = w.hits[i:]
	return w
}

// take admits one request for loc, or returns the kind of limit it hit. Either way it sets
// the rate-limit headers on h.
func (l *limiter) take(loc string, now time.Time, h http.Header) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.window(loc, now)
	kind := ""
	if !l.limits.Disabled {
		switch {
		case w.dayCount >= l.limits.DailyMax:
			kind = limitDaily
		case len(w.hits) >= l.limits.BurstMax:
			kind = limitBurst
		}
	}
	if kind == "" {
		w.hits = append(w.hits, now)
		w.dayCount++
	}
	l.headers(w, now, h)
	return kind
}

// peek sets the headers for loc without counting a request.
func (l *limiter) peek(loc string, now time.Time, h http.Header) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.headers(l.window(loc, now), now, h)
}

func (l *limiter) headers(w *locWindow, now time.Time, h http.Header) {
	h.Set(ghlwire.HeaderRateLimitDaily, strconv.Itoa(l.limits.DailyMax))
	h.Set(ghlwire.HeaderRateLimitDailyRemaining, strconv.Itoa(max(0, l.limits.DailyMax-w.dayCount)))
	h.Set(ghlwire.HeaderRateLimitIntervalMillis, strconv.FormatInt(l.limits.BurstInterval.Milliseconds(), 10))
	h.Set(ghlwire.HeaderRateLimitMax, strconv.Itoa(l.limits.BurstMax))
	h.Set(ghlwire.HeaderRateLimitRemaining, strconv.Itoa(max(0, l.limits.BurstMax-len(w.hits))))
	h.Set(ghlwire.HeaderRateLimitDailyReset, strconv.FormatInt(w.dayStart.Add(l.limits.DailyInterval).Sub(now).Milliseconds(), 10))
}
