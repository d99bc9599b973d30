package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Bookkeeping buckets (record collections and their "<coll>/<index>" buckets are named in
// records.go). The names are part of the file format; see docs/store.md.
var (
	bucketMeta       = []byte("meta")
	bucketBase       = []byte("base")
	bucketCursors    = []byte("cursors")
	bucketConflicts  = []byte("conflicts")
	bucketQuarantine = []byte("quarantine")
	bucketWebhooks   = []byte("webhooks")
	bucketWebhooksAt = []byte("webhooks/at")
	bucketDirty      = []byte("dirty")
	bucketReminders  = []byte("reminders")
	bucketTokens     = []byte("tokens")
	bucketHeldSweeps = []byte("sweeps.held")
)

var (
	keySchema = []byte("schema")
	keyWriter = []byte("writer")
)

// allBuckets lists every top-level bucket of the current schema, the registered child kinds'
// included.
func (r *childRegistry) allBuckets() [][]byte {
	out := [][]byte{bucketMeta, bucketBase, bucketCursors, bucketConflicts, bucketQuarantine,
		bucketWebhooks, bucketWebhooksAt, bucketDirty, bucketReminders, bucketTokens, bucketHeldSweeps, bucketStaged}
	for _, c := range r.indexed() {
		out = append(out, []byte(c))
		for _, ix := range r.indexNames(c) {
			out = append(out, idxBucket(c, ix))
		}
	}
	return out
}

// migration moves a file from version from to from+1 inside one write transaction, so a
// crash mid-migration leaves the old version intact.
type migration struct {
	from int
	what string
	run  func(*Tx) error
}

// migrations lists every step; the last one's from+1 must equal SchemaVersion. After the
// fixed steps, the step to version v creates the empty buckets of the kinds whose Since is v.
func (r *childRegistry) migrations() []migration {
	ms := []migration{{
		from: 1,
		what: "add the task due-date indexes (ghl.tasks/due, ptd.tasks/due)",
		run: func(tx *Tx) error {
			for _, c := range []Collection{GHLTasks, PTDTasks} {
				if _, err := tx.btx.CreateBucketIfNotExists(idxBucket(c, "due")); err != nil {
					return err
				}
				if err := tx.rebuildIndex(c, "due"); err != nil {
					return err
				}
			}
			return nil
		},
	}, {
		from: 2,
		what: "store mirrored records as a binary header followed by their raw JSON",
		run: func(tx *Tx) error {
			for _, c := range r.mirroredSince(3) {
				if err := tx.reencode(c); err != nil {
					return err
				}
			}
			return nil
		},
	}, {
		from: 3,
		what: "add the bucket of sweeps held as suspect (sweeps.held)",
		run: func(tx *Tx) error {
			_, err := tx.btx.CreateBucketIfNotExists(bucketHeldSweeps)
			return err
		},
	}, {
		from: 4,
		what: "add the staging bucket of the first sync's bulk load (ghl.contacts.staged)",
		run: func(tx *Tx) error {
			_, err := tx.btx.CreateBucketIfNotExists(bucketStaged)
			return err
		},
	}}
	for v := fixedSchemaVersion + 1; v <= SchemaVersion; v++ {
		ms = append(ms, r.kindsMigration(v))
	}
	return ms
}

// fixedSchemaVersion is the last version whose step is written out above; later versions
// only add child kinds.
const fixedSchemaVersion = 5

// kindsMigration is the step to version v: the buckets of the kinds added in v, empty.
func (r *childRegistry) kindsMigration(v int) migration {
	var names [][]byte
	var kinds []string
	for _, k := range r.kinds {
		if k.Since != v {
			continue
		}
		kinds = append(kinds, k.Name)
		for _, cs := range []ChildSide{k.GHL, k.PTD} {
			if cs.Collection == "" {
				continue
			}
			names = append(names, []byte(cs.Collection))
			for _, ix := range r.indexNames(cs.Collection) {
				names = append(names, idxBucket(cs.Collection, ix))
			}
		}
	}
	return migration{from: v - 1, what: fmt.Sprintf("add the buckets of child kinds %v", kinds),
		run: func(tx *Tx) error {
			for _, name := range names {
				if _, err := tx.btx.CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			return nil
		}}
}

// mirroredSince lists the mirrored collections that existed in schema version v.
func (r *childRegistry) mirroredSince(v int) []Collection {
	var out []Collection
	for _, c := range r.mirrored() {
		if ref, ok := r.byColl[c]; !ok || ref.kind.Since <= v {
			out = append(out, c)
		}
	}
	return out
}

// reencodeChunk bounds how many records reencode collects before writing them back (bbolt
// forbids writing a bucket while a cursor walks it, so it collects, writes, and seeks on).
const reencodeChunk = 1000

// reencode rewrites every record of c that is still in the schema-2 JSON form in the
// current form. Index entries do not change. A record that does not decode fails the
// migration (the file keeps schema 2) with ErrCorrupt naming the key.
func (tx *Tx) reencode(c Collection) error {
	b, err := tx.bucket([]byte(c))
	if err != nil {
		return err
	}
	type kv struct{ k, v []byte }
	var last []byte
	for {
		var batch []kv
		cur := b.Cursor()
		k, v := cur.First()
		if last != nil {
			if k, v = cur.Seek(last); k != nil && bytes.Equal(k, last) {
				k, v = cur.Next()
			}
		}
		for ; k != nil && len(batch) < reencodeChunk; k, v = cur.Next() {
			last = bytes.Clone(k)
			if len(v) > 0 && v[0] == binFormat {
				continue
			}
			r, err := tx.st.kinds.newRecord(c)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(v, r); err != nil {
				return fmt.Errorf("cannot convert %s %q: %w: %v", c, k, ErrCorrupt, err)
			}
			nv, err := encodeValue(r)
			if err != nil {
				return fmt.Errorf("cannot convert %s %q: %w", c, k, err)
			}
			batch = append(batch, kv{last, nv})
		}
		for _, e := range batch {
			if err := b.Put(e.k, e.v); err != nil {
				return fmt.Errorf("cannot convert %s %q: %w", c, e.k, err)
			}
		}
		if k == nil {
			return nil
		}
	}
}

func schemaBytes(v int) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(v))
	return b[:]
}

