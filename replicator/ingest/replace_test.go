package ingest

import (
	"path/filepath"
	"testing"
	"time"

	"ptsync/replicator/sweepguard"
	"ptsync/store"
)

// A children refresh whose list was read before the pusher created or updated a child must not
// undo the push: the harness saw a task created on PTD, pushed to HighLevel, then "deleted" by a
// refresh that had listed the contact's tasks a moment before the create, and the delete flowed
// back to PTD.
func TestReplaceKeepsChildrenNewerThanTheList(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "m.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	since := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	task := func(id, title string, at time.Time) store.GHLTask {
		return store.GHLTask{ID: id, ContactID: "c1", Title: title, FetchedAt: at}
	}
	if err := db.Update(func(tx *store.Tx) error {
		for _, r := range []store.GHLTask{
			task("pushed", "created by the pusher", since.Add(time.Millisecond)),
			task("edited", "edited by the pusher", since.Add(time.Millisecond)),
			task("old", "listed before", since.Add(-time.Hour)),
			task("gone", "deleted in HighLevel", since.Add(-time.Hour)),
		} {
			if err := tx.PutGHLTask(&r); err != nil {
				return err
			}
		}
		// The list (sent at since) knows neither the pushed task nor the edit, and lacks "gone".
		edited, old := task("edited", "before the edit", since), task("old", "listed again", since)
		listed := []store.ChildRecord{&edited, &old}
		held, err := replaceChildren(tx, kindFiles{}.Task(), "c1", listed, since, sweepguard.Bounds{})
		if held != nil {
			t.Errorf("one task of two missing was held as suspect: %+v", *held)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"pushed": "created by the pusher", "edited": "edited by the pusher", "old": "listed again"}
	var quarantined []string
	if err := db.View(func(tx *store.Tx) error {
		got, err := tx.GHLTasksOf("c1")
		if err != nil {
			return err
		}
		if len(got) != len(want) {
			t.Errorf("mirror holds %d tasks, want %d: %+v", len(got), len(want), got)
		}
		for _, r := range got {
			if want[r.ID] != r.Title {
				t.Errorf("task %s: title %q, want %q", r.ID, r.Title, want[r.ID])
			}
		}
		qs, err := tx.Quarantined()
		for _, q := range qs {
			quarantined = append(quarantined, q.ID)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(quarantined) != 1 || quarantined[0] != "gone" {
		t.Errorf("quarantined %v, want only [gone]", quarantined)
	}
}
