package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxProblems caps how many problems Check reports; the count says if there were more.
const maxProblems = 50

// CheckError lists what Check found broken. It matches ErrCorrupt with errors.Is.
type CheckError struct {
	Path     string
	Problems []string
	More     int // problems found beyond those listed
}

// Error lists every problem on its own line, up to maxProblems, and says how many more
// there were.
func (e *CheckError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mirror %s failed its check (%d problems)", e.Path, len(e.Problems)+e.More)
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n  ... and %d more", e.More)
	}
	return b.String()
}

// Unwrap makes a CheckError match ErrCorrupt.
func (e *CheckError) Unwrap() error { return ErrCorrupt }

type problems struct{ e *CheckError }

func (p problems) add(format string, args ...any) {
	if len(p.e.Problems) >= maxProblems {
		p.e.More++
		return
	}
	p.e.Problems = append(p.e.Problems, fmt.Sprintf(format, args...))
}

// Check verifies the file in one read transaction (writers continue meanwhile):
//   - bbolt's own page-level consistency check;
//   - every index entry points to an existing record that produces it, and every record is
//     indexed (for all collections, links, history and the outbox);
//   - no cursor is ahead of the data it covers: a cursor's Through is not later than the
//     high-water mark of its collection, and the high-water mark is not below the newest
//     stored record (so data the cursor claims was stored really was);
//   - outbox and history keys equal their Seq and no Seq exceeds its bucket's sequence;
//   - links are consistent both ways: unique per side id, children point to existing parent
//     links, base and conflicts belong to existing links;
//   - the webhook de-duplication bucket and its time index agree.
//
// It returns nil, a *CheckError (errors.Is ErrCorrupt) listing problems, or another error.
func (db *DB) Check() error {
	ce := &CheckError{Path: db.path}
	p := problems{ce}
	if err := db.checkPages(p); err != nil {
		return err
	}
	err := db.View(func(tx *Tx) error {
		for _, c := range tx.st.kinds.indexed() {
			if err := tx.checkIndexes(c, p); err != nil {
				return err
			}
		}
		if err := tx.checkCursors(p); err != nil {
			return err
		}
		tx.checkSequences(p)
		if err := tx.checkLinks(p); err != nil {
			return err
		}
		tx.checkWebhooks(p)
		return tx.checkStaged(p)
	})
	if err != nil {
		return err
	}
	if len(ce.Problems) > 0 {
		return ce
	}
	return nil
}

// errRollback ends the write transaction checkPages borrows; nothing was written.
var errRollback = errors.New("rollback")

// checkPages runs bbolt's page-level check. bbolt's check reads the shared freelist, which
// a concurrent commit changes (pages it frees look "reachable freed" to an older reader, and
// the read races with the commit), so in a read-write mirror, where the service writes
// meanwhile, it runs inside a write transaction that is rolled back: writers wait for the
// length of the page walk (the record checks that follow run in a read transaction as
// before). A read-only mirror has no writer (the file lock excludes one).
func (db *DB) checkPages(p problems) (err error) {
	check := func(btx *bolt.Tx) error {
		for err := range btx.Check() {
			p.add("bbolt: %v", err)
		}
		return errRollback
	}
	if db.readOnly {
		err = db.View(func(tx *Tx) error { return check(tx.btx) })
	} else {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("cannot read mirror %s: %w: %v", db.path, ErrCorrupt, r)
			}
		}()
		err = db.bolt.Update(check)
	}
	if errors.Is(err, errRollback) {
		return nil
	}
	return err
}

