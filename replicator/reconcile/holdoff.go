package reconcile

import (
	"errors"
	"sync"
	"time"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ptd"
)

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
