package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// collectionWrites counts, per indexed collection, the ordinary puts and deletes this process
// made (committed or not): the index build compares the count with the one it read when it
// took its snapshot to learn whether the records may have changed since. Built once at Open;
// the map is never written afterwards, only its counters.
type collectionWrites map[Collection]*atomic.Uint64

func newCollectionWrites(r *childRegistry) collectionWrites {
	w := collectionWrites{}
	for _, c := range r.indexed() {
		w[c] = new(atomic.Uint64)
	}
	return w
}

func (w collectionWrites) bump(c Collection) {
	if n := w[c]; n != nil {
		n.Add(1)
	}
}

func (w collectionWrites) load(c Collection) uint64 {
	if n := w[c]; n != nil {
		return n.Load()
	}
	return 0
}

// buildIndexes rebuilds every index of c from its records: it empties the index buckets
// (marking them incomplete, if the merge has not), sorts the entries of a snapshot of the
// records in bounded memory, and writes them in key order, in full pages, in transactions of
// about bulkTxBytes; the last one deletes the mark. Ordinary writes may run between its
// transactions: they maintain entries themselves, and once one has happened since the
// snapshot, every entry the build writes is first checked against the record as it is now,
// so the build never writes an entry its record no longer produces. It returns the entries
// written and the transactions used; on error the mark stays and a later call starts over.
func (db *DB) buildIndexes(ctx context.Context, c Collection) (entries, txs int, err error) {
	names := db.kinds.indexNames(c)
	var gen0 uint64
	err = db.Update(func(tx *Tx) error {
		gen0 = db.writes.load(c) // writers are serialized: every later write counts above it
		if err := tx.setIndexesIncomplete(c); err != nil {
			return err
		}
		for _, ix := range names {
			name := idxBucket(c, ix)
			tx.forgetBucket(name)
			if err := tx.btx.DeleteBucket(name); err != nil {
				return fmt.Errorf("cannot empty index %s: %w", name, err)
			}
			if _, err := tx.btx.CreateBucket(name); err != nil {
				return fmt.Errorf("cannot empty index %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	txs++
	removeStaleBuildDirs(db.path)
	s := newKeySorter(db.bulkTx, func() (string, error) {
		return os.MkdirTemp(filepath.Dir(db.path), filepath.Base(db.path)+".build-")
	})
	defer s.close()
	if err := db.View(func(tx *Tx) error { return tx.indexEntriesOf(c, s.add) }); err != nil {
		return 0, txs, err
	}
	it, err := s.sorted()
	if err != nil {
		return 0, txs, err
	}
	for done := false; !done; {
		if err := ctx.Err(); err != nil {
			return entries, txs, err
		}
		err := db.Update(func(tx *Tx) error {
			n, fin, err := tx.writeSortedEntries(c, it, db.writes.load(c) != gen0, db.bulkTx)
			entries, done = entries+n, fin
			if err != nil || !fin {
				return err
			}
			return tx.btx.Bucket(bucketMeta).Delete([]byte(metaIndexing + string(c)))
		})
		txs++
		if err != nil {
			return entries, txs, err
		}
	}
	return entries, txs, nil
}

// removeStaleBuildDirs removes the run directories an interrupted build of this mirror left
// (named after the mirror file, so nothing else is touched).
func removeStaleBuildDirs(path string) {
	old, _ := filepath.Glob(filepath.Join(filepath.Dir(path), filepath.Base(path)+".build-*"))
	for _, d := range old {
		_ = os.RemoveAll(d)
	}
}

// indexEntriesOf calls add with every index entry of every record of c, as index name NUL
// index key (value NUL primary key): one sort orders the entries of all of c's indexes.
func (tx *Tx) indexEntriesOf(c Collection, add func([]byte) error) error {
	b, err := tx.bucket([]byte(c))
	if err != nil {
		return err
	}
	var buf []byte
	return b.ForEach(func(k, v []byte) error {
		r, err := tx.decodeRecord(c, v)
		if err != nil {
			return fmt.Errorf("cannot index %s %q: %w: %v", c, k, ErrCorrupt, err)
		}
		for _, e := range r.entries() {
			buf = append(append(append(append(append(buf[:0], e.index...), 0), e.value...), 0), k...)
			if err := add(buf); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeSortedEntries writes entries from it (index name NUL index key, in order) into c's
// index buckets until about budget bytes are written; done reports it is exhausted. With
// validate, an entry is written only if its record still produces it.
func (tx *Tx) writeSortedEntries(c Collection, it keyIter, validate bool, budget int) (n int, done bool, err error) {
	buckets := map[string]*bolt.Bucket{}
	written := 0
	for written < budget {
		k, ok, err := it.next()
		if err != nil {
			return n, false, err
		}
		if !ok {
			return n, true, nil
		}
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			return n, false, fmt.Errorf("cannot build the indexes of %s: malformed sorted entry %q", c, k)
		}
		ix, ik := string(k[:i]), k[i+1:]
		if validate {
			if ok, err := tx.producesEntry(c, ix, ik); err != nil || !ok {
				if err != nil {
					return n, false, err
				}
				continue
			}
		}
		ib := buckets[ix]
		if ib == nil {
			if ib, err = tx.bucket(idxBucket(c, ix)); err != nil {
				return n, false, err
			}
			ib.FillPercent = 1.0 // keys arrive in order: full pages
			buckets[ix] = ib
		}
		if err := ib.Put(ik, nil); err != nil {
			return n, false, fmt.Errorf("cannot update index %s/%s: %w", c, ix, err)
		}
		n++
		written += len(ik) + inodeBytes
	}
	return n, false, nil
}

// producesEntry reports whether the record an index key points to exists and produces it.
func (tx *Tx) producesEntry(c Collection, index string, ik []byte) (bool, error) {
	val, pk, ok := splitIndexKey(ik)
	if !ok {
		return false, nil
	}
	b, err := tx.bucket([]byte(c))
	if err != nil {
		return false, err
	}
	v := b.Get(pk)
	if v == nil {
		return false, nil
	}
	r, err := tx.decodeRecord(c, v)
	if err != nil {
		return false, fmt.Errorf("cannot index %s %q: %w: %v", c, pk, ErrCorrupt, err)
	}
	return slices.Contains(r.entries(), entry{index, val}), nil
}

// eachIndexKey calls fn with every key of index of c in [from, to) (to "" is unbounded), in
// key order: from the index bucket, or, while c's indexes are incomplete, computed from the
// records (a scan, sorted), so that a reader gets the same keys either way. fn's error is
// returned as is.
func (tx *Tx) eachIndexKey(c Collection, index, from, to string, fn func(k []byte) error) error {
	if !tx.IndexesIncomplete(c) {
		ib, err := tx.bucket(idxBucket(c, index))
		if err != nil {
			return err
		}
		cur := ib.Cursor()
		for k, _ := cur.Seek([]byte(from)); k != nil && (to == "" || string(k) < to); k, _ = cur.Next() {
			if err := fn(k); err != nil {
				return err
			}
		}
		return nil
	}
	b, err := tx.bucket([]byte(c))
	if err != nil {
		return err
	}
	var keys [][]byte
	err = b.ForEach(func(pk, v []byte) error {
		r, err := tx.decodeRecord(c, v)
		if err != nil {
			return fmt.Errorf("cannot scan %s %q: %w: %v", c, pk, ErrCorrupt, err)
		}
		for _, e := range r.entries() {
			if e.index != index {
				continue
			}
			if k := indexKey(e.value, pk); string(k) >= from && (to == "" || string(k) < to) {
				keys = append(keys, k)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(keys, bytes.Compare)
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

// lastIndexKey returns the greatest key of index of c below to ("" is unbounded), nil if none.
func (tx *Tx) lastIndexKey(c Collection, index, to string) ([]byte, error) {
	if !tx.IndexesIncomplete(c) {
		ib, err := tx.bucket(idxBucket(c, index))
		if err != nil {
			return nil, err
		}
		cur := ib.Cursor()
		var k []byte
		if to == "" {
			k, _ = cur.Last()
		} else if k, _ = cur.Seek([]byte(to)); k == nil {
			k, _ = cur.Last()
		} else {
			k, _ = cur.Prev()
		}
		return k, nil
	}
	var last []byte
	err := tx.eachIndexKey(c, index, "", to, func(k []byte) error { last = k; return nil })
	return last, err
}
