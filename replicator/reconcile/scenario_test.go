package reconcile_test

import (
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptdwire"
	"ptsync/replicator/reconcile"
	"ptsync/sim/gen"
	"ptsync/sim/ptdsim"
	"ptsync/store"
)

// seed puts n generated people in HighLevel and overlaps them into PTD.
func (h *harness) seed(n int, overlap, phoneOnly float64, own int, children bool) ([]string, ptdsim.SeedReport) {
	h.t.Helper()
	people := gen.New(5).People(n)
	if !children {
		for i := range people {
			people[i].Tasks, people[i].Notes, people[i].Appointments = nil, nil, nil
		}
	}
	ids := h.gsim.SeedPeople(people)
	rep, err := h.psim.Seed(ptdsim.SeedOptions{People: people, Overlap: overlap, PhoneOnly: phoneOnly, Own: own, OwnSeed: 99, Seed: 3, Children: children})
	if err != nil {
		h.t.Fatal(err)
	}
	return ids, rep
}

func (h *harness) writes() (int64, int64) {
	return h.gsim.Counters().Writes, h.psim.Stats().Writes
}

// Acceptance 1 and 6: 1,000 HighLevel contacts, 800 PTD clients, 600 overlapping by email
// (case and white space differ) and 50 by phone only: one link per person, no duplicates on
// either side, and after convergence ten idle cycles write nothing and the plan is empty.
func TestLinkingAtScaleAndIdleCycles(t *testing.T) {
	h := newHarness(t, hopts{dirtyChildrenOnly: true, tweak: func(o *reconcile.Options) { o.PTDChildrenPerPoll = 100 }})
	ids, rep := h.seed(1000, 0.65, 50.0/650, 150, false)
	email, phone := 0, 0
	for _, m := range rep.Matches {
		if m.Kind == ptdsim.MatchEmail {
			email++
		} else {
			phone++
		}
	}
	t.Logf("seeded: %d ghl, %d ptd (%d by email, %d by phone only, %d own)", len(ids), rep.Clients, email, phone, rep.Own)
	if email < 550 || phone < 30 || rep.Clients < 750 {
		t.Fatalf("seed shape off: %d email, %d phone, %d clients", email, phone, rep.Clients)
	}
	gBefore, pBefore := h.gsim.ContactCount(), len(h.psim.Clients())
	cycles := h.converge(6)
	t.Logf("converged in %d cycles", cycles)

	for _, m := range rep.Matches {
		l := h.linkOf(ids[m.Index])
		if l.PTDID != m.ClientID {
			t.Errorf("person %d (%s match): linked to ptd %q, want %q", m.Index, m.Kind, l.PTDID, m.ClientID)
		}
		if l.MatchedBy != m.Kind && !(m.Kind == ptdsim.MatchPhoneOnly && l.MatchedBy == "phone") {
			t.Errorf("person %d matched by %q, want %q", m.Index, l.MatchedBy, m.Kind)
		}
	}
	var links, created int
	_ = h.db.View(func(tx *store.Tx) error {
		return tx.ForEachLink(func(l *store.Link) error {
			if l.Kind == store.KindContact {
				links++
				if l.MatchedBy == "created" {
					created++
				}
			}
			return nil
		})
	})
	gAfter, pAfter := h.gsim.ContactCount(), len(h.psim.Clients())
	if got := (gAfter - gBefore) + (pAfter - pBefore); got != created {
		t.Errorf("records created %d (ghl %d, ptd %d), links marked created %d", got, gAfter-gBefore, pAfter-pBefore, created)
	}
	rp := h.check()
	t.Logf("links %d, created %d (ghl +%d, ptd +%d); %s", links, created, gAfter-gBefore, pAfter-pBefore, rp)

	gw, pw := h.writes()
	for i := range 10 {
		st := h.cycle()
		if !st.Plan.IsEmpty() {
			t.Fatalf("idle cycle %d planned %d writes: %+v", i, len(st.Plan.Writes), st.Plan.Writes[:min(3, len(st.Plan.Writes))])
		}
	}
	if g2, p2 := h.writes(); g2 != gw || p2 != pw {
		t.Errorf("idle cycles wrote: ghl %d, ptd %d", g2-gw, p2-pw)
	}
	p, err := h.eng.Plan(h.ctx)
	if err != nil || !p.IsEmpty() {
		t.Errorf("plan after convergence: %v, %d writes", err, len(p.Writes))
	}
}

