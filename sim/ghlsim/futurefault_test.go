package ghlsim

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
)

// TestFutureTimestampFault: set through the control surface for a while, the fault gives the
// first contact of each search answer dateUpdated FutureTimestamp in the answer only: its
// searchAfter, the other contacts and the stored contact keep their true values, and the
// fault is counted. After the window, answers are true again. Every answer's Date header is
// the simulator's clock.
func TestFutureTimestampFault(t *testing.T) {
	h := newHarness(t, Options{Seed: 8})
	h.sim.Seed(5)
	search := func() ghlwire.SearchResponse {
		t.Helper()
		r := h.call("POST", "/contacts/search", ghlwire.SearchRequest{LocationID: h.sim.LocationID(), PageLimit: 10,
			Sort: []ghlwire.SearchSort{{Field: "dateUpdated", Direction: "asc"}}})
		if r.status != 200 {
			t.Fatalf("search: %d %s", r.status, r.body)
		}
		if d, err := http.ParseTime(r.header.Get("Date")); err != nil || !d.Equal(h.clock.Now().Truncate(time.Second)) {
			t.Errorf("Date header %q, want the simulator's clock %s", r.header.Get("Date"), h.clock.Now())
		}
		var out ghlwire.SearchResponse
		r.decode(t, &out)
		return out
	}
	truth := search()
	if r := h.ctl("POST", "/_sim/faults", `{"futureTimestampFor":"10s"}`); r.status != 200 {
		t.Fatalf("set fault: %d %s", r.status, r.body)
	}
	for i := range 2 {
		got := search()
		first, stored := got.Contacts[0], truth.Contacts[0]
		if first.DateUpdated != FutureTimestamp {
			t.Errorf("answer %d: first contact dateUpdated %q, want %q", i, first.DateUpdated, FutureTimestamp)
		}
		if first.ID != stored.ID || fmt.Sprint(first.SearchAfter) != fmt.Sprint(stored.SearchAfter) {
			t.Errorf("answer %d: first contact %s searchAfter %v, want %s %v (the fault rewrites the stamp only)",
				i, first.ID, first.SearchAfter, stored.ID, stored.SearchAfter)
		}
		if got.Contacts[1].DateUpdated != truth.Contacts[1].DateUpdated {
			t.Errorf("answer %d: second contact restamped too", i)
		}
		if c, _ := h.sim.Contact(first.ID); c.DateUpdated != stored.DateUpdated {
			t.Errorf("stored contact restamped: %q", c.DateUpdated)
		}
	}
	h.clock.Advance(11 * time.Second)
	if got := search(); got.Contacts[0].DateUpdated != truth.Contacts[0].DateUpdated {
		t.Errorf("after the window: first contact %q, want the true %q", got.Contacts[0].DateUpdated, truth.Contacts[0].DateUpdated)
	}
	if n := h.sim.Counters().Faults[FaultFutureTimestamp]; n != 2 {
		t.Errorf("counted %d future-timestamp faults, want 2", n)
	}
	h.sim.SetFaults(Faults{FutureTimestampRate: 1})
	if got := search(); got.Contacts[0].DateUpdated != FutureTimestamp {
		t.Errorf("at rate 1: first contact %q, want %q", got.Contacts[0].DateUpdated, FutureTimestamp)
	}
}
