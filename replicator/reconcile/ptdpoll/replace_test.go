package ptdpoll

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"ptsync/replicator/reconcile/kinds"
	"ptsync/replicator/sweepguard"
	"ptsync/store"
)

// A PTD children poll whose list was requested before the pusher created a task must neither
// drop that task from the mirror nor quarantine it (the reconciler would then delete it in
// HighLevel); a task that really vanished is still removed.
func TestReplaceTasksKeepsTasksNewerThanTheList(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "m.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	since := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	if err := db.Update(func(tx *store.Tx) error {
		for _, r := range []store.PTDTask{
			{ID: "pushed", ClientID: "p1", Title: "created by the pusher", FetchedAt: since.Add(time.Millisecond)},
			{ID: "gone", ClientID: "p1", Title: "deleted by the coach", FetchedAt: since.Add(-time.Hour)},
		} {
			if err := tx.PutPTDTask(&r); err != nil {
				return err
			}
		}
		for _, id := range []string{"pushed", "gone"} {
			if err := tx.PutLink(&store.Link{Kind: store.KindTask, GHLID: "g-" + id, PTDID: id}); err != nil {
				return err
			}
		}
		listed := store.PTDTask{ID: "listed", ClientID: "p1", Title: "listed", FetchedAt: since}
		task, _ := kinds.Find(kinds.DefaultChildKinds(), store.KindTask)
		note, _ := kinds.Find(kinds.DefaultChildKinds(), store.KindNote)
		if held, err := replaceChildren(tx, task, "p1", []store.ChildRecord{&listed}, since, sweepguard.Bounds{}); err != nil || held != nil {
			return fmt.Errorf("replace tasks: held %v, error %v", held, err)
		}
		_, err := replaceChildren(tx, note, "p1", nil, since, sweepguard.Bounds{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *store.Tx) error {
		got, err := tx.PTDTasksOf("p1")
		if err != nil {
			return err
		}
		ids := map[string]bool{}
		for _, r := range got {
			ids[r.ID] = true
		}
		if len(got) != 2 || !ids["pushed"] || !ids["listed"] {
			t.Errorf("mirror tasks %v, want pushed and listed", ids)
		}
		qs, err := tx.Quarantined()
		if err != nil {
			return err
		}
		if len(qs) != 1 || qs[0].ID != "gone" {
			t.Errorf("quarantine %+v, want only the vanished linked task", qs)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
