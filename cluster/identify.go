package cluster

import (
	"fmt"
	"net/http"
)

// ReplicaHeader carries the writing replica's name on every write, so the upstream's (or a
// simulator's) journal can prove that no two replicas wrote for one location at once.
const ReplicaHeader = "X-Ptsync-Replica"

// IdentifyWrites wraps next so that every request other than GET, HEAD and OPTIONS carries
// ReplicaHeader and is refused with ErrFenced, never sent, while fence is closed. Reads pass
// unchanged: a fenced replica may still read, it only must not change anything. The request
// is cloned, never modified.
func IdentifyWrites(next http.RoundTripper, replica string, fence *Fence) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		switch req.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next.RoundTrip(req)
		}
		if err := fence.Allow(); err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, fmt.Errorf("cannot send %s %s: %w", req.Method, req.URL.Path, err)
		}
		r := req.Clone(req.Context())
		r.Header.Set(ReplicaHeader, replica)
		return next.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
