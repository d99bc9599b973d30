package ingest

import (
	"context"
	"testing"
	"time"

	"ptsync/sim/ghlsim"
	"ptsync/store"
)

// TestBackfillStagesContactsAndBuildsIndexesAtTheEnd: during the first sync's search walk the
// new contacts are staged (not yet in the contacts bucket, their indexes not written), and
// when Backfill reports its children phase they are all stored, indexed and checked.
// SearchBatch of one page: otherwise pages already fetched share a transaction, however many.
func TestBackfillStagesContactsAndBuildsIndexesAtTheEnd(t *testing.T) {
	h := newHarness(t, 300, ghlsim.Options{Seed: 21}, Settings{SearchPageLimit: 50, SearchBatch: 50})
	var walk []store.BulkState
	var atChildren *store.BulkState
	var indexed int
	_, err := h.p.Backfill(context.Background(), func(pr Progress) {
		var bs store.BulkState
		if err := h.db.View(func(tx *store.Tx) error {
			var err error
			bs, err = tx.BulkState()
			if pr.Phase == PhaseChildren && pr.Done == 0 {
				err2 := tx.GHLContactsUpdatedSince(time.Time{}, func(*store.GHLContact) error { indexed++; return nil })
				if err == nil {
					err = err2
				}
			}
			return err
		}); err != nil {
			t.Error(err)
		}
		switch {
		case pr.Phase == PhaseContacts:
			walk = append(walk, bs)
		case pr.Phase == PhaseChildren && atChildren == nil:
			atChildren = &bs
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(walk) < 6 || walk[0].Staged != 50 || walk[len(walk)-1].Staged != 300 {
		t.Fatalf("during the walk (%d reports): %+v; want 50 contacts staged per transaction (one page each), 300 at the end", len(walk), walk)
	}
	if atChildren == nil || atChildren.Pending() || indexed != 300 {
		t.Fatalf("at the children phase: %+v, %d contacts indexed by dateUpdated; want nothing pending, 300", atChildren, indexed)
	}
	if err := h.db.Check(); err != nil {
		t.Fatal(err)
	}
}
