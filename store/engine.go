package store

import (
	"bytes"
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
// Handles are cached for the transaction (a put touches up to seven buckets); code that
// deletes a bucket must call forgetBucket.
func (tx *Tx) bucket(name []byte) (*bolt.Bucket, error) {
	if b, ok := tx.st.buckets[string(name)]; ok {
		return b, nil
	}
	b := tx.btx.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("cannot use bucket %q: %w: bucket missing", name, ErrCorrupt)
	}
	if tx.st.buckets == nil {
		tx.st.buckets = make(map[string]*bolt.Bucket, 8)
	}
	tx.st.buckets[string(name)] = b
	return b, nil
}

// forgetBucket drops a cached handle (the bucket is about to be deleted or recreated).
func (tx *Tx) forgetBucket(name []byte) { delete(tx.st.buckets, string(name)) }

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
	tx.st.writes.bump(c)
	v, err := encodeValue(r)
	if err != nil {
		return fmt.Errorf("cannot encode %s %q: %w", c, pk, err)
	}
	add := r.entries()
	if old := b.Get(pk); old != nil {
		or, err := tx.decodeRecord(c, old)
		if err != nil {
			return fmt.Errorf("cannot replace %s %q: %w: %v", c, pk, ErrCorrupt, err)
		}
		// Only the entries that changed are written: a re-poll usually moves "updated" alone.
		var del []entry
		del, add = diffEntries(or.entries(), add)
		if err := tx.writeEntries(c, pk, del, false); err != nil {
			return err
		}
	}
	if err := b.Put(pk, v); err != nil {
		return fmt.Errorf("cannot put %s %q: %w", c, pk, err)
	}
	if err := tx.writeEntries(c, pk, add, true); err != nil {
		return err
	}
	if u := r.updated(); !u.IsZero() {
		if err := tx.raiseHighWater(c, u); err != nil {
			return err
		}
	}
	if q := r.quarantineKey(); q != "" {
		if qb := tx.btx.Bucket(bucketQuarantine); qb != nil && qb.Get([]byte(q)) != nil {
			if _, err := tx.releaseQuarantine(q); err != nil {
				return fmt.Errorf("cannot release quarantine of %s %q: %w", c, pk, err)
			}
		}
	}
	return nil
}

// diffEntries splits old and new index entries into those to delete (only in old) and those
// to add (only in new). Entry lists are short (a handful), so the quadratic walk is cheapest.
func diffEntries(old, new []entry) (del, add []entry) {
	for _, o := range old {
		if !hasEntry(new, o) {
			del = append(del, o)
		}
	}
	for _, n := range new {
		if !hasEntry(old, n) {
			add = append(add, n)
		}
	}
	return del, add
}

func hasEntry(es []entry, e entry) bool {
	for _, x := range es {
		if x == e {
			return true
		}
	}
	return false
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
	tx.st.writes.bump(c)
	or, err := tx.decodeRecord(c, old)
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
	if err := decodeValue(v, dst, tx.st.skipRaw); err != nil {
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
// index order ("" for to means unbounded). An entry without its record is ErrCorrupt. While
// c's indexes are being built the entries are computed from the records (eachIndexKey).
func (tx *Tx) rangeIndex(c Collection, index, from, to string, fn func(v []byte) error) error {
	b, err := tx.bucket([]byte(c))
	if err != nil {
		return err
	}
	rs := seeker{cur: b.Cursor()}
	err = tx.eachIndexKey(c, index, from, to, func(k []byte) error {
		_, pk, ok := splitIndexKey(k)
		if !ok {
			return fmt.Errorf("cannot read index %s/%s: %w: malformed key %q", c, index, ErrCorrupt, k)
		}
		v := rs.get(pk)
		if v == nil {
			return fmt.Errorf("cannot read index %s/%s: %w: entry %q has no record", c, index, ErrCorrupt, k)
		}
		return fn(v)
	})
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}

// seekSteps bounds how far a seeker walks forward before searching from the root instead:
// a step is one comparison on the current leaf, a search several binary searches.
const seekSteps = 16

// seeker reads keys of one bucket requested mostly in increasing order (the primary keys of
// an index's entries for one value, the children of contacts scanned in id order): it walks
// its cursor forward a few steps when the key is near and searches from the root otherwise.
// Any order is correct; increasing order is fast.
type seeker struct {
	cur  *bolt.Cursor
	pos  bool   // k is the first key >= from (k nil: there is none)
	from []byte // must stay valid for the transaction
	k, v []byte
}

// at positions the cursor on the first key >= key and returns that key and its value (nil
// if there is none). key must stay valid for the transaction.
func (s *seeker) at(key []byte) ([]byte, []byte) {
	if s.pos && bytes.Compare(s.from, key) <= 0 {
		// Every key in [from, k) is absent, so if key <= k, k is the answer too.
		if s.k == nil || bytes.Compare(s.k, key) >= 0 {
			s.from = key
			return s.k, s.v
		}
		for range seekSteps {
			if s.k, s.v = s.cur.Next(); s.k == nil || bytes.Compare(s.k, key) >= 0 {
				s.from = key
				return s.k, s.v
			}
		}
	}
	s.k, s.v = s.cur.Seek(key)
	s.pos, s.from = true, key
	return s.k, s.v
}

// get returns the value stored under key, nil if there is none.
func (s *seeker) get(key []byte) []byte {
	if k, v := s.at(key); k != nil && bytes.Equal(k, key) {
		return v
	}
	return nil
}

// collect adapts a typed callback to the raw-value iterators. Each call decodes into a fresh
// value (callers may keep it), or into one reused value in a ReuseValues transaction; Raw is
// left nil in a WithoutRaw transaction.
func collect[T any](tx *Tx, c Collection, fn func(*T) error) func(v []byte) error {
	skip, reuse := tx.st.skipRaw, tx.st.reuse
	var shared *T
	return func(v []byte) error {
		var r *T
		if reuse {
			if shared == nil {
				shared = new(T)
			} else if len(v) == 0 || v[0] != binFormat {
				// JSON leaves absent fields alone; the binary form sets every field.
				var zero T
				*shared = zero
			}
			r = shared
		} else {
			r = new(T)
		}
		if err := decodeValue(v, r, skip); err != nil {
			return fmt.Errorf("cannot decode %s record: %w: %v", c, ErrCorrupt, err)
		}
		return fn(r)
	}
}

// all gathers the records an iterator yields into a slice.
func all[T any](tx *Tx, c Collection, iterate func(func(v []byte) error) error) ([]T, error) {
	var out []T
	err := iterate(collect(tx, c, func(r *T) error { out = append(out, *r); return nil }))
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
