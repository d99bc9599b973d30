package ghl

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// LimiterOptions shape a Limiter. Zero values take HighLevel's documented limits.
type LimiterOptions struct {
	Location string
	// Max requests per Interval (burst); default 100 per 10 s. Response headers
	// X-RateLimit-Max / X-RateLimit-Interval-Milliseconds replace them as they arrive.
	Max      int
	Interval time.Duration
	// Margin is added to Interval to absorb clock granularity on the server; default 2 ms.
	Margin time.Duration
	// DailyCap is HighLevel's daily limit (default 200,000; X-RateLimit-Limit-Daily replaces
	// it) and DailyShare the fraction of it ptsync may spend (default 0.9).
	DailyCap   int
	DailyShare float64
	Clock      func() time.Time
	Logger     hclog.Logger
	Observer   Observer
}

// Limiter is a per-location request budget shaped like HighLevel's: at most Max requests in
// any Interval, and at most DailyShare × DailyCap per day.
//
// The burst rule is provably safe against a server that counts arrivals in a sliding window:
// the limiter remembers, for the last Max requests, when each response COMPLETED (a request
// in flight occupies its slot until then) and lets a new request start only while fewer than
// Max requests are in flight or completed less than Interval ago. The server saw request k
// before it completed, and sees the new one after it starts, so no window of the server's
// ever holds more than Max of ours. The cost is about one round trip per interval.
//
// Every response corrects the estimate: when X-RateLimit-Remaining shows more requests in the
// server's window than can possibly be ours, another client spends the same budget; for one
// interval after such an observation the limiter takes only ForeignShare of the slots the
// other client leaves (the slack lets it grow without 429s). The estimate of our own share of
// the server's window is an upper bound loose by the number of our requests in flight, so a
// wide fan-out notices another client late; a client that starts while another saturates
// the budget may be starved by it (it sees 429s and backs off for an interval each time).
// Until its first response has completed, a limiter lets one request out at a time: it
// cannot know how much of the server's window is already spent (by another client, or by
// this service before a restart), and the first answer's headers tell it. A start into a
// spent window therefore costs at most one 429, not a burst of them.
// The daily remaining likewise raises the day's count. A burst 429
// blocks everyone for an interval; a daily 429 or a spent share stops calls until the reset
// with ErrDailyLimit.
//
// A Limiter is safe for concurrent use. Its zero value is not usable; call NewLimiter.
type Limiter struct {
	opts LimiterOptions

	mu           sync.Mutex
	wake         chan struct{} // closed and replaced whenever a slot may have freed
	max          int
	interval     time.Duration
	entries      []*slot // in flight, or completed within the last two intervals
	foreign      []foreignObs
	blockedUntil time.Time
	calibrated   bool // a response has completed: the window's state is known from headers
	dailyCap     int
	dailyUsed    int
	dailyResetAt time.Time
}

type slot struct {
	start time.Time
	done  bool
	at    time.Time // completion time once done
}

// foreignObs is a lower bound, seen at time at, of how many requests in the server's window
// were not ours.
type foreignObs struct {
	at    time.Time
	count int
}

// ForeignShare is the fraction of what other clients leave free that this limiter uses once
// it has seen them spend the same budget; the rest is slack that lets them grow.
const ForeignShare = 0.9

// NewLimiter returns a limiter with nothing spent, opts' zero fields filled with HighLevel's
// documented limits (see LimiterOptions). It does no I/O. Build one per location and app and
// share it between every Client of that location: two limiters over one budget each believe
// they own all of it.
func NewLimiter(opts LimiterOptions) *Limiter {
	if opts.Max <= 0 {
		opts.Max = 100
	}
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Second
	}
	if opts.Margin <= 0 {
		opts.Margin = 2 * time.Millisecond
	}
	if opts.DailyCap <= 0 {
		opts.DailyCap = 200000
	}
	if opts.DailyShare <= 0 || opts.DailyShare > 1 {
		opts.DailyShare = 0.9
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Observer == nil {
		opts.Observer = NopObserver{}
	}
	return &Limiter{opts: opts, wake: make(chan struct{}), max: opts.Max, interval: opts.Interval, dailyCap: opts.DailyCap}
}

// Permit is one admitted request. Call Done exactly once, as soon as the response headers
// arrive (or the attempt failed); Done is safe to call more than once (later calls are no-ops).
type Permit struct {
	l    *Limiter
	s    *slot
	once sync.Once
}

