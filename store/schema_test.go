package store_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"ptsync/store"
	"ptsync/store/storetest"
)

const v1Fixture = "testdata/schema1.db"

// TestGenerateSchema1Fixture rewrites testdata/schema1.db when PTSYNC_UPDATE_FIXTURES=1.
// Schema 1 is schema 2 without the task due-date indexes (ghl.tasks/due, ptd.tasks/due):
// the generator writes the fixture mirror, then removes those buckets and stamps version 1.
func TestGenerateSchema1Fixture(t *testing.T) {
	if os.Getenv("PTSYNC_UPDATE_FIXTURES") != "1" {
		t.Skip("set PTSYNC_UPDATE_FIXTURES=1 to regenerate " + v1Fixture)
	}
	db, path, _ := storetest.Open(t)
	_ = db.Close()
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{"ghl.tasks/due", "ptd.tasks/due"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				return err
			}
		}
		mb := tx.Bucket([]byte("meta"))
		if err := mb.Put([]byte("writer"), []byte("v0.1.0")); err != nil {
			return err
		}
		return mb.Put([]byte("schema"), binary.BigEndian.AppendUint32(nil, 1))
	})
	_ = bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Compact into a fresh file so the fixture is small and deterministic in content.
	out := filepath.Join(t.TempDir(), "compact.db")
	src, _ := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	dst, _ := bolt.Open(out, 0o600, nil)
	if err := bolt.Compact(dst, src, 0); err != nil {
		t.Fatal(err)
	}
	_, _ = src.Close(), dst.Close()
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(v1Fixture, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFixture(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(v1Fixture)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "old.db")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSchema1IsMigratedOnOpen(t *testing.T) {
	p := copyFixture(t)
	before, _ := os.ReadFile(p)

	_, err := store.Open(p, store.Options{ReadOnly: true})
	if !errors.Is(err, store.ErrNeedsMigration) || !strings.Contains(err.Error(), "schema version 1") {
		t.Fatalf("read-only open of schema 1 = %v, want ErrNeedsMigration", err)
	}
	if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
		t.Fatal("read-only open modified the file")
	}

	db, err := store.Open(p, store.Options{AppVersion: "v0.2.0"})
	if err != nil {
		t.Fatalf("migrating open: %v", err)
	}
	defer db.Close()
	if v, err := db.SchemaOf(); err != nil || v != store.SchemaVersion {
		t.Fatalf("schema after migration = %d, %v", v, err)
	}
	if err := db.Check(); err != nil {
		t.Fatalf("check after migration: %v", err)
	}
	var due []string
	err = db.View(func(tx *store.Tx) error {
		return tx.GHLTasksDueBefore(storetest.Now(), func(tk *store.GHLTask) error { due = append(due, tk.ID); return nil })
	})
	if err != nil || len(due) != 3 {
		t.Fatalf("due index after migration: %v %v (want 3 overdue tasks)", due, err)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	p := copyFixture(t)
	bdb, err := bolt.Open(p, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		mb := tx.Bucket([]byte("meta"))
		if err := mb.Put([]byte("writer"), []byte("v9.1.0")); err != nil {
			return err
		}
		return mb.Put([]byte("schema"), binary.BigEndian.AppendUint32(nil, 9))
	})
	_ = bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(p)
	for _, ro := range []bool{false, true} {
		_, err := store.Open(p, store.Options{ReadOnly: ro})
		var se *store.SchemaError
		if !errors.Is(err, store.ErrSchemaTooNew) || !errors.As(err, &se) || se.Found != 9 {
			t.Fatalf("readOnly=%v: Open = %v, want ErrSchemaTooNew", ro, err)
		}
		for _, want := range []string{"schema version 9", "ptsync v9.1.0", "supports schema 2", p} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q lacks %q", err, want)
			}
		}
	}
	if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
		t.Fatal("refused open modified the file")
	}
}
