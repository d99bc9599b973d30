package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ptsync/store"
)

// TestStatusShowsAnUnfinishedBulkLoad: offline, a mirror whose first sync stopped with
// contacts staged says so (they are not queryable yet); once a read-write open finished the
// load, the line is gone.
func TestStatusShowsAnUnfinishedBulkLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mirror.db")
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	recs := []store.GHLContact{{ID: "c1", DateUpdated: now, Raw: json.RawMessage(`{}`)}, {ID: "c2", DateUpdated: now, Raw: json.RawMessage(`{}`)}}
	if err := db.Update(func(tx *store.Tx) error { return tx.StageGHLContacts(recs, now) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	status := func() string {
		var out, errOut bytes.Buffer
		if code := cmdStatus(context.Background(), []string{"--db", path}, &out, &errOut); code != exitOK {
			t.Fatalf("status exited %d: %s", code, errOut.String())
		}
		return out.String()
	}
	if out := status(); !strings.Contains(out, "bulk load 2 contacts staged") {
		t.Errorf("status of an unfinished bulk load lacks it:\n%s", out)
	}
	db, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if out := status(); strings.Contains(out, "bulk load") {
		t.Errorf("status still shows a bulk load after a read-write open finished it:\n%s", out)
	}
}
