package ghlsim

import (
	"maps"
	"sync"
)

// Counters is a snapshot of what the simulator saw since it started or since ResetCounters.
type Counters struct {
	// Requests counts every request by "METHOD /pattern", e.g.
	// "GET /contacts/{contactId}/tasks"; refused and faulted requests are counted too.
	// Requests no route matched are under "UNMATCHED <METHOD>".
	Requests map[string]int64 `json:"requests"`
	// Total is the sum of Requests.
	Total int64 `json:"total"`
	// Writes counts API write operations that were applied (2xx).
	Writes int64 `json:"writes"`
	// RefusedWrites counts write requests refused before they ran (bad token, scope,
	// rate limit): none of them changed data.
	RefusedWrites int64 `json:"refusedWrites"`
	// ScopeRefused counts 401s for a token lacking the route's scope.
	ScopeRefused int64 `json:"scopeRefused"`
	// Unauthorized counts 401s for a missing, unknown or expired token.
	Unauthorized int64 `json:"unauthorized"`
	// RateLimitedBurst and RateLimitedDaily count 429s by the limit that was hit.
	RateLimitedBurst int64 `json:"rateLimitedBurst"`
	RateLimitedDaily int64 `json:"rateLimitedDaily"`
	// TokenGrants counts successful authorization-code exchanges, Refreshes successful
	// refresh-token exchanges, TokenRefused refused /oauth/token requests (reused or unknown
	// code or refresh token, bad client credentials).
	TokenGrants  int64 `json:"tokenGrants"`
	Refreshes    int64 `json:"refreshes"`
	TokenRefused int64 `json:"tokenRefused"`
	// WrongLocation counts requests refused with 403 because they named another location than
	// their token's: a locationId in the query or body, or a contact of another location. It
	// is counted on the token's location; a multi-location client must keep it at zero.
	WrongLocation int64 `json:"wrongLocation"`
	// AuthClassRefused counts 401s for a token of the wrong class: a Company token on a
	// location's route, a Location token on an agency route.
	AuthClassRefused int64 `json:"authClassRefused"`
	// LocationTokens counts location tokens minted through POST /oauth/locationToken, and
	// LocationTokensRefused the mints refused because the app is not installed there.
	LocationTokens        int64 `json:"locationTokens"`
	LocationTokensRefused int64 `json:"locationTokensRefused"`
	// Faults counts injected faults by kind.
	Faults map[FaultKind]int64 `json:"faults"`
}

type counterSet struct {
	mu sync.Mutex
	c  Counters
}

func newCounterSet() *counterSet {
	return &counterSet{c: Counters{Requests: map[string]int64{}, Faults: map[FaultKind]int64{}}}
}

func (cs *counterSet) with(f func(c *Counters)) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	f(&cs.c)
}

func (cs *counterSet) request(key string) {
	cs.with(func(c *Counters) { c.Requests[key]++; c.Total++ })
}
func (cs *counterSet) write()            { cs.with(func(c *Counters) { c.Writes++ }) }
func (cs *counterSet) fault(k FaultKind) { cs.with(func(c *Counters) { c.Faults[k]++ }) }
func (cs *counterSet) tokenRefused()     { cs.with(func(c *Counters) { c.TokenRefused++ }) }
func (cs *counterSet) unauthorized(w bool) {
	cs.with(func(c *Counters) { c.Unauthorized++; c.RefusedWrites += b2i(w) })
}
func (cs *counterSet) scopeRefused(w bool) {
	cs.with(func(c *Counters) { c.ScopeRefused++; c.RefusedWrites += b2i(w) })
}
func (cs *counterSet) tokenGranted(rt bool) {
	cs.with(func(c *Counters) {
		if rt {
			c.Refreshes++
		} else {
			c.TokenGrants++
		}
	})
}
func (cs *counterSet) wrongLocation(w bool) {
	cs.with(func(c *Counters) { c.WrongLocation++; c.RefusedWrites += b2i(w) })
}
func (cs *counterSet) rateLimited(kind string, w bool) {
	cs.with(func(c *Counters) {
		if kind == limitDaily {
			c.RateLimitedDaily++
		} else {
			c.RateLimitedBurst++
		}
		c.RefusedWrites += b2i(w)
	})
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// snapshot returns a copy of the counters.
func (cs *counterSet) snapshot() Counters {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c := cs.c
	c.Requests = maps.Clone(c.Requests)
	c.Faults = maps.Clone(c.Faults)
	return c
}

// Counters returns a copy of the location's counters.
func (s *Server) Counters() Counters { return s.ctr.snapshot() }

// Requests returns the per-route request counts keyed "METHOD /pattern".
func (s *Server) Requests() map[string]int64 { return s.Counters().Requests }

// ResetCounters zeroes every counter. Data, tokens and rate-limit windows are untouched.
func (s *Server) ResetCounters() {
	s.ctr.mu.Lock()
	defer s.ctr.mu.Unlock()
	s.ctr.c = Counters{Requests: map[string]int64{}, Faults: map[FaultKind]int64{}}
}
