package ptdsim

import (
	"net/http"

	"ptsync/apiclient/ptdwire"
)

// ListingFault makes the client listing lie with a 200 (see SetListingFault).
type ListingFault string

// Listing faults.
const (
	ListingHonest ListingFault = "" // no fault
	// ListingEmpty answers GET /v1/clients (the cursor listing, not the email lookup) with
	// no clients and no next cursor, as a broken proxy or an upstream bug would.
	ListingEmpty ListingFault = "empty"
)

// SetListingFault switches the listing fault on (ListingEmpty) or off (ListingHonest) for
// requests that arrive afterwards. Control-surface reads are never affected.
func (s *Sim) SetListingFault(f ListingFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listingFault = f
}

// emptyListing reports whether the client listing must answer with no clients.
func (s *Sim) emptyListing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listingFault == ListingEmpty
}

// RemoveClient deletes a client the way a coach does in PT Distinction's app (the REST
// contract has no client delete): it leaves every listing and lookup, and its tasks and notes
// answer 404 with it. The simulator keeps it aside so RestoreClient can bring it back; an
// unknown id is an *Error with status 404.
func (s *Sim) RemoveClient(id string) error {
	return s.coach(func() *Error {
		r, err := s.clientLocked(id)
		if err != nil {
			return err
		}
		if s.removed == nil {
			s.removed = map[string]*clientRec{}
		}
		s.removed[id] = r
		delete(s.clients, id)
		if s.byEmail[NormalizeEmail(r.c.Email)] == id {
			delete(s.byEmail, NormalizeEmail(r.c.Email))
		}
		for i, o := range s.order {
			if o == r {
				s.order = append(s.order[:i], s.order[i+1:]...)
				break
			}
		}
		return nil
	})
}

// RestoreClient brings back a client RemoveClient removed (a coach undoing the deletion), with
// a new updatedAt, so incremental readers see it. An id that was not removed is a 404 *Error;
// an email another client took meanwhile is a 409.
func (s *Sim) RestoreClient(id string) (ptdwire.Client, error) {
	var out ptdwire.Client
	err := s.coach(func() *Error {
		r, ok := s.removed[id]
		if !ok {
			return errf(http.StatusNotFound, ptdwire.CodeNotFound, "client %q was not removed", id)
		}
		key := NormalizeEmail(r.c.Email)
		if other, taken := s.byEmail[key]; taken && key != "" {
			return errf(http.StatusConflict, ptdwire.CodeEmailExists, "email %q now belongs to client %q", r.c.Email, other)
		}
		delete(s.removed, id)
		s.clients[id] = r
		if key != "" {
			s.byEmail[key] = id
		}
		s.order = append(s.order, r)
		s.touchLocked(r, s.stampLocked())
		out = copyClient(r.c)
		return nil
	})
	return out, err
}
