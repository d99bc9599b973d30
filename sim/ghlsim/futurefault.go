package ghlsim

import "time"

// FutureTimestamp is the dateUpdated the future-timestamp fault writes into a search answer.
const FutureTimestamp = "2030-01-01T00:00:00.000Z"

// FaultFutureTimestamp counts search answers whose first contact the fault restamped (see
// Faults.FutureTimestampRate). Unlike the other kinds it is not drawn per request and cannot
// be queued with InjectNext: it applies to search answers only, after the search ran.
const FaultFutureTimestamp FaultKind = "future_timestamp"

// futureTimestamp reports whether the search answer being sent at now gets the fault: always
// before Faults.FutureTimestampUntil, else with probability FutureTimestampRate. It draws
// from the fault stream only when the rate is set, so other faults' choices stay as seeded.
func (f *faultState) futureTimestamp(now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now.Before(f.cfg.FutureTimestampUntil) {
		return true
	}
	return f.cfg.FutureTimestampRate > 0 && f.rng.Float64() < f.cfg.FutureTimestampRate
}
