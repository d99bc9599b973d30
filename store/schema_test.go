package store_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
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
// the generator writes the fixture mirror, turns it into schema 2 (asSchema2), then removes
// those buckets and stamps version 1.
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
		if err := asSchema2(tx); err != nil {
			return err
		}
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

// schema2Records decodes a collection's stored values for asSchema2: the record types
// themselves, so json.Marshal produces exactly what schema 2 stored.
var schema2Records = map[store.Collection]func() any{
	store.GHLContacts: func() any { return new(store.GHLContact) }, store.GHLTasks: func() any { return new(store.GHLTask) },
	store.GHLNotes: func() any { return new(store.GHLNote) }, store.GHLAppointments: func() any { return new(store.GHLAppointment) },
	store.PTDClients: func() any { return new(store.PTDClient) }, store.PTDTasks: func() any { return new(store.PTDTask) },
	store.PTDNotes: func() any { return new(store.PTDNote) }, store.PTDAppointments: func() any { return new(store.PTDAppointment) },
}

// asSchema2 rewrites a current mirror's records in the schema-2 form (each value is
// json.Marshal of its record, as schema 2 wrote them) and stamps version 2.
func asSchema2(tx *bolt.Tx) error {
	for c, mk := range schema2Records {
		b := tx.Bucket([]byte(c))
		var keys, vals [][]byte
		err := b.ForEach(func(k, v []byte) error {
			r := mk()
			if err := store.DecodeValueForTest(v, r); err != nil {
				return fmt.Errorf("%s %q: %w", c, k, err)
			}
			j, err := json.Marshal(r)
			if err != nil {
				return err
			}
			keys, vals = append(keys, bytes.Clone(k)), append(vals, j)
			return nil
		})
		if err != nil {
			return err
		}
		for i := range keys {
			if err := b.Put(keys[i], vals[i]); err != nil {
				return err
			}
		}
	}
	return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint32(nil, 2))
}

// TestGenerateSchema2Fixture rewrites testdata/schema2.db when PTSYNC_UPDATE_FIXTURES=1: the
// fixture mirror with every mirrored record in schema 2's JSON form.
func TestGenerateSchema2Fixture(t *testing.T) {
	if os.Getenv("PTSYNC_UPDATE_FIXTURES") != "1" {
		t.Skip("set PTSYNC_UPDATE_FIXTURES=1 to regenerate " + v2Fixture)
	}
	db, path, _ := storetest.Open(t)
	_ = db.Close()
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		if err := asSchema2(tx); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("writer"), []byte("v0.2.0"))
	})
	_ = bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
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
	if err := os.WriteFile(v2Fixture, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

const v2Fixture = "testdata/schema2.db"

// TestSchema2IsMigratedOnOpen opens the schema-2 fixture (JSON values) and checks that the
// migration rewrote every mirrored record in the binary form, that each record reads back
// equal to what schema 2 held (Raw included), that the indexes still answer, and that Check
// passes. Records are compared through their JSON, the form schema 2 stored.
func TestSchema2IsMigratedOnOpen(t *testing.T) {
	p := copyFixtureFile(t, v2Fixture)
	want := map[string]string{} // collection/key -> schema-2 JSON
	bdb, err := bolt.Open(p, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = bdb.View(func(tx *bolt.Tx) error {
		for c := range schema2Records {
			_ = tx.Bucket([]byte(c)).ForEach(func(k, v []byte) error {
				want[string(c)+"/"+string(k)] = string(v)
				return nil
			})
		}
		return nil
	})
	_ = bdb.Close()
	if len(want) < 30 {
		t.Fatalf("fixture holds only %d records", len(want))
	}

	if _, err := store.Open(p, store.Options{ReadOnly: true}); !errors.Is(err, store.ErrNeedsMigration) {
		t.Fatalf("read-only open of schema 2 = %v, want ErrNeedsMigration", err)
	}
	db, err := store.Open(p, store.Options{AppVersion: "v0.3.0"})
	if err != nil {
		t.Fatalf("migrating open: %v", err)
	}
	if v, err := db.SchemaOf(); err != nil || v != store.SchemaVersion {
		t.Fatalf("schema after migration = %d, %v", v, err)
	}
	if err := db.Check(); err != nil {
		t.Fatalf("check after migration: %v", err)
	}
	err = db.View(func(tx *store.Tx) error {
		vip := 0
		if err := tx.GHLContactsByTag("vip", func(*store.GHLContact) error { vip++; return nil }); err != nil {
			return err
		}
		if vip != 6 {
			t.Errorf("tag index after migration: %d vip contacts, want 6", vip)
		}
		ann, err := tx.GetGHLContact("c-ann")
		if err != nil {
			return err
		}
		got, _ := json.Marshal(ann)
		if string(got) != want["ghl.contacts/c-ann"] {
			t.Errorf("ann after migration:\n got %s\nwant %s", got, want["ghl.contacts/c-ann"])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	bdb, err = bolt.Open(p, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	_ = bdb.View(func(tx *bolt.Tx) error {
		for c, mk := range schema2Records {
			n := 0
			_ = tx.Bucket([]byte(c)).ForEach(func(k, v []byte) error {
				n++
				name := string(c) + "/" + string(k)
				if len(v) == 0 || v[0] == '{' {
					t.Errorf("%s is still JSON after migration", name)
					return nil
				}
				r := mk()
				if err := store.DecodeValueForTest(v, r); err != nil {
					t.Errorf("%s: %v", name, err)
					return nil
				}
				if got, _ := json.Marshal(r); string(got) != want[name] {
					t.Errorf("%s changed in migration:\n got %s\nwant %s", name, got, want[name])
				}
				return nil
			})
			for k := range want {
				if strings.HasPrefix(k, string(c)+"/") {
					n--
				}
			}
			if n != 0 {
				t.Errorf("%s: record count changed by %d in migration", c, n)
			}
		}
		return nil
	})
}

func copyFixture(t *testing.T) string { return copyFixtureFile(t, v1Fixture) }

func copyFixtureFile(t *testing.T, fixture string) string {
	t.Helper()
	data, err := os.ReadFile(fixture)
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
		for _, want := range []string{"schema version 9", "ptsync v9.1.0", fmt.Sprintf("supports schema %d", store.SchemaVersion), p} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q lacks %q", err, want)
			}
		}
	}
	if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
		t.Fatal("refused open modified the file")
	}
}