// Acquire waits until a request may start, or returns ctx's error, or a *DailyLimitError
// (matching ErrDailyLimit) when the day's share is spent. op names the operation in errors.
func (l *Limiter) Acquire(ctx context.Context, op string) (*Permit, error) {
	for {
		l.mu.Lock()
		now := l.opts.Clock()
		l.rollDayLocked(now)
		if budget := l.dailyBudgetLocked(); l.dailyUsed >= budget {
			reset := l.dailyResetAt
			l.mu.Unlock()
			return nil, &DailyLimitError{Op: op, Location: l.opts.Location, ResetAt: reset}
		}
		var wait time.Duration
		switch {
		case now.Before(l.blockedUntil):
			wait = l.blockedUntil.Sub(now)
		case !l.calibrated && l.inFlightLocked() > 0:
			wait = -1 // the first answer's headers come before anyone else goes
		default:
			l.pruneLocked(now)
			capacity, until := l.capacityLocked(now)
			if l.countLocked(now) < capacity {
				s := &slot{start: now}
				l.entries = append(l.entries, s)
				l.dailyUsed++
				l.mu.Unlock()
				return &Permit{l: l, s: s}, nil
			}
			wait = l.nextFreeLocked(now)
			if !until.IsZero() && (wait < 0 || until.Sub(now) < wait) {
				wait = max(until.Sub(now), 0)
			}
		}
		wake := l.wake
		l.mu.Unlock()
		if err := sleepCtx(ctx, wait, wake); err != nil {
			return nil, fmt.Errorf("cannot %s: waiting for rate budget: %w", op, err)
		}
	}
}

// sleepCtx waits for d (d < 0: until wake only), wake, or ctx.
func sleepCtx(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	var timer <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer:
	case <-wake:
	}
	return nil
}

// pruneLocked forgets slots completed two windows ago (the header correction looks one
// window behind a request's start) and foreign observations older than a window.
func (l *Limiter) pruneLocked(now time.Time) {
	cut := now.Add(-2 * (l.interval + l.opts.Margin))
	kept := l.entries[:0]
	for _, s := range l.entries {
		if s.done && !s.at.After(cut) {
			continue
		}
		kept = append(kept, s)
	}
	clear(l.entries[len(kept):])
	l.entries = kept
	fcut := now.Add(-l.interval)
	i := 0
	for i < len(l.foreign) && !l.foreign[i].at.After(fcut) {
		i++
	}
	l.foreign = l.foreign[i:]
}

// inFlightLocked is the number of our requests started and not completed.
func (l *Limiter) inFlightLocked() int {
	n := 0
	for _, s := range l.entries {
		if !s.done {
			n++
		}
	}
	return n
}

// countLocked is the number of our requests that occupy a slot now: in flight, or completed
// less than interval+margin ago.
func (l *Limiter) countLocked(now time.Time) int {
	cut := now.Add(-(l.interval + l.opts.Margin))
	n := 0
	for _, s := range l.entries {
		if !s.done || s.at.After(cut) {
			n++
		}
	}
	return n
}

// capacityLocked is how many slots we may occupy: max, or, while other clients are seen
// spending this budget, ForeignShare of what they leave. until is when the newest foreign
// observation expires (zero when none).
func (l *Limiter) capacityLocked(_ time.Time) (int, time.Time) {
	f := 0
	var until time.Time
	for _, o := range l.foreign {
		f = max(f, o.count)
		until = o.at.Add(l.interval)
	}
	if f == 0 {
		return l.max, time.Time{}
	}
	return max(1, int(math.Floor(ForeignShare*float64(l.max-f)))), until
}

// nextFreeLocked is how long until the earliest completed slot expires; -1 when every slot is
// in flight (wait for a completion).
func (l *Limiter) nextFreeLocked(now time.Time) time.Duration {
	var earliest time.Time
	cut := now.Add(-(l.interval + l.opts.Margin))
	for _, s := range l.entries {
		if s.done && s.at.After(cut) && (earliest.IsZero() || s.at.Before(earliest)) {
			earliest = s.at
		}
	}
	if earliest.IsZero() {
		return -1
	}
	d := earliest.Add(l.interval + l.opts.Margin).Sub(now)
	if d < 0 {
		d = 0
	}
	return d
}

func (l *Limiter) dailyBudgetLocked() int {
	return int(math.Floor(float64(l.dailyCap) * l.opts.DailyShare))
}