// initSchema creates a new mirror's buckets, or checks and migrates an existing one. A
// read-only DB never writes: an empty file or one that needs a migration is refused instead.
func (db *DB) initSchema(appVersion string) error {
	found, writer, empty, err := db.readSchema()
	if err != nil {
		return err
	}
	if empty {
		if db.readOnly {
			return fmt.Errorf("cannot open mirror %s: %w: empty bbolt file", db.path, ErrNotMirror)
		}
		return db.createSchema(appVersion)
	}
	switch {
	case found > SchemaVersion:
		return &SchemaError{Path: db.path, Found: found, Supported: SchemaVersion, WrittenBy: writer, kind: ErrSchemaTooNew}
	case found < 1:
		return fmt.Errorf("cannot open mirror %s: %w: schema version %d", db.path, ErrCorrupt, found)
	case found < SchemaVersion && db.readOnly:
		return &SchemaError{Path: db.path, Found: found, Supported: SchemaVersion, WrittenBy: writer, kind: ErrNeedsMigration}
	}
	if err := db.migrate(found, appVersion); err != nil {
		return err
	}
	if db.readOnly {
		return nil
	}
	// Any bucket still missing in a current-version file is damage, not a migration.
	err = db.bolt.View(func(btx *bolt.Tx) error {
		for _, name := range db.kinds.allBuckets() {
			if btx.Bucket(name) == nil {
				return fmt.Errorf("cannot open mirror %s: %w: bucket %q missing", db.path, ErrCorrupt, name)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return db.finishBulkLoad()
}

// finishBulkLoad completes a bulk load a crash or a stop interrupted (staged contacts not
// merged, indexes being built), so that a restart always ends with complete indexes.
func (db *DB) finishBulkLoad() error {
	var bs BulkState
	if err := db.View(func(tx *Tx) error {
		var err error
		bs, err = tx.BulkState()
		return err
	}); err != nil || !bs.Pending() {
		return err
	}
	db.log.Info("finishing an interrupted bulk load", "path", db.path, "staged", bs.Staged, "building", bs.Building)
	if _, err := db.CompleteBulkLoad(context.Background()); err != nil {
		return fmt.Errorf("cannot open mirror %s: %w", db.path, err)
	}
	return nil
}

// readSchema reads the file's schema version and the ptsync version that last wrote it.
// empty reports a bbolt file with no bucket at all (a new mirror); a file with buckets but no
// meta bucket is not a mirror (ErrNotMirror), and a malformed version is ErrCorrupt.
func (db *DB) readSchema() (found int, writer string, empty bool, err error) {
	err = db.bolt.View(func(btx *bolt.Tx) error {
		mb := btx.Bucket(bucketMeta)
		if mb == nil {
			n := 0
			_ = btx.ForEach(func([]byte, *bolt.Bucket) error { n++; return nil })
			if n > 0 {
				return fmt.Errorf("cannot open mirror %s: %w: bbolt file without ptsync's meta bucket", db.path, ErrNotMirror)
			}
			empty = true
			return nil
		}
		v := mb.Get(keySchema)
		if len(v) != 4 {
			return fmt.Errorf("cannot open mirror %s: %w: schema version missing or malformed", db.path, ErrCorrupt)
		}
		found = int(binary.BigEndian.Uint32(v))
		writer = string(mb.Get(keyWriter))
		return nil
	})
	return found, writer, empty, err
}

// createSchema makes an empty file a current-version mirror in one transaction: every
// registered bucket, the schema version and the writer.
func (db *DB) createSchema(appVersion string) error {
	return db.bolt.Update(func(btx *bolt.Tx) error {
		for _, name := range db.kinds.allBuckets() {
			if _, err := btx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("cannot create bucket %q: %w", name, err)
			}
		}
		mb := btx.Bucket(bucketMeta)
		if err := mb.Put(keySchema, schemaBytes(SchemaVersion)); err != nil {
			return err
		}
		return mb.Put(keyWriter, []byte(appVersion))
	})
}

// migrate runs every migration from schema found on, each in its own transaction that also
// records the version it reaches: a crash between two leaves a file at a version the next
// Open continues from, never one half-migrated.
func (db *DB) migrate(found int, appVersion string) error {
	for _, m := range db.kinds.migrations() {
		if m.from < found {
			continue
		}
		err := db.Update(func(tx *Tx) error {
			if err := m.run(tx); err != nil {
				return err
			}
			mb := tx.btx.Bucket(bucketMeta)
			if err := mb.Put(keySchema, schemaBytes(m.from+1)); err != nil {
				return err
			}
			return mb.Put(keyWriter, []byte(appVersion))
		})
		if err != nil {
			return fmt.Errorf("cannot migrate mirror %s from schema %d: %w", db.path, m.from, err)
		}
		db.log.Info("migrated mirror", "path", db.path, "from", m.from, "to", m.from+1, "change", m.what)
		found = m.from + 1
	}
	return nil
}

// rebuildIndex empties one index bucket and refills it from the collection's records.
func (tx *Tx) rebuildIndex(c Collection, index string) error {
	name := idxBucket(c, index)
	tx.forgetBucket(name)
	if err := tx.btx.DeleteBucket(name); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
		return fmt.Errorf("cannot rebuild index %s: %w", name, err)
	}
	ib, err := tx.btx.CreateBucket(name)
	if err != nil {
		return fmt.Errorf("cannot rebuild index %s: %w", name, err)
	}
	b, err := tx.bucket([]byte(c))
	if err != nil {
		return err
	}
	return b.ForEach(func(k, v []byte) error {
		r, err := tx.decodeRecord(c, v)
		if err != nil {
			return err
		}
		for _, e := range r.entries() {
			if e.index == index {
				if err := ib.Put(indexKey(e.value, k), nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// SchemaOf reads the schema version recorded in an open mirror, in its own read transaction.
// After a successful read-write Open it is SchemaVersion; a missing or malformed version is
// ErrCorrupt.
func (db *DB) SchemaOf() (int, error) {
	var v int
	err := db.bolt.View(func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketMeta).Get(keySchema)
		if len(b) != 4 {
			return fmt.Errorf("cannot read schema of %s: %w", db.path, ErrCorrupt)
		}
		v = int(binary.BigEndian.Uint32(b))
		return nil
	})
	return v, err
}
