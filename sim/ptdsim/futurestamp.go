package ptdsim

import (
	"time"

	"ptsync/apiclient/ptdwire"
)

// FutureStamp is the updatedAt the future-stamp faults give a client: 2030-01-01.
var FutureStamp = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// StampFuture sets client id's updatedAt (and ETag) to at without moving the server's
// clock: a bad import or a bridge with a wrong clock, outside the contract's monotonic
// guarantee. The client then sorts after every later write until one touches it again, so
// a poller whose cursor follows it would skip every change made meanwhile (issue #22).
func (s *Sim) StampFuture(id string, at time.Time) error {
	return s.coach(func() *Error {
		r, e := s.clientLocked(id)
		if e != nil {
			return e
		}
		s.touchLocked(r, at.UTC().Truncate(time.Millisecond))
		return nil
	})
}

// futureStampLocked applies Faults.FutureStampRate to a listing answer: the first client
// shows updatedAt FutureStamp in the answer only (the stored client and the page's cursor
// keep the true stamp), as a proxy rewriting bodies would. It draws from the fault stream
// only when the rate is set. s.mu must be held.
func (s *Sim) futureStampLocked(page *ptdwire.ClientPage) {
	if len(page.Clients) == 0 || s.faults.FutureStampRate <= 0 || s.rng.Float64() >= s.faults.FutureStampRate {
		return
	}
	page.Clients[0].UpdatedAt = FutureStamp.Format(timeFormat)
}
