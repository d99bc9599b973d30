package ghlsim

import (
	"encoding/json"
	"net/http"
	"sync"

	"ptsync/apiclient/ghlwire"
)

// ListingFault makes the contact listings lie with a 200, the way a misbehaving proxy or an
// upstream bug would: unlike the body faults, the answer is well-formed, so only a client that
// doubts a listing's content notices. It applies to GET /contacts/ and POST /contacts/search.
type ListingFault string

// Listing faults.
const (
	ListingHonest ListingFault = "" // no fault
	// ListingEmpty answers every listing and search with no contacts and a total of 0.
	ListingEmpty ListingFault = "empty"
	// ListingFirstPage answers GET /contacts/ with the requested page but no next page, so
	// a walk ends after one page; meta.total stays honest. Search is left alone.
	ListingFirstPage ListingFault = "first_page"
)

// listingFaultState is the fault in force; the zero value is no fault.
type listingFaultState struct {
	mu sync.Mutex
	f  ListingFault
}

// SetListingFault switches a listing fault on (ListingEmpty, ListingFirstPage) or off
// (ListingHonest). It applies to requests that arrive afterwards, past auth, rate limits and
// the random faults; control-surface reads are never affected.
func (s *Server) SetListingFault(f ListingFault) {
	s.listing.mu.Lock()
	defer s.listing.mu.Unlock()
	s.listing.f = f
}

// CurrentListingFault returns the listing fault in force.
func (s *Server) CurrentListingFault() ListingFault {
	s.listing.mu.Lock()
	defer s.listing.mu.Unlock()
	return s.listing.f
}

// lieAboutListing answers rt's request itself when a listing fault applies to it, and
// reports whether it did.
func (s *Server) lieAboutListing(w http.ResponseWriter, r *http.Request, rt *route) bool {
	f := s.CurrentListingFault()
	list := rt.method == http.MethodGet && rt.pattern == "/contacts/"
	search := rt.method == http.MethodPost && rt.pattern == "/contacts/search"
	switch {
	case f == ListingEmpty && list:
		s.ctr.fault(FaultKind("listing_" + string(f)))
		s.writeJSON(w, 200, ghlwire.ListContactsResponse{Contacts: []ghlwire.Contact{}, Count: 0,
			Meta: &ghlwire.ListMeta{Total: 0, CurrentPage: 1}})
		return true
	case f == ListingEmpty && search:
		s.ctr.fault(FaultKind("listing_" + string(f)))
		s.writeJSON(w, 200, ghlwire.SearchResponse{Contacts: []ghlwire.Contact{}, Total: 0, TraceID: s.traceID()})
		return true
	case f == ListingFirstPage && list:
		rec := &bufferedWriter{header: http.Header{}, status: 200}
		rt.h(rec, r)
		var resp ghlwire.ListContactsResponse
		if rec.status != 200 || json.Unmarshal(rec.body.Bytes(), &resp) != nil || resp.Meta == nil {
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			_, _ = w.Write(rec.body.Bytes())
			return true
		}
		s.ctr.fault(FaultKind("listing_" + string(f)))
		resp.Meta.NextPage, resp.Meta.NextPageURL, resp.Meta.StartAfter, resp.Meta.StartAfterID = nil, nil, nil, nil
		s.writeJSON(w, 200, resp)
		return true
	}
	return false
}
