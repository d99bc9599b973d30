package push

import (
	"errors"
	"sync"
	"time"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ptd"
	"ptsync/store"
)

// permanent reports errors no retry can fix.
func permanent(err error) bool {
	for _, target := range []error{ghl.ErrValidation, ghl.ErrReadOnly, ghl.ErrScope, ghl.ErrInvalidArgument, ghl.ErrNotFound,
		ptd.ErrBadRequest, ptd.ErrInvalidInput, ptd.ErrUnsupported, ptd.ErrNotFound} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// failure decides what a failed attempt of o does (retry later with backoff, or dead-letter)
// and returns the transaction that records it. The caller commits it and then calls
// logFailure when quiet is false (a refusal inside a hold already logged is quiet).
func (p *Pusher) failure(o store.OutboxEntry, cause error) (dead, quiet bool, fn commitFn) {
	max := p.Config.MaxAttempts
	if max <= 0 {
		max = 8
	}
	p.Metrics.PushDone(o.Target, o.Op, cause)
	if class := unavailableClass(cause); class != "" {
		base, ceil := p.backoffBounds()
		next, opened := p.holds.refused(o.Target, class, p.Now(), base, ceil)
		if opened {
			p.Logger.Warn("pushes held: the target refuses every write", "target", o.Target, "reason", class,
				"retry_in", next.Sub(p.Now()).Round(time.Millisecond), "error", cause)
		}
		return false, true, func(tx *store.Tx) error {
			_, err := tx.PostponeOutbox(o.Seq, cause.Error(), next)
			return err
		}
	}
	dead = permanent(cause) || o.Attempts+1 >= max
	next := p.Now().Add(p.backoff(o.Attempts + 1))
	return dead, false, func(tx *store.Tx) error {
		if _, err := tx.RecordAttempt(o.Seq, cause.Error(), next); err != nil {
			return err
		}
		if dead {
			_, err := tx.DeadLetter(o.Seq, cause.Error())
			return err
		}
		return nil
	}
}

// logFailure says what failure decided, once its transaction committed.
func (p *Pusher) logFailure(o store.OutboxEntry, cause error, dead bool) {
	if dead {
		p.Logger.Error("outbox entry dead-lettered", "seq", o.Seq, "target", o.Target, "op", o.Op, "link", o.LinkID, "attempts", o.Attempts+1, "error", cause)
	} else {
		p.Logger.Warn("push failed; will retry", "seq", o.Seq, "target", o.Target, "op", o.Op, "attempts", o.Attempts+1, "error", cause)
	}
}

// backoffBounds are pusher.backoff_base and backoff_max with their defaults (1 s, 5 min).
func (p *Pusher) backoffBounds() (base, ceil time.Duration) {
	base, ceil = p.Config.BackoffBase, p.Config.BackoffMax
	if base <= 0 {
		base = time.Second
	}
	if ceil <= 0 {
		ceil = 5 * time.Minute
	}
	return base, ceil
}

// backoff is full-jitter exponential backoff: uniform in [0, min(max, base*2^(n-1))].
func (p *Pusher) backoff(n int) time.Duration {
	base, ceil := p.backoffBounds()
	d := base << min(n-1, 30)
	if d <= 0 || d > ceil {
		d = ceil
	}
	p.rngMu.Lock()
	defer p.rngMu.Unlock()
	return time.Duration(p.rng.Int64N(int64(d) + 1))
}

// unavailableClass names why a target refuses every write alike, or "" when err says something
// about the entry itself: the credential was refused or is missing, the upstream's breaker is
// open, HighLevel's daily budget is spent. Retrying the entry is right, but counting the attempt
// is not: an outage or a token waiting for `ptsync auth` must never dead-letter the writes
// queued behind it.
func unavailableClass(err error) string {
	for _, c := range []struct {
		err  error
		name string
	}{
		{ghl.ErrInvalidGrant, "refresh token refused"}, {ghl.ErrNoToken, "no stored token"},
		{ghl.ErrClientRejected, "client credentials rejected"}, {ghl.ErrUnauthorized, "credentials rejected"},
		{ptd.ErrUnauthorized, "credentials rejected"}, {ghl.ErrBreakerOpen, "circuit breaker open"},
		{ghl.ErrDailyLimit, "daily budget spent"},
	} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return ""
}

// holdoff paces the retries of a target that refuses every write for the same reason (a
// rejected credential, an open breaker). A refusal after the current hold has ended opens a
// new hold, twice as long as the previous one (base, doubling to ceil); every entry refused
// meanwhile waits for the same end. Only the refusal that opens a hold is logged, so a
// credential refused for an hour is a handful of lines, not one per entry per second. A
// successful write to the target ends its holds. Safe for concurrent use.
type holdoff struct {
	mu sync.Mutex
	by map[string]*hold // target + "/" + class
}

type hold struct {
	runs  int
	until time.Time
}

// refused records that target refused a write for class at now and returns when to try
// again; opened is true when this refusal opened a new hold (the one to log).
func (h *holdoff) refused(target, class string, now time.Time, base, ceil time.Duration) (next time.Time, opened bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.by == nil {
		h.by = map[string]*hold{}
	}
	key := target + "/" + class
	st := h.by[key]
	if st == nil {
		st = &hold{}
		h.by[key] = st
	}
	if now.Before(st.until) {
		return st.until, false
	}
	st.runs++
	d := base << min(st.runs-1, 30)
	if d <= 0 || d > ceil {
		d = ceil
	}
	st.until = now.Add(d)
	return st.until, true
}

// accepted ends target's holds after one of its writes succeeded.
func (h *holdoff) accepted(target string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.by {
		if len(k) > len(target) && k[:len(target)+1] == target+"/" {
			delete(h.by, k)
		}
	}
}
