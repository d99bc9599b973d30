package sweepguard

import (
	"path/filepath"
	"testing"

	"ptsync/store"
)

// TestHeldSweepApprovedGivesDeniedConfirmations: two suspect sweeps of a real mirror confirm
// nothing; approving gives each miss still mirrored the two confirmations, a miss listed
// again in the second sweep none; the record's return then only marks an applied entry.
func TestHeldSweepApprovedGivesDeniedConfirmations(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "m.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.Update(func(tx *store.Tx) error {
		for _, id := range []string{"a", "b", "c", "d"} {
			if err := tx.PutGHLContact(&store.GHLContact{ID: id}); err != nil {
				return err
			}
		}
		return nil
	}))
	sweep := func(missing ...string) {
		must(db.Update(func(tx *store.Tx) error {
			ev := Evidence{Side: store.SideGHL, Kind: store.KindContact, Mirrored: 4, Listed: 4 - len(missing), Reported: -1, Missing: missing}
			v := Judge(Bounds{MaxShare: 0.5, MaxCount: 50}, ev)
			if !v.Suspect {
				t.Fatalf("sweep missing %v believed", missing)
			}
			_, err := Record(tx, ev, v)
			return err
		}))
	}
	sweep("a", "b", "c")
	sweep("a", "b", "d") // c was listed again; d is missing once
	var got []Approval
	must(db.Update(func(tx *store.Tx) error {
		if qs, _ := tx.Quarantined(); len(qs) != 0 {
			t.Errorf("suspect sweeps quarantined %v", qs)
		}
		var err error
		got, err = Approve(tx, AllHeld)
		return err
	}))
	if len(got) != 1 || got[0].Confirmed != 3 {
		t.Fatalf("approval: %+v, want 3 confirmed", got)
	}
	want := map[string]int{"a": 2, "b": 2, "d": 1}
	must(db.Update(func(tx *store.Tx) error {
		qs, err := tx.Quarantined()
		if err != nil {
			return err
		}
		if len(qs) != len(want) {
			t.Errorf("quarantine %+v, want %v", qs, want)
		}
		for _, q := range qs {
			if q.Confirmations != want[q.ID] {
				t.Errorf("%s: %d confirmations, want %d", q.ID, q.Confirmations, want[q.ID])
			}
		}
		if hs, _ := tx.HeldSweeps(); len(hs) != 0 {
			t.Errorf("held sweeps after approval: %v", hs)
		}
		// a's policy applied; b's not: a returned entry stays until undone, b's goes.
		if err := tx.RecordApplied(store.KindContact, store.SideGHL, "a", store.AppliedPolicy{Policy: "tag", TagAdded: "x"}); err != nil {
			return err
		}
		for _, id := range []string{"a", "b"} {
			if err := tx.PutGHLContact(&store.GHLContact{ID: id}); err != nil {
				return err
			}
		}
		if q, err := tx.QuarantineEntryOf(store.KindContact, store.SideGHL, "a"); err != nil || q.Returned.IsZero() || q.Applied == nil {
			t.Errorf("a came back after its policy: %+v, %v; want the entry kept, marked returned", q, err)
		}
		if _, err := tx.QuarantineEntryOf(store.KindContact, store.SideGHL, "b"); err == nil {
			t.Errorf("b came back without a policy applied and is still quarantined")
		}
		_, err = Approve(tx, "ghl/contact")
		if err == nil {
			t.Errorf("approving a sweep that is no longer held succeeded")
		}
		return nil
	}))
}