// Acceptance 2: an edit on either side reaches the other within one cycle; edits on both
// sides follow the configured rule; manual conflicts wait and resolve from there.
func TestEditsFlowAndConflicts(t *testing.T) {
	h := newHarness(t, hopts{extra: `
mapping {
  initial_winner = "ptd"
  field "email" {}
  field "firstName" {}
  field "lastName" { conflict = "ghl" }
  field "phone" { conflict = "manual" }
  field "tags" {}
}`})
	ids, rep := h.seed(12, 1, 0, 0, false)
	h.converge(4)
	m := rep.Matches[0]
	gid, pid := ids[m.Index], m.ClientID

	t.Run("ghl edit reaches ptd in one cycle", func(t *testing.T) {
		if _, err := h.gsim.UpdateContact(gid, ghlwire.ContactInput{FirstName: strp("Georgina")}); err != nil {
			t.Fatal(err)
		}
		h.cycle()
		if c, _ := h.psim.Client(pid); c.FirstName != "Georgina" {
			t.Fatalf("ptd firstName %q", c.FirstName)
		}
	})
	t.Run("ptd edit reaches ghl in one cycle", func(t *testing.T) {
		if _, err := h.psim.EditClient(pid, ptdwire.ClientInput{LastName: strp("Okafor-Smith")}); err != nil {
			t.Fatal(err)
		}
		h.cycle()
		if c, _ := h.gsim.Contact(gid); c.LastName != "Okafor-Smith" {
			t.Fatalf("ghl lastName %q", c.LastName)
		}
	})
	t.Run("both sides edited: rule ghl wins", func(t *testing.T) {
		h.gsim.UpdateContact(gid, ghlwire.ContactInput{LastName: strp("FromGHL")})
		h.psim.EditClient(pid, ptdwire.ClientInput{LastName: strp("FromPTD")})
		h.cycle()
		g, _ := h.gsim.Contact(gid)
		p, _ := h.psim.Client(pid)
		if g.LastName != "FromGHL" || p.LastName != "FromGHL" {
			t.Fatalf("ghl %q ptd %q, want FromGHL on both", g.LastName, p.LastName)
		}
	})
	t.Run("both sides edited: newest wins", func(t *testing.T) {
		h.gsim.UpdateContact(gid, ghlwire.ContactInput{FirstName: strp("Older")})
		time.Sleep(5 * time.Millisecond) // the two systems stamp milliseconds; a tie goes to HighLevel
		h.psim.EditClient(pid, ptdwire.ClientInput{FirstName: strp("Newer")})
		h.cycle()
		g, _ := h.gsim.Contact(gid)
		p, _ := h.psim.Client(pid)
		if g.FirstName != "Newer" || p.FirstName != "Newer" {
			t.Fatalf("ghl %q ptd %q, want Newer on both", g.FirstName, p.FirstName)
		}
	})
	t.Run("manual conflict waits and resolves", func(t *testing.T) {
		h.gsim.UpdateContact(gid, ghlwire.ContactInput{Phone: strp("+1 202 555 0147")})
		h.psim.EditClient(pid, ptdwire.ClientInput{Phone: strp("+1 202 555 0199")})
		h.cycle()
		h.cycle() // a second cycle must not duplicate the conflict
		var open []store.Conflict
		_ = h.db.View(func(tx *store.Tx) error { open, _ = tx.Conflicts("", false); return nil })
		if len(open) != 1 || open[0].Field != "phone" {
			t.Fatalf("open conflicts %+v", open)
		}
		g, _ := h.gsim.Contact(gid)
		p, _ := h.psim.Client(pid)
		if g.Phone == p.Phone {
			t.Fatalf("manual field was written: %q", g.Phone)
		}
		if _, err := h.eng.ResolveConflict(h.ctx, open[0].LinkID, "phone", reconcileTake("ptd")); err != nil {
			t.Fatal(err)
		}
		h.converge(3)
		g, _ = h.gsim.Contact(gid)
		if g.Phone != "+12025550199" {
			t.Fatalf("ghl phone after resolve %q", g.Phone)
		}
		_ = h.db.View(func(tx *store.Tx) error { open, _ = tx.Conflicts("", false); return nil })
		if len(open) != 0 {
			t.Fatalf("conflicts left: %+v", open)
		}
	})
	h.check()
}
