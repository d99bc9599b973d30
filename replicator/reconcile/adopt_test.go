package reconcile_test

import (
	"slices"
	"testing"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptdwire"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/store"
)

// A coach adds a client in PT Distinction after the listing the plan read and before the
// push creates it: the push finds the client by email and links it. The link says it was
// made by email (not "created"), carries no base (nothing was agreed, so the next cycle
// merges the two records like any email match: PTD's first name, the initial winner, stays),
// and the route for new clients leaves the coach's existing client alone.
func TestCreateThatFindsTheClientLinksItByEmail(t *testing.T) {
	h := newHarness(t, hopts{extra: `
mapping {
  initial_winner = "ptd"
}
route "vip" {
  when  = contains(tags, "vip")
  group = "VIP Coaching"
}
`})
	h.psim.AddGroup("VIP Coaching")
	c, err := h.gsim.CreateContact(ghlwire.ContactInput{FirstName: strp("Dana"), LastName: strp("Race"),
		Email: strp("dana.race@example.com"), Tags: []string{"vip"}})
	if err != nil {
		t.Fatal(err)
	}
	h.ingest()
	if _, err := h.eng.PollPTD(h.ctx); err != nil {
		t.Fatal(err)
	}
	p, err := h.eng.Reconcile(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Links) != 1 || p.Links[0].MatchedBy != outbox.MatchedByCreate {
		t.Fatalf("plan links %+v, want one create", p.Links)
	}
	coach, err := h.psim.CreateClient(ptdwire.ClientInput{Email: strp(" Dana.Race@example.com"), FirstName: strp("Danielle"), LastName: strp("Race")})
	if err != nil {
		t.Fatal(err)
	}
	h.cycle()     // the push finds the coach's client
	h.converge(4) // and the next cycles merge the pair

	l := h.linkOf(c.ID)
	if l.PTDID != coach.ID || l.MatchedBy != outbox.MatchedByEmail {
		t.Errorf("link %+v, want the coach's client %s matched by email", l, coach.ID)
	}
	if n := len(h.psim.Clients()); n != 1 {
		t.Errorf("PTD holds %d clients, want the coach's one", n)
	}
	got, _ := h.psim.Client(coach.ID)
	if len(got.Groups) != 0 {
		t.Errorf("the coach's client was routed as a new one: groups %v", got.Groups)
	}
	g, _ := h.gsim.Contact(c.ID)
	if g.FirstName != "Danielle" || got.FirstName != "Danielle" {
		t.Errorf("first names ghl %q ptd %q after the merge, want the initial winner PTD's %q on both", g.FirstName, got.FirstName, "Danielle")
	}
	var hist []store.HistoryEntry
	_ = h.db.View(func(tx *store.Tx) error { hist, _ = tx.History(l.ID); return nil })
	if !slices.ContainsFunc(hist, func(e store.HistoryEntry) bool { return e.Field == "firstName" && e.Rule == "initial" }) {
		t.Errorf("no initial merge of firstName in the link's history: %+v", hist)
	}
}
