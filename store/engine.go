package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrStop may be returned by an iteration callback to end the iteration early; the iterating
// method then returns nil.
var ErrStop = errors.New("stop iteration")

func idxBucket(c Collection, index string) []byte { return []byte(string(c) + "/" + index) }

// bucket returns a top-level bucket; a missing one means the file is not what Open checked.
func (tx *Tx) bucket(name []byte) (*bolt.Bucket, error) {
	b := tx.btx.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("cannot use bucket %q: %w: bucket missing", name, ErrCorrupt)
	}
	return b, nil
}

func indexKey(value string, pk []byte) []byte {
	k := make([]byte, 0, len(value)+1+len(pk))
	k = append(k, value...)
	k = append(k, 0)
	return append(k, pk...)
}

func splitIndexKey(k []byte) (value string, pk []byte, ok bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return "", nil, false
	}
	return string(k[:i]), k[i+1:], true
}

// putRecord stores r and rewrites its index entries, the collection's high-water mark and the
// quarantine, all in tx.
func (tx *Tx) putRecord(r record) error {
	if err := r.validate(); err != nil {
		return err
	}
	c := r.collection()
	b, err := tx.bucket([]byte(c))
	if err != nil {
		return err
	}
	pk := []byte(r.primaryKey())
	if old := b.Get(pk); old != nil {
		or, err := decodeRecord(c, old)
		if err != nil {
			return fmt.Errorf("cannot replace %s %q: %w: %v", c, pk, ErrCorrupt, err)
		}
		if err := tx.writeEntries(c, pk, or.entries(), false); err != nil {
			return err
		}
	}
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("cannot encode %s %q: %w", c, pk, err)
	}
	if err := b.Put(pk, v); err != nil {
		return fmt.Errorf("cannot put %s %q: %w", c, pk, err)
	}
	if err := tx.writeEntries(c, pk, r.entries(), true); err != nil {
		return err
	}
	if u := r.updated(); !u.IsZero() {
		if err := tx.raiseHighWater(c, u); err != nil {
			return err
		}
	}
	if q := r.quarantineKey(); q != "" {
		if qb := tx.btx.Bucket(bucketQuarantine); qb != nil && qb.Get([]byte(q)) != nil {
			if err := qb.Delete([]byte(q)); err != nil {
				return fmt.Errorf("cannot clear quarantine of %s %q: %w", c, pk, err)
			}
		}
	}
	return nil
}

func (tx *Tx) writeEntries(c Collection, pk []byte, es []entry, add bool) error {
	for _, e := range es {
		ib, err := tx.bucket(idxBucket(c, e.index))
		if err != nil {
			return err
		}
		k := indexKey(e.value, pk)
		if add {
			err = ib.Put(k, nil)
		} else {
			err = ib.Delete(k)
		}
		if err != nil {
			return fmt.Errorf("cannot update index %s/%s: %w", c, e.index, err)
		}
	}
	return nil
}

// deleteRecord removes the record with primary key pk and its index entries; missing is
// ErrNotFound.
func (tx *Tx) deleteRecord(c Collection, pk string) error {
	b, err := tx.bucket([]byte(c))
	if err != nil {
		return err
	}
	old := b.Get([]byte(pk))
	if old == nil {
		return fmt.Errorf("cannot delete %s %q: %w", c, pk, ErrNotFound)
	}
	or, err := decodeRecord(c, old)
	if err != nil {
		return fmt.Errorf("cannot delete %s %q: %w: %v", c, pk, ErrCorrupt, err)
	}
	if err := tx.writeEntries(c, []byte(pk), or.entries(), false); err != nil {
		return err
	}
	if err := b.Delete([]byte(pk)); err != nil {
		return fmt.Errorf("cannot delete %s %q: %w", c, pk, err)
	}
	return nil
}