// rollDayLocked resets the daily count when the reset time passes. Without a
// X-RateLimit-Daily-Reset header the day ends at midnight UTC.
func (l *Limiter) rollDayLocked(now time.Time) {
	if l.dailyResetAt.IsZero() {
		l.dailyResetAt = nextUTCMidnight(now)
		return
	}
	if !now.Before(l.dailyResetAt) {
		l.dailyUsed = 0
		l.dailyResetAt = nextUTCMidnight(now)
	}
}

func nextUTCMidnight(now time.Time) time.Time {
	y, m, d := now.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}

func (l *Limiter) broadcastLocked() {
	close(l.wake)
	l.wake = make(chan struct{})
}

// Done records the completion of the permit's request and corrects the limiter from the
// response headers h (nil when no response arrived). status is the HTTP status (0 if none).
func (p *Permit) Done(h http.Header, status int) {
	p.once.Do(func() { p.l.complete(p.s, h, status) })
}

func (l *Limiter) complete(s *slot, h http.Header, status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Clock()
	s.done, s.at = true, now
	defer l.broadcastLocked()
	if h == nil {
		return
	}
	l.calibrated = true
	info, ok := ParseRateLimit(h)
	if !ok {
		return
	}
	if info.Max > 0 && info.Max != l.max {
		l.opts.Logger.Info("rate limit shape changed", "location", l.opts.Location, "max", info.Max, "was", l.max)
		l.max = info.Max
	}
	if info.Interval > 0 && info.Interval != l.interval {
		l.opts.Logger.Info("rate limit interval changed", "location", l.opts.Location, "interval", info.Interval, "was", l.interval)
		l.interval = info.Interval
	}
	if info.Remaining >= 0 {
		// The server counted max-remaining requests in its window, ours included. Ours are
		// at most those started before now that completed after this request's start minus
		// an interval; anything beyond is another client spending this budget.
		cut := s.start.Add(-l.interval)
		own := 0
		for _, e := range l.entries {
			if e == s || !e.done || e.at.After(cut) {
				own++
			}
		}
		if foreign := l.max - info.Remaining - own; foreign > 0 {
			l.pruneLocked(now)
			l.foreign = append(l.foreign, foreignObs{at: now, count: foreign})
			l.opts.Logger.Debug("other clients spend this budget", "location", l.opts.Location, "foreign", foreign, "server_used", l.max-info.Remaining, "own", own)
		}
	}
	if info.DailyLimit > 0 {
		l.dailyCap = info.DailyLimit
	}
	if info.DailyReset > 0 {
		l.dailyResetAt = now.Add(info.DailyReset)
	}
	if info.DailyRemaining >= 0 {
		if used := l.dailyCap - info.DailyRemaining; used > l.dailyUsed {
			l.dailyUsed = used
		}
	}
	if status == http.StatusTooManyRequests {
		if info.Scope == ScopeDaily {
			l.dailyUsed = max(l.dailyUsed, l.dailyBudgetLocked())
			l.opts.Logger.Warn("daily rate limit reached; calls stop until reset", "location", l.opts.Location, "reset", l.dailyResetAt)
		} else {
			l.blockedUntil = now.Add(l.interval + l.opts.Margin)
		}
	}
	l.opts.Observer.ObserveRateLimit(l.opts.Location, info.Remaining, info.DailyRemaining)
}

// LimiterSnapshot reports the limiter's current view, for status output and tests.
type LimiterSnapshot struct {
	Max, InWindow       int
	Interval            time.Duration
	DailyUsed, DailyCap int
	DailyBudget         int
	DailyResetAt        time.Time
}

// Snapshot returns the limiter's view at its clock's now, window entries older than Interval
// pruned first: a copy, safe to keep. It takes the limiter's lock, so it is safe beside
// running requests and never waits for one.
func (l *Limiter) Snapshot() LimiterSnapshot {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Clock()
	l.pruneLocked(now)
	return LimiterSnapshot{Max: l.max, InWindow: l.countLocked(now), Interval: l.interval, DailyUsed: l.dailyUsed,
		DailyCap: l.dailyCap, DailyBudget: l.dailyBudgetLocked(), DailyResetAt: l.dailyResetAt}
}

// Cancel returns the permit's slot unused: the request was never sent. Calling Done after
// Cancel, or Cancel after Done, has no effect.
func (p *Permit) Cancel() {
	p.once.Do(func() {
		l := p.l
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, s := range l.entries {
			if s == p.s {
				l.entries = append(l.entries[:i], l.entries[i+1:]...)
				break
			}
		}
		if l.dailyUsed > 0 {
			l.dailyUsed--
		}
		l.broadcastLocked()
	})
}
