package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"ptsync/store"
	"ptsync/store/storetest"
)

// TestSnapshotRoundTripKeepsEveryRecord: a running mirror snapshotted with the store's online
// backup and restored elsewhere holds the same buckets, keys and values, cursors included.
func TestSnapshotRoundTripKeepsEveryRecord(t *testing.T) {
	db, path, _ := storetest.Open(t)
	if err := db.Update(func(tx *store.Tx) error {
		return tx.SetCursor("contacts.search", store.Cursor{Value: "page-7", Through: storetest.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	snaps := &Snapshots{Dir: t.TempDir(), Replica: "r1"}
	snap, err := snaps.Save("locA", db.Backup)
	if err != nil {
		t.Fatal(err)
	}
	wantCursors := cursors(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	newest, err := snaps.Newest("locA")
	if err != nil || newest.Path != snap.Path {
		t.Fatalf("Newest = %v, %v; want %s", newest, err, snap.Path)
	}
	dst := filepath.Join(t.TempDir(), "replica2", "locA.db")
	if err := snaps.Restore(newest, dst); err != nil {
		t.Fatal(err)
	}
	if diff := compareBolt(t, path, dst); diff != "" {
		t.Fatalf("restored mirror differs: %s", diff)
	}
	restored, err := store.Open(dst, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if got := cursors(t, restored); !reflect.DeepEqual(got, wantCursors) || len(got) < 2 {
		t.Errorf("cursors after restore %v, want %v", got, wantCursors)
	}
}

func cursors(t *testing.T, db *store.DB) map[string]store.Cursor {
	t.Helper()
	var out map[string]store.Cursor
	if err := db.View(func(tx *store.Tx) (err error) { out, err = tx.Cursors(); return err }); err != nil {
		t.Fatal(err)
	}
	return out
}

// compareBolt walks both files' buckets (nested ones too) and returns the first difference.
func compareBolt(t *testing.T, a, b string) string {
	t.Helper()
	dump := func(path string) map[string]string {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		out := map[string]string{}
		var walk func(prefix string, b *bolt.Bucket)
		walk = func(prefix string, b *bolt.Bucket) {
			_ = b.ForEach(func(k, v []byte) error {
				if v == nil {
					walk(prefix+string(k)+"/", b.Bucket(k))
				} else {
					out[prefix+string(k)] = string(v)
				}
				return nil
			})
		}
		_ = db.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(name []byte, b *bolt.Bucket) error { walk(string(name)+"/", b); return nil })
		})
		return out
	}
	da, db := dump(a), dump(b)
	if len(da) < 20 {
		return fmt.Sprintf("only %d entries in the original: the fixture is not seeded", len(da))
	}
	for k, v := range da {
		if db[k] != v {
			return fmt.Sprintf("%s: %q, restored %q", k, v, db[k])
		}
	}
	if len(da) != len(db) {
		return fmt.Sprintf("%d entries, restored %d", len(da), len(db))
	}
	return ""
}

// TestSnapshotsNewestAndPrune: the newest is the last taken, Keep bound the count, a failed
// save leaves nothing, and ids that could leave the directory are refused.
func TestSnapshotsNewestAndPrune(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	snaps := &Snapshots{Dir: t.TempDir(), Replica: "r2", Keep: 2, Now: func() time.Time { now = now.Add(time.Second); return now }}
	if _, err := snaps.Newest("locA"); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("Newest of nothing: %v, want ErrNoSnapshot", err)
	}
	for i := range 4 {
		if _, err := snaps.Save("locA", func(w io.Writer) error { _, err := fmt.Fprint(w, i); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := snaps.Save("locA", func(io.Writer) error { return errors.New("disk gone") }); err == nil {
		t.Fatal("a failing write must fail the save")
	}
	entries, _ := os.ReadDir(filepath.Join(snaps.Dir, "locA"))
	newest, err := snaps.Newest("locA")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile(newest.Path)
	if len(entries) != 2 || string(body) != "3" || newest.Replica != "r2" {
		t.Errorf("after 4 saves with Keep 2 and a failed one: %d files, newest holds %q by %s; want 2, \"3\", r2", len(entries), body, newest.Replica)
	}
	for _, bad := range []string{"../etc", "a/b", "", "."} {
		if _, err := snaps.Save(bad, func(io.Writer) error { return nil }); err == nil {
			t.Errorf("Save(%q) accepted", bad)
		}
	}
}

// TestIdentifyWrites: writes carry the replica's name and are refused unsent while the fence
// is closed; reads pass unchanged either way.
func TestIdentifyWrites(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.Header.Get(ReplicaHeader))
	}))
	defer srv.Close()
	now := time.Now()
	fence := NewFence(time.Hour, func() time.Time { return now }, nil)
	client := &http.Client{Transport: IdentifyWrites(nil, "r1", fence)}
	do := func(method string) error {
		req, _ := http.NewRequest(method, srv.URL+"/contacts/", bytes.NewReader([]byte("{}")))
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := do(http.MethodPost); !errors.Is(err, ErrFenced) {
		t.Errorf("POST through a closed fence: %v, want ErrFenced", err)
	}
	if err := do(http.MethodGet); err != nil {
		t.Errorf("GET through a closed fence: %v", err)
	}
	fence.Renew(now)
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodGet} {
		if err := do(m); err != nil {
			t.Errorf("%s through an open fence: %v", m, err)
		}
	}
	if got, want := strings.Join(seen, ","), "GET ,PUT r1,DELETE r1,GET "; got != want {
		t.Errorf("server saw %q, want %q", got, want)
	}
}