// get decodes the record at pk into dst; ErrNotFound if absent.
func (tx *Tx) get(c Collection, pk string, dst any) error {
	b, err := tx.bucket([]byte(c))
	if err != nil {
		return err
	}
	v := b.Get([]byte(pk))
	if v == nil {
		return fmt.Errorf("cannot get %s %q: %w", c, pk, ErrNotFound)
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("cannot decode %s %q: %w: %v", c, pk, ErrCorrupt, err)
	}
	return nil
}

// scanPrefix calls fn for every record whose primary key starts with prefix, in key order.
func (tx *Tx) scanPrefix(c Collection, prefix string, fn func(v []byte) error) error {
	b, err := tx.bucket([]byte(c))
	if err != nil {
		return err
	}
	p := []byte(prefix)
	cur := b.Cursor()
	for k, v := cur.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = cur.Next() {
		if err := fn(v); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// lookup calls fn with the record of every index entry equal to value.
func (tx *Tx) lookup(c Collection, index, value string, fn func(v []byte) error) error {
	return tx.rangeIndex(c, index, value+"\x00", value+"\x01", fn)
}

// rangeIndex calls fn with the record of every index entry whose key is in [from, to) in
// index order ("" for to means unbounded). An entry without its record is ErrCorrupt.
func (tx *Tx) rangeIndex(c Collection, index, from, to string, fn func(v []byte) error) error {
	ib, err := tx.bucket(idxBucket(c, index))
	if err != nil {
		return err
	}
	b, err := tx.bucket([]byte(c))
	if err != nil {
		return err
	}
	cur := ib.Cursor()
	for k, _ := cur.Seek([]byte(from)); k != nil && (to == "" || bytes.Compare(k, []byte(to)) < 0); k, _ = cur.Next() {
		_, pk, ok := splitIndexKey(k)
		if !ok {
			return fmt.Errorf("cannot read index %s/%s: %w: malformed key %q", c, index, ErrCorrupt, k)
		}
		v := b.Get(pk)
		if v == nil {
			return fmt.Errorf("cannot read index %s/%s: %w: entry %q has no record", c, index, ErrCorrupt, k)
		}
		if err := fn(v); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// collect adapts a typed callback to the raw-value iterators.
func collect[T any](c Collection, fn func(*T) error) func(v []byte) error {
	return func(v []byte) error {
		r := new(T)
		if err := json.Unmarshal(v, r); err != nil {
			return fmt.Errorf("cannot decode %s record: %w: %v", c, ErrCorrupt, err)
		}
		return fn(r)
	}
}

// all gathers the records an iterator yields into a slice.
func all[T any](c Collection, iterate func(func(v []byte) error) error) ([]T, error) {
	var out []T
	err := iterate(collect(c, func(r *T) error { out = append(out, *r); return nil }))
	return out, err
}

func (tx *Tx) raiseHighWater(c Collection, t time.Time) error {
	mb, err := tx.bucket(bucketMeta)
	if err != nil {
		return err
	}
	k := []byte("highwater/" + string(c))
	v := TimeKey(t)
	if cur := mb.Get(k); cur != nil && string(cur) >= v {
		return nil
	}
	if err := mb.Put(k, []byte(v)); err != nil {
		return fmt.Errorf("cannot record high-water mark of %s: %w", c, err)
	}
	return nil
}

// HighWater returns the greatest updated-time ever stored in collection c (contacts'
// dateUpdated, clients' and PTD tasks' updatedAt); zero if none. It never decreases, even
// when records are deleted, so it bounds what a cursor over c may claim to have covered.
func (tx *Tx) HighWater(c Collection) (time.Time, error) {
	mb, err := tx.bucket(bucketMeta)
	if err != nil {
		return time.Time{}, err
	}
	v := mb.Get([]byte("highwater/" + string(c)))
	if v == nil {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, string(v))
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot read high-water mark of %s: %w: %v", c, ErrCorrupt, err)
	}
	return t, nil
}
