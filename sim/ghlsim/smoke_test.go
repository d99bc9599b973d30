package ghlsim

import (
	"testing"

	"ptsync/apiclient/ghlwire"
)

func TestSmoke(t *testing.T) {
	h := newHarness(t, Options{Seed: 1})
	h.sim.Seed(50)
	r := h.call("GET", "/contacts/?locationId="+h.sim.LocationID()+"&limit=5", nil)
	t.Logf("%d %s", r.status, r.body[:min(len(r.body), 600)])
	c := h.create(ghlwire.ContactInput{FirstName: ptr("Ann"), Email: ptr(" Ann@X.io ")})
	t.Logf("%+v", c)
	r = h.call("POST", "/contacts/search", ghlwire.SearchRequest{LocationID: h.sim.LocationID(), PageLimit: 2, Sort: []ghlwire.SearchSort{{Field: "dateUpdated", Direction: "asc"}}})
	t.Logf("%d %s", r.status, r.body)
	t.Logf("%v", h.sim.Counters())
}