func (tx *Tx) checkIndexes(c Collection, p problems) error {
	b, err := tx.bucket([]byte(c))
	if err != nil {
		return err
	}
	want := map[string]map[string]bool{}
	for _, ix := range tx.st.kinds.indexNames(c) {
		want[ix] = map[string]bool{}
	}
	err = b.ForEach(func(k, v []byte) error {
		r, err := tx.decodeRecord(c, v)
		if err != nil {
			p.add("%s %q: %v", c, k, err)
			return nil
		}
		if r.primaryKey() != string(k) {
			p.add("%s: record stored under %q has key %q", c, k, r.primaryKey())
		}
		if raw := rawOf(v); len(raw) > 0 && !json.Valid(raw) {
			p.add("%s %q: raw JSON is damaged", c, k)
		}
		for _, e := range r.entries() {
			want[e.index][string(indexKey(e.value, k))] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, ix := range tx.st.kinds.indexNames(c) {
		ib, err := tx.bucket(idxBucket(c, ix))
		if err != nil {
			p.add("%v", err)
			continue
		}
		_ = ib.ForEach(func(k, _ []byte) error {
			if want[ix][string(k)] {
				delete(want[ix], string(k))
				return nil
			}
			val, pk, _ := splitIndexKey(k)
			if b.Get(pk) == nil {
				p.add("index %s/%s: entry %q points to missing record %q", c, ix, val, pk)
			} else {
				p.add("index %s/%s: stale entry %q for record %q", c, ix, val, pk)
			}
			return nil
		})
		if tx.IndexesIncomplete(c) {
			continue // being built: a missing entry is expected, a wrong one was reported
		}
		for k := range want[ix] {
			val, pk, _ := splitIndexKey([]byte(k))
			p.add("index %s/%s: record %q is not indexed under %q", c, ix, pk, val)
		}
	}
	return nil
}

func (tx *Tx) checkCursors(p problems) error {
	for _, c := range []Collection{GHLContacts, PTDClients} {
		hw, err := tx.HighWater(c)
		if err != nil {
			p.add("%v", err)
			continue
		}
		k, err := tx.lastIndexKey(c, "updated", "")
		if err != nil {
			return err
		}
		if k != nil {
			newest, _, _ := splitIndexKey(k)
			if newest > TimeKey(hw) {
				p.add("high-water mark of %s (%s) is below its newest record (%s)", c, TimeKey(hw), newest)
			}
		}
	}
	curs, err := tx.Cursors()
	if err != nil {
		p.add("%v", err)
		return nil
	}
	for name, c := range curs {
		if c.Covers == "" || c.Through.IsZero() {
			continue
		}
		hw, err := tx.HighWater(c.Covers)
		if err != nil {
			p.add("cursor %q: %v", name, err)
			continue
		}
		if c.Through.After(hw) {
			p.add("cursor %q is ahead of its data: through %s but the newest %s ever stored is %s",
				name, c.Through.UTC().Format(time.RFC3339Nano), c.Covers, hw.UTC().Format(time.RFC3339Nano))
		}
	}
	return nil
}

func (tx *Tx) checkSequences(p problems) {
	for _, c := range []Collection{collOutbox, collHistory} {
		b := tx.btx.Bucket([]byte(c))
		if b == nil {
			continue
		}
		top := b.Sequence()
		_ = b.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				p.add("%s: key %x is not an 8-byte sequence", c, k)
				return nil
			}
			seq := binary.BigEndian.Uint64(k)
			var s struct {
				Seq uint64 `json:"seq"`
			}
			if json.Unmarshal(v, &s) == nil && s.Seq != seq {
				p.add("%s: entry under key %d says seq %d", c, seq, s.Seq)
			}
			if seq > top {
				p.add("%s: seq %d is beyond the bucket sequence %d", c, seq, top)
			}
			return nil
		})
	}
}

func (tx *Tx) checkLinks(p problems) error {
	for _, ix := range []string{"ghl", "ptd"} {
		ib, err := tx.bucket(idxBucket(collLinks, ix))
		if err != nil {
			return err
		}
		var prev string
		var prevPK []byte
		_ = ib.ForEach(func(k, _ []byte) error {
			val, pk, _ := splitIndexKey(k)
			if val == prev && prevPK != nil {
				p.add("links: %s id %q is linked twice (%s and %s)", ix, val, prevPK, pk)
			}
			prev, prevPK = val, append([]byte(nil), pk...)
			return nil
		})
	}
	lb, err := tx.bucket([]byte(collLinks))
	if err != nil {
		return err
	}
	err = tx.ForEachLink(func(l *Link) error {
		if l.ParentLinkID != "" && lb.Get([]byte(l.ParentLinkID)) == nil {
			p.add("link %s: parent link %s does not exist", l.ID, l.ParentLinkID)
		}
		if l.GHLID == "" && l.PTDID == "" {
			p.add("link %s: links nothing (no ghl id, no ptd id)", l.ID)
		}
		return nil
	})
	if err != nil {
		p.add("%v", err)
	}
	for _, name := range [][]byte{bucketBase, bucketConflicts} {
		b, err := tx.bucket(name)
		if err != nil {
			return err
		}
		_ = b.ForEach(func(k, _ []byte) error {
			id := k
			if i := bytes.IndexByte(k, 0); i >= 0 {
				id = k[:i]
			}
			if lb.Get(id) == nil {
				p.add("%s: entry %q belongs to missing link %s", name, k, id)
			}
			return nil
		})
	}
	return nil
}

func (tx *Tx) checkWebhooks(p problems) {
	b, ab := tx.btx.Bucket(bucketWebhooks), tx.btx.Bucket(bucketWebhooksAt)
	if b == nil || ab == nil {
		return
	}
	n := 0
	_ = ab.ForEach(func(k, _ []byte) error {
		n++
		at, id, ok := splitIndexKey(k)
		if !ok || string(b.Get(id)) != at {
			p.add("webhooks/at: entry %q does not match webhooks", k)
		}
		return nil
	})
	if m := b.Stats().KeyN; m != n {
		p.add("webhooks: %d ids but %d time-index entries", m, n)
	}
}
