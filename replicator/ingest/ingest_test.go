package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/sim/ghlsim"
	"ptsync/store"
)

// TestOnePercentCycleCost is acceptance 2: after the first full sync, a cycle in which 1 % of
// the contacts changed costs at most 1.2 x the minimum API calls (search pages plus three child
// calls per changed contact), counted by the simulator's per-route counters.
func TestOnePercentCycleCost(t *testing.T) {
	const n = 2000
	h := newHarness(t, n, ghlsim.Options{Seed: 3, ChildWritesBumpContact: true}, Settings{})
	h.backfill(t)
	if got := h.count(t, store.GHLContacts); got != n {
		t.Fatalf("backfill mirrored %d contacts, want %d", got, n)
	}
	time.Sleep(5 * time.Millisecond) // changes get a dateUpdated after every seeded one
	h.sim.ResetCounters()
	changed := h.sim.ChurnStep(n / 100)
	ctx := context.Background()
	inc, err := h.p.Incremental(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := h.p.Children(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := h.sim.Requests()
	search := req["POST /contacts/search"]
	children := req["GET /contacts/{contactId}/tasks"] + req["GET /contacts/{contactId}/notes"] + req["GET /contacts/{contactId}/appointments"]
	total := h.sim.Counters().Total
	minimum := int64(1 + 3*len(changed))
	ratio := float64(total) / float64(minimum)
	t.Logf("1%% cycle: %d contacts changed; calls: search %d + children %d = %d (all routes %d); minimum %d; ratio %.3f; re-read in overlap %d; rotation %d",
		len(changed), search, children, search+children, total, minimum, ratio, inc.Unchanged, ch.Swept)
	if inc.Changed != len(changed) {
		t.Errorf("incremental found %d changed contacts, want %d", inc.Changed, len(changed))
	}
	if ch.Dirty != len(changed) {
		t.Errorf("children refreshed %d dirty contacts, want %d", ch.Dirty, len(changed))
	}
	if ratio > 1.2 {
		t.Errorf("cycle cost %d calls, more than 1.2 x the minimum %d", total, minimum)
	}
}

// TestIncrementalOverlapDeduplicates: rows re-read in the overlap window are not changes, the
// cursor only moves forward, and a lagging search does not overwrite a newer mirror copy.
func TestIncrementalOverlapDeduplicates(t *testing.T) {
	h := newHarness(t, 50, ghlsim.Options{Seed: 4}, Settings{Overlap: 24 * 365 * time.Hour})
	h.backfill(t)
	ctx := context.Background()
	for i := range 2 {
		st, err := h.p.Incremental(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Changed != 0 || st.Unchanged == 0 {
			t.Errorf("run %d: changed %d, re-read %d; want 0 changed and the overlap re-read", i, st.Changed, st.Unchanged)
		}
	}
	id := h.sim.Contacts()[0].ID
	city := "Reykjavik"
	if _, err := h.sim.UpdateContact(id, ghlwire.ContactInput{City: &city}); err != nil {
		t.Fatal(err)
	}
	st, err := h.p.Incremental(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Changed != 1 {
		t.Errorf("after one edit: changed %d, want 1", st.Changed)
	}
	c, _ := h.contact(t, id)
	if want := `"city":"Reykjavik"`; !strings.Contains(string(c.Raw), want) {
		t.Errorf("mirrored raw contact lacks %s", want)
	}
	if err := h.db.Check(); err != nil {
		t.Errorf("mirror check after incremental runs: %v", err)
	}
}

// TestSearchRefusedFallsBackToSweep: a refused search (422 here) makes the incremental job
// sweep instead, and the sweep still mirrors everything.
func TestSearchRefusedFallsBackToSweep(t *testing.T) {
	h := newHarness(t, 120, ghlsim.Options{Seed: 5}, Settings{SearchPageLimit: 501}) // 501 > 500: HighLevel answers 422
	st, err := h.p.Incremental(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !st.SweptInstead {
		t.Fatal("incremental did not fall back to a sweep")
	}
	if got := h.count(t, store.GHLContacts); got != 120 {
		t.Errorf("sweep fallback mirrored %d contacts, want 120", got)
	}
	h.sim.ResetCounters()
	if _, err := h.p.Incremental(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := h.sim.Requests()["POST /contacts/search"]; n != 0 {
		t.Errorf("search retried %d times within SearchRetryAfter", n)
	}
}

// TestSweepQuarantinesDeletedAndReleasesReappeared is acceptance 3.
func TestSweepQuarantinesDeletedAndReleasesReappeared(t *testing.T) {
	h := newHarness(t, 230, ghlsim.Options{Seed: 6}, Settings{SweepPageLimit: 50})
	h.backfill(t)
	ctx := context.Background()
	victim := h.sim.Contacts()[17]
	if err := h.sim.DeleteContact(victim.ID); err != nil {
		t.Fatal(err)
	}
	st, err := h.p.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Quarantined != 1 || !h.quarantined(t, store.KindContact, victim.ID) {
		t.Fatalf("sweep quarantined %d contacts; victim quarantined: %v", st.Quarantined, h.quarantined(t, store.KindContact, victim.ID))
	}
	if _, ok := h.contact(t, victim.ID); !ok {
		t.Error("the quarantined contact's record was dropped from the mirror; it must be held")
	}
	if st.Pages != 5 || st.Seen != 229 {
		t.Errorf("sweep read %d pages, %d contacts; want 5 pages, 229 contacts", st.Pages, st.Seen)
	}
	// Reappearance (listed again by a later sweep) is TestSweepReleasesListedQuarantinedContact.
}

// TestSweepReleasesListedQuarantinedContact: a quarantined contact that a complete sweep
// lists again is released even though its dateUpdated did not change.
func TestSweepReleasesListedQuarantinedContact(t *testing.T) {
	h := newHarness(t, 40, ghlsim.Options{Seed: 8}, Settings{})
	h.backfill(t)
	id := h.sim.Contacts()[3].ID
	if err := h.db.Update(func(tx *store.Tx) error {
		_, err := tx.QuarantineDelete(store.KindContact, store.SideGHL, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	st, err := h.p.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Released != 1 || h.quarantined(t, store.KindContact, id) {
		t.Errorf("released %d; still quarantined: %v", st.Released, h.quarantined(t, store.KindContact, id))
	}
	if st.Quarantined != 0 {
		t.Errorf("sweep of an unchanged location quarantined %d contacts", st.Quarantined)
	}
}

// TestChildrenFollowDeletesAndGoneContacts: a task deleted in HighLevel leaves the mirror with
// a quarantine entry; a contact that 404s is quarantined and leaves the dirty queue.
func TestChildrenFollowDeletesAndGoneContacts(t *testing.T) {
	h := newHarness(t, 30, ghlsim.Options{Seed: 9}, Settings{})
	h.backfill(t)
	ctx := context.Background()
	var withTask, other string
	for _, c := range h.sim.Contacts() {
		if withTask == "" && len(h.sim.Tasks(c.ID)) > 0 {
			withTask = c.ID
		} else if other == "" {
			other = c.ID
		}
	}
	task := h.sim.Tasks(withTask)[0]
	if err := h.sim.DeleteTask(withTask, task.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.DeleteContact(other); err != nil {
		t.Fatal(err)
	}
	st := h.p.RefreshChildren(ctx, []string{withTask, other}, ReasonDirty, nil)
	if st.FirstErr != nil {
		t.Fatal(st.FirstErr)
	}
	if !h.quarantined(t, store.KindTask, task.ID) {
		t.Error("deleted task not quarantined")
	}
	if !h.quarantined(t, store.KindContact, other) || st.Gone != 1 {
		t.Errorf("gone contact: quarantined %v, gone %d", h.quarantined(t, store.KindContact, other), st.Gone)
	}
	_ = h.db.View(func(tx *store.Tx) error {
		if _, err := tx.GetGHLTask(withTask, task.ID); err == nil {
			t.Error("deleted task still in the mirror")
		}
		return nil
	})
}

func TestSweepNeed(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	period, interval := 24*time.Hour, 5*time.Minute
	same := func(n int, at time.Time) []time.Time {
		out := make([]time.Time, n)
		for i := range out {
			out[i] = at
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		fetched []time.Time
		want    int
	}{
		{"fresh after backfill needs nothing", same(2000, now), 0},
		{"never fetched is due now", same(5, time.Time{}), 5},
		{"overdue is due now", same(3, now.Add(-25*time.Hour)), 3},
		{"all due in one run: what later runs cannot absorb", same(100, now.Add(-period+interval)), 98}, // capacity 2 per later run, one later run before the deadline
		{"empty", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := SweepQuota(len(tc.fetched), interval, period)
			if got := SweepNeed(tc.fetched, now, interval, period, max(2*q, 1)); got != tc.want {
				t.Errorf("SweepNeed = %d, want %d (capacity %d)", got, tc.want, 2*q)
			}
		})
	}
}
