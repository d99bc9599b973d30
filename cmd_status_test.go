package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"ptsync/store"
)

// TestStatusShowsEachCursorBesideNow: offline, `ptsync status` prints the HighLevel search
// cursor and the PT Distinction client cursor with their Through and how far behind now they
// are, and a cursor left in the future by the code before issue #22 reads "ahead by", so an
// operator sees a stuck cursor at a glance.
func TestStatusShowsEachCursorBesideNow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mirror.db")
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := db.Update(func(tx *store.Tx) error {
		if err := tx.SetCursor("ghl.contacts.search", store.Cursor{Covers: store.GHLContacts, Through: now.Add(-10 * time.Minute)}); err != nil {
			return err
		}
		if err := tx.SetCursor("ptd.clients", store.Cursor{Value: "opaque", Covers: store.PTDClients, Through: now.Add(-90 * time.Minute)}); err != nil {
			return err
		}
		return tx.SetCursor("old.stuck", store.Cursor{Covers: store.GHLContacts, Through: now.Add(30 * 24 * time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := cmdStatus(context.Background(), []string{"--db", path}, &out, &errOut); code != exitOK {
		t.Fatalf("status exited %d: %s", code, errOut.String())
	}
	t.Logf("\n%s", out.String())
	for _, want := range []string{
		`(?m)^ghl\.contacts\.search\s+\S+\s+10m[0-9]s\s`,
		`(?m)^ptd\.clients\s+\S+\s+1h30m[0-9]s\s`,
		`(?m)^old\.stuck\s+\S+\s+ahead by 7[12][0-9]h[0-9]+m[0-9]+s\s`,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("status lacks a line matching %s", want)
		}
	}
}
