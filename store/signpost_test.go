package store_test

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"ptsync/store"
)

func TestSignpost(t *testing.T) {
	sent := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	overlap := 2 * time.Minute
	future := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		answered time.Time
		wantAt   time.Time
	}{
		{"the answer's Date is the remote's clock", sent.Add(30 * time.Second), sent.Add(30 * time.Second)},
		{"a remote clock behind ours is taken too", sent.Add(-time.Hour), sent.Add(-time.Hour)},
		{"no Date header: our clock when the request left", time.Time{}, sent},
		{"a Date far ahead of our clock is as suspect as the records", future, sent},
		{"a Date just within the lead is believed", sent.Add(store.MaxRemoteClockLead), sent.Add(store.MaxRemoteClockLead)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp := store.NewSignpost(tc.answered, sent, overlap)
			if !sp.At.Equal(tc.wantAt) || !sp.Bound.Equal(tc.wantAt.Add(-overlap)) {
				t.Fatalf("signpost %+v, want at %s and bound %s", sp, tc.wantAt, tc.wantAt.Add(-overlap))
			}
		})
	}

	sp := store.NewSignpost(sent, sent, overlap)
	old := sent.Add(-time.Hour)
	for _, tc := range []struct {
		name         string
		prev, newest time.Time
		want         time.Time
	}{
		{"an older page moves the cursor to its newest record", old, old.Add(time.Minute), old.Add(time.Minute)},
		{"a page older than the cursor leaves it", old, old.Add(-time.Minute), old},
		{"a record from the future moves it to the bound only", old, future, sp.Bound},
		{"a recent edit within the overlap moves it to the bound only", old, sent.Add(-time.Second), sp.Bound},
		{"a cursor already in the future is pulled back to the bound", future, old, sp.Bound},
		{"an empty page on a fresh cursor leaves it at zero", time.Time{}, time.Time{}, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sp.Through(tc.prev, tc.newest); !got.Equal(tc.want) {
				t.Fatalf("Through(%s, %s) = %s, want %s", tc.prev, tc.newest, got, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		stamp time.Time
		want  bool
	}{
		{sent.Add(-time.Minute), false},
		{sent.Add(999 * time.Millisecond), false}, // within the Date header's second
		{sent.Add(1500 * time.Millisecond), true},
		{future, true},
	} {
		if got := sp.Future(tc.stamp); got != tc.want {
			t.Errorf("Future(%s) with the answer at %s = %v, want %v", tc.stamp, sp.At, got, tc.want)
		}
	}
}

// TestRepairFutureCursors writes a mirror as the code before bounded cursors left it after a
// record stamped 2030 came through on each side (the record, and the cursors moved to it),
// closes it, reopens the file and repairs it: each cursor over a collection that lies in the
// future is pulled back to the newest record of its collection not in the future (its
// opaque Value cleared), the others are left alone, the file still passes Check, and a
// second repair finds nothing.
func TestRepairFutureCursors(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	future := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ghlNewest := now.Add(-3 * time.Hour).Add(123 * time.Millisecond)
	ptdNewest := now.Add(-time.Minute)
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := store.Open(path, store.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	untouched := map[string]store.Cursor{
		"ptd.children.rotation": {Value: "c-9", Through: future},                             // no record collection
		"healthy":               {Value: "v", Covers: store.GHLContacts, Through: ghlNewest}, // behind the clock
		"within tolerance":      {Value: "w", Covers: store.PTDClients, Through: now.Add(store.FutureCursorTolerance)},
	}
	if err := db.Update(func(tx *store.Tx) error {
		for i, ts := range []time.Time{now.Add(-48 * time.Hour), ghlNewest, future} {
			c := store.GHLContact{ID: "c" + string(rune('1'+i)), DateUpdated: ts}
			if err := tx.PutGHLContact(&c); err != nil {
				return err
			}
		}
		for i, ts := range []time.Time{ptdNewest, future.Add(time.Millisecond)} {
			c := store.PTDClient{ID: "p" + string(rune('1'+i)), Email: string(rune('a'+i)) + "@example.com", UpdatedAt: ts}
			if err := tx.PutPTDClient(&c); err != nil {
				return err
			}
		}
		cursors := map[string]store.Cursor{
			"ghl.contacts.search": {Value: `[1893456000000,"c3"]`, Covers: store.GHLContacts, Through: future},
			"ptd.clients":         {Value: "djF8MTg5MzQ1NjAwMDAwMTAwMDAwMHxwMg", Covers: store.PTDClients, Through: future.Add(time.Millisecond)},
		}
		for name, c := range untouched {
			cursors[name] = c
		}
		for name, c := range cursors {
			c.UpdatedAt = now.Add(-time.Hour)
			if err := tx.SetCursor(name, c); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = store.Open(path, store.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	repairs, err := db.RepairFutureCursors(now, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.CursorRepair{
		{Name: "ghl.contacts.search", Was: future, To: ghlNewest},
		{Name: "ptd.clients", Was: future.Add(time.Millisecond), To: ptdNewest},
	}
	if !reflect.DeepEqual(repairs, want) {
		t.Fatalf("repairs %+v\nwant    %+v", repairs, want)
	}
	if err := db.View(func(tx *store.Tx) error {
		got, err := tx.Cursors()
		if err != nil {
			return err
		}
		for _, r := range want {
			if c := got[r.Name]; c.Value != "" || !c.Through.Equal(r.To) || !c.UpdatedAt.Equal(now) {
				t.Errorf("cursor %s after the repair: %+v, want through %s, no value, updated now", r.Name, c, r.To)
			}
		}
		for name, w := range untouched {
			if c := got[name]; c.Value != w.Value || !c.Through.Equal(w.Through) || !c.UpdatedAt.Equal(now.Add(-time.Hour)) {
				t.Errorf("cursor %s changed: %+v, want %+v", name, c, w)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Errorf("check after the repair: %v", err)
	}
	if again, err := db.RepairFutureCursors(now, 2*time.Minute); err != nil || len(again) != 0 {
		t.Errorf("second repair: %+v, %v; want nothing", again, err)
	}
}

// TestRepairFutureCursorWithNoRecordBeforeNow: when every record of the collection is in the
// future, the cursor goes back to now less the overlap.
func TestRepairFutureCursorWithNoRecordBeforeNow(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	future := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	db, err := store.Open(filepath.Join(t.TempDir(), "m.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *store.Tx) error {
		if err := tx.PutGHLContact(&store.GHLContact{ID: "c1", DateUpdated: future}); err != nil {
			return err
		}
		return tx.SetCursor("ghl.contacts.search", store.Cursor{Covers: store.GHLContacts, Through: future})
	}); err != nil {
		t.Fatal(err)
	}
	repairs, err := db.RepairFutureCursors(now, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(repairs) != 1 || !repairs[0].To.Equal(now.Add(-2*time.Minute)) {
		t.Fatalf("repairs %+v, want one to %s", repairs, now.Add(-2*time.Minute))
	}
}
