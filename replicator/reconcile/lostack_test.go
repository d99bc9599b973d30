package reconcile_test

import (
	"testing"
	"time"

	"ptsync/apiclient/ptdwire"
	"ptsync/sim/ghlsim"
)

// A HighLevel update that landed although its response was lost (a malformed 200: the write
// ran, the client saw an error) must not later pass for a user's edit. The reliability
// harness's fault soak lost a coach's PTD edit this way: the push of an older PTD value
// (planned before the coach's edit) landed on HighLevel with a fresh dateUpdated, its retry's
// re-read took the contact's move for someone else's change and dropped the entry without
// committing the base, and the next merge saw both sides changed and let the newest rule
// pick HighLevel's copy, which was only the older PTD value coming back.
func TestLandedGHLUpdateWithLostResponseIsNotAnEdit(t *testing.T) {
	tests := []struct {
		name   string
		faults []ghlsim.FaultKind // for the push's requests: the re-read, then the update
	}{
		{"malformed response", []ghlsim.FaultKind{"", ghlsim.FaultMalformed}},
		{"wrong content type", []ghlsim.FaultKind{"", ghlsim.FaultWrongContentType}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, hopts{})
			gid, pid := h.syncedPair()
			// Plans Earlier -> HighLevel.
			h.planPTDEdit(pid, ptdwire.ClientInput{FirstName: strp("Earlier")})
			if _, err := h.psim.EditClient(pid, ptdwire.ClientInput{FirstName: strp("CoachLater")}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond) // HighLevel stamps milliseconds
			h.gsim.InjectNext(tc.faults...)
			before := len(h.rec.all())
			// The PUT lands, its response is lost; the push reads again before another
			// attempt and must recognise its own write rather than send it twice.
			if _, err := h.eng.Push(h.ctx); err != nil {
				t.Fatal(err)
			}
			if g, _ := h.gsim.Contact(gid); g.FirstName != "Earlier" {
				t.Fatalf("setup: ghl firstName %q after the faulty push, want the landed write Earlier", g.FirstName)
			}
			puts := 0
			for _, r := range h.rec.all()[before:] {
				if r.method == "PUT" && r.path == "/contacts/"+gid {
					puts++
				}
			}
			if puts != 1 || h.outboxLen() != 0 {
				t.Fatalf("%d PUTs and %d outbox entries after the push; want the landed PUT once and the entry finished", puts, h.outboxLen())
			}
			h.convergeToFirstName(8, gid, pid, "CoachLater")
		})
	}
}
