package ghl

import (
	"sync"
	"time"
)

// uncuredHold remembers an access token HighLevel refused right after the refresh a 401 had
// asked for: a refusal a refresh does not cure (the app removed from the location, a
// revoked grant the token endpoint still honours). Until the hold ends, a 401 for that token
// does not spend another refresh; when it ends, one refresh probes again, and a refusal of
// that one holds twice as long (rejectedDelay). Any 2xx ends the run of refusals. Safe for
// concurrent use.
type uncuredHold struct {
	mu    sync.Mutex
	token Secret
	until time.Time
	runs  int
}

// hold starts (or, for a new refused token, extends) the hold for token, refused at now
// right after its refresh, and returns how long it lasts.
func (h *uncuredHold) hold(token Secret, now time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.token.Equal(token) && now.Before(h.until) {
		return h.until.Sub(now)
	}
	h.runs++
	d := rejectedDelay(h.runs)
	h.token, h.until = token, now.Add(d)
	return d
}

// mayRefresh reports whether a 401 for token may spend a refresh at now.
func (h *uncuredHold) mayRefresh(token Secret, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !(h.token.Equal(token) && now.Before(h.until))
}

// cured ends the run of refusals after a successful answer.
func (h *uncuredHold) cured() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.runs != 0 {
		h.runs, h.token, h.until = 0, Secret{}, time.Time{}
	}
}
