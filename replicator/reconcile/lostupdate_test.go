package reconcile_test

import (
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptdwire"
)

// A coach's PTD edit made between a plan and its push must not be overwritten by the push,
// even when the PTD poll refreshed the mirror in between (the reliability harness's fault
// soak lost such edits: the update's If-Match was the mirror's ETag at push time, which
// already covered the coach's edit, instead of the ETag the plan had read).
func TestPTDEditBetweenPlanAndPushIsNotOverwritten(t *testing.T) {
	tests := []struct {
		name        string
		pollBetween bool // the PTD poll refreshes the mirror between plan and push
	}{
		{"mirror still stale at push", false},
		{"mirror refreshed by the ptd poll before the push", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, hopts{})
			ids, rep := h.seed(6, 1, 0, 0, false)
			h.converge(4)
			m := rep.Matches[0]
			gid, pid := ids[m.Index], m.ClientID

			if _, err := h.gsim.UpdateContact(gid, ghlwire.ContactInput{FirstName: strp("FromGHL")}); err != nil {
				t.Fatal(err)
			}
			h.ingest()
			if _, err := h.eng.PollPTD(h.ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := h.eng.Reconcile(h.ctx); err != nil { // plans FromGHL -> PTD
				t.Fatal(err)
			}
			if _, err := h.psim.EditClient(pid, ptdwire.ClientInput{FirstName: strp("CoachLater")}); err != nil {
				t.Fatal(err)
			}
			if tc.pollBetween {
				if _, err := h.eng.PollPTD(h.ctx); err != nil {
					t.Fatal(err)
				}
			}
			_, _ = h.eng.Push(h.ctx)
			if c, _ := h.psim.Client(pid); c.FirstName != "CoachLater" {
				t.Fatalf("ptd firstName %q right after the push: the coach's later edit was overwritten", c.FirstName)
			}
			h.converge(6)
			g, _ := h.gsim.Contact(gid)
			p, _ := h.psim.Client(pid)
			if g.FirstName != "CoachLater" || p.FirstName != "CoachLater" {
				t.Fatalf("after convergence ghl %q ptd %q, want the newest edit CoachLater on both", g.FirstName, p.FirstName)
			}
		})
	}
}

// The same race on the HighLevel side, which has no conditional update: a user's edit made
// after the plan (the mirror had not seen it) must survive the push.
func TestGHLEditBetweenPlanAndPushIsNotOverwritten(t *testing.T) {
	h := newHarness(t, hopts{})
	ids, rep := h.seed(6, 1, 0, 0, false)
	h.converge(4)
	m := rep.Matches[0]
	gid, pid := ids[m.Index], m.ClientID

	if _, err := h.psim.EditClient(pid, ptdwire.ClientInput{FirstName: strp("FromPTD")}); err != nil {
		t.Fatal(err)
	}
	h.ingest()
	if _, err := h.eng.PollPTD(h.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.Reconcile(h.ctx); err != nil { // plans FromPTD -> HighLevel
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // HighLevel stamps milliseconds
	if _, err := h.gsim.UpdateContact(gid, ghlwire.ContactInput{FirstName: strp("UserLater")}); err != nil {
		t.Fatal(err)
	}
	_, _ = h.eng.Push(h.ctx)
	if c, _ := h.gsim.Contact(gid); c.FirstName != "UserLater" {
		t.Fatalf("ghl firstName %q right after the push: the user's later edit was overwritten", c.FirstName)
	}
	h.converge(6)
	g, _ := h.gsim.Contact(gid)
	p, _ := h.psim.Client(pid)
	if g.FirstName != "UserLater" || p.FirstName != "UserLater" {
		t.Fatalf("after convergence ghl %q ptd %q, want the newest edit UserLater on both", g.FirstName, p.FirstName)
	}
}
