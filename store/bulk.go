package store

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The first sync's bulk load (schema 5).
//
// A first sync stores every contact of a location at once, in the order HighLevel's search
// returns them (dateUpdated): random with respect to the contacts' keys and to every index's.
// Written as ordinary puts, each commit rewrites about one leaf per contact in the contacts
// bucket and in each index, so the bytes written and the heap grow with the mirror (26.9x the
// contact bytes at 100,000 contacts). The bulk load stores the same records in three steps,
// each crash-safe:
//
//  1. StageGHLContacts appends a page of contacts new to the mirror to the staging bucket,
//     keyed by run (one per transaction) then id, in the transaction that moves the search
//     cursor: appends rewrite only the bucket's last leaf and its parents.
//  2. CompleteBulkLoad merges the runs in id order into ghl.contacts, appending in full pages,
//     in transactions of about bulkTxBytes that record how far they got. The contacts' index
//     entries are not written; meta "indexing/ghl.contacts" says the indexes are incomplete.
//  3. It then rebuilds the collection's indexes from the records: entries sorted in bounded
//     memory (runs spilled to temporary files beside the mirror), written in key order in
//     full pages, the mark deleted in the transaction that writes the last entries.
//
// While the mark is set, every reader of the collection's indexes scans the records instead
// (the same answers, slower), queries say so, and Check still refuses any wrong entry but does
// not require every record to be indexed. A read-write Open finishes an interrupted load and
// build before it returns. Ordinary puts and deletes stay correct at every step: they keep
// maintaining index entries, the build validates what it writes when the collection was
// written meanwhile, and a deleted contact leaves a tombstone in the staging bucket so that
// the merge does not bring an older staged copy back.

// bucketStaged holds the staged contacts: key run (8 bytes, big-endian) then contact id;
// value stagedValue or the one-byte tombstone.
var bucketStaged = []byte("ghl.contacts.staged")

const (
	// metaIndexing prefixes the meta key that marks a collection's indexes incomplete
	// (value: TimeKey of when the mark was set).
	metaIndexing = "indexing/"
	// keyStagedLoaded is the id up to which (inclusive) the staged runs are merged into
	// ghl.contacts; absent before the first merge transaction.
	keyStagedLoaded = "staged.loaded"
	// bulkTxBytes is the default of Options.BulkTxBytes: what one merge or build transaction
	// writes, counted as key and value bytes plus inodeBytes per key, and what the build sorts
	// in memory at a time. The heap of a bulk transaction (bbolt's nodes, then a page buffer
	// per dirty page at commit) is a small multiple of it whatever the mirror's size.
	// Measured (docs/performance.md): 8 MiB made the peak heap of a 100,000-contact load 1.9x
	// a 10,000-contact one; 4 MiB bounds both at the same level.
	bulkTxBytes = 4 << 20
	// inodeBytes is what bbolt's node holds per key besides the key and value bytes (its inode:
	// flags, page id, key and value slice headers).
	inodeBytes = 64
	// stagedTombstone is the value of a staged deletion.
	stagedTombstone = 0
)

// StageGHLContacts stages contacts that are new to the mirror for the bulk load, in tx (the
// transaction that also writes the search cursor covering them), as one run. ids must be
// unique within recs (a caller resolves a contact read twice in one batch with
// Signpost.CopyStands). answeredAt is when HighLevel answered the request that returned them:
// the merge resolves a contact staged in several runs with CopyStands of the later run's
// answer, as sequential puts would have. It raises the high-water mark as PutGHLContact does,
// so the cursor committed beside the run is never ahead of its data. A staged contact is not
// visible to reads until CompleteBulkLoad (or a read-write Open) merged it.
func (tx *Tx) StageGHLContacts(recs []GHLContact, answeredAt time.Time) error {
	if len(recs) == 0 {
		return nil
	}
	sb, err := tx.bucket(bucketStaged)
	if err != nil {
		return err
	}
	at, err := answeredAt.UTC().MarshalBinary()
	if err != nil {
		return fmt.Errorf("cannot stage contacts: %w", err)
	}
	type row struct {
		id string
		v  []byte
	}
	rows := make([]row, 0, len(recs))
	var newest time.Time
	for i := range recs {
		r := &recs[i]
		if err := r.validate(); err != nil {
			return err
		}
		v := append(append(make([]byte, 0, 1+len(at)+len(r.Raw)+256), byte(len(at))), at...)
		if v, err = appendValue(v, r); err != nil {
			return fmt.Errorf("cannot encode %s %q: %w", GHLContacts, r.ID, err)
		}
		rows = append(rows, row{r.ID, v})
		if r.DateUpdated.After(newest) {
			newest = r.DateUpdated
		}
	}
	slices.SortFunc(rows, func(a, b row) int { return strings.Compare(a.id, b.id) })
	for i := 1; i < len(rows); i++ {
		if rows[i].id == rows[i-1].id {
			return fmt.Errorf("cannot stage contacts: %w: contact %q twice in one run", ErrInvalid, rows[i].id)
		}
	}
	run, err := sb.NextSequence()
	if err != nil {
		return fmt.Errorf("cannot stage contacts: %w", err)
	}
	sb.FillPercent = 1.0 // keys only ever grow: full pages
	prefix := seqKey(run)
	for _, r := range rows {
		if err := sb.Put([]byte(prefix+r.id), r.v); err != nil {
			return fmt.Errorf("cannot stage contact %q: %w", r.id, err)
		}
	}
	if !newest.IsZero() {
		return tx.raiseHighWater(GHLContacts, newest)
	}
	return nil
}

// stageTombstone records the deletion of contact id as a run of its own when contacts are
// staged, so that the merge drops every copy staged before it; staging reports whether
// contacts are staged.
func (tx *Tx) stageTombstone(id string) (staging bool, err error) {
	sb, err := tx.bucket(bucketStaged)
	if err != nil {
		return false, err
	}
	if k, _ := sb.Cursor().First(); k == nil {
		return false, nil
	}
	if err := checkID("ghl contact", id); err != nil {
		return true, err
	}
	run, err := sb.NextSequence()
	if err != nil {
		return true, fmt.Errorf("cannot stage deletion of %q: %w", id, err)
	}
	return true, sb.Put([]byte(seqKey(run)+id), []byte{stagedTombstone})
}

// BulkState is what remains of a bulk load: contacts staged and not merged yet, and the
// collections whose indexes are being built.
type BulkState struct {
	Staged   int          `json:"staged"`
	Building []Collection `json:"building,omitempty"`
}

// Pending reports whether CompleteBulkLoad has work left.
func (s BulkState) Pending() bool { return s.Staged > 0 || len(s.Building) > 0 }

// BulkState reads the bulk load's state in tx. Counting the staged contacts walks the
// staging bucket's pages (it is empty outside a first sync).
func (tx *Tx) BulkState() (BulkState, error) {
	var st BulkState
	sb, err := tx.bucket(bucketStaged)
	if err != nil {
		return st, err
	}
	if k, _ := sb.Cursor().First(); k != nil {
		st.Staged = sb.Stats().KeyN
	}
	for _, c := range tx.st.kinds.indexed() {
		if tx.IndexesIncomplete(c) {
			st.Building = append(st.Building, c)
		}
	}
	return st, nil
}

// IndexesIncomplete reports whether the secondary indexes of c are being built: their
// entries are a subset of the right ones (never a wrong one), and the store's readers scan
// the records instead.
func (tx *Tx) IndexesIncomplete(c Collection) bool {
	mb := tx.btx.Bucket(bucketMeta)
	return mb != nil && mb.Get([]byte(metaIndexing+string(c))) != nil
}

func (tx *Tx) setIndexesIncomplete(c Collection) error {
	if tx.IndexesIncomplete(c) {
		return nil
	}
	mb, err := tx.bucket(bucketMeta)
	if err != nil {
		return err
	}
	if err := mb.Put([]byte(metaIndexing+string(c)), []byte(TimeKey(tx.now()))); err != nil {
		return fmt.Errorf("cannot mark the indexes of %s incomplete: %w", c, err)
	}
	return nil
}

// BulkStats reports what CompleteBulkLoad did.
type BulkStats struct {
	Merged       int // staged contacts written into ghl.contacts (or replacing a stored copy)
	Transactions int // write transactions of the merge and the build
	Entries      int // index entries written by the build
}

// CompleteBulkLoad merges the staged contacts into ghl.contacts and rebuilds the indexes of
// every collection marked incomplete; it does nothing when neither is pending. Each step
// is its own transaction of about bulkTxBytes, so the heap stays bounded, and each is
// crash-safe: an interrupted call (ctx, an error, a crash) leaves a state every reader
// answers correctly from, and the next call or read-write Open finishes it. The merge's
// transactions block other writers for their length only (tens of milliseconds); readers are
// never blocked.
func (db *DB) CompleteBulkLoad(ctx context.Context) (BulkStats, error) {
	var st BulkStats
	for {
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("cannot complete bulk load of %s: %w", db.path, err)
		}
		var done bool
		err := db.Update(func(tx *Tx) error {
			n, fin, err := tx.mergeStaged(db.bulkTx)
			st.Merged, done = st.Merged+n, fin
			return err
		})
		if err != nil {
			return st, fmt.Errorf("cannot merge staged contacts into %s: %w", db.path, err)
		}
		st.Transactions++
		if done {
			break
		}
	}
	var building []Collection
	if err := db.View(func(tx *Tx) error {
		bs, err := tx.BulkState()
		building = bs.Building
		return err
	}); err != nil {
		return st, err
	}
	for _, c := range building {
		n, txs, err := db.buildIndexes(ctx, c)
		st.Entries += n
		st.Transactions += txs
		if err != nil {
			return st, fmt.Errorf("cannot build the indexes of %s in %s: %w", c, db.path, err)
		}
		db.log.Info("indexes built", "collection", c, "entries", n, "transactions", txs)
	}
	return st, nil
}

// stagedRun is one run of the staging bucket during a merge, positioned on its next contact.
type stagedRun struct {
	cur    *bolt.Cursor
	prefix []byte
	id, v  []byte // the current contact (valid for the transaction)
}

func (r *stagedRun) advance(k, v []byte) bool {
	if k == nil || !bytes.HasPrefix(k, r.prefix) {
		r.id, r.v = nil, nil
		return false
	}
	r.id, r.v = k[len(r.prefix):], v
	return true
}

// runHeap orders runs by their current id, then by run (earlier runs first).
type runHeap []*stagedRun

func (h runHeap) Len() int { return len(h) }
func (h runHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].id, h[j].id); c != 0 {
		return c < 0
	}
	return bytes.Compare(h[i].prefix, h[j].prefix) < 0
}
func (h runHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)   { *h = append(*h, x.(*stagedRun)) }
func (h *runHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	*h = old[:len(old)-1]
	return r
}

// openRuns positions a cursor on the first contact after from (nil: the first) of every run.
func openRuns(sb *bolt.Bucket, from []byte) (runHeap, error) {
	var h runHeap
	c := sb.Cursor()
	for k, _ := c.First(); k != nil; {
		if len(k) < 8 {
			return nil, fmt.Errorf("cannot read staged contacts: %w: key %q", ErrCorrupt, k)
		}
		r := &stagedRun{cur: sb.Cursor(), prefix: bytes.Clone(k[:8])}
		rk, rv := r.cur.Seek(append(bytes.Clone(r.prefix), from...))
		if from != nil && rk != nil && bytes.Equal(rk[min(8, len(rk)):], from) {
			rk, rv = r.cur.Next()
		}
		if r.advance(rk, rv) {
			h = append(h, r)
		}
		next := bytes.Clone(r.prefix)
		for i := len(next) - 1; i >= 0; i-- { // the smallest key of the next run
			if next[i]++; next[i] != 0 {
				break
			}
		}
		if bytes.Equal(next, make([]byte, 8)) {
			break
		}
		k, _ = c.Seek(next)
	}
	heap.Init(&h)
	return h, nil
}

// mergeStaged merges staged contacts in id order into ghl.contacts, from after the recorded
// position, until about budget bytes are written; done reports that the staging bucket is
// exhausted (it is then emptied and the position deleted, in this transaction).
func (tx *Tx) mergeStaged(budget int) (merged int, done bool, err error) {
	sb, err := tx.bucket(bucketStaged)
	if err != nil {
		return 0, false, err
	}
	mb, err := tx.bucket(bucketMeta)
	if err != nil {
		return 0, false, err
	}
	h, err := openRuns(sb, bytes.Clone(mb.Get([]byte(keyStagedLoaded))))
	if err != nil {
		return 0, false, err
	}
	if len(h) > 0 {
		if err := tx.setIndexesIncomplete(GHLContacts); err != nil {
			return 0, false, err
		}
	}
	b, err := tx.bucket([]byte(GHLContacts))
	if err != nil {
		return 0, false, err
	}
	b.FillPercent = 1.0 // ids arrive in order: full pages
	written := 0
	var last []byte
	for h.Len() > 0 && written < budget {
		id := bytes.Clone(h[0].id)
		var win []byte
		for h.Len() > 0 && bytes.Equal(h[0].id, id) {
			r := heap.Pop(&h).(*stagedRun)
			if win, err = laterStaged(win, r.v); err != nil {
				return merged, false, fmt.Errorf("cannot merge staged contact %q: %w", id, err)
			}
			if r.advance(r.cur.Next()) {
				heap.Push(&h, r)
			}
		}
		n, err := tx.applyStaged(b, id, win)
		if err != nil {
			return merged, false, err
		}
		merged += n
		written += len(id) + len(win) + inodeBytes
		last = id
	}
	if h.Len() > 0 {
		return merged, false, mb.Put([]byte(keyStagedLoaded), last)
	}
	tx.forgetBucket(bucketStaged)
	if err := tx.btx.DeleteBucket(bucketStaged); err != nil {
		return merged, false, fmt.Errorf("cannot empty the staging bucket: %w", err)
	}
	if _, err := tx.btx.CreateBucket(bucketStaged); err != nil {
		return merged, false, fmt.Errorf("cannot empty the staging bucket: %w", err)
	}
	return merged, true, mb.Delete([]byte(keyStagedLoaded))
}

// splitStaged returns the answer time and the stored record form of a staged value.
func splitStaged(v []byte) (time.Time, []byte, error) {
	var at time.Time
	if len(v) < 2 || int(v[0]) >= len(v) {
		return at, nil, fmt.Errorf("%w: staged value too short", ErrCorrupt)
	}
	if err := at.UnmarshalBinary(v[1 : 1+int(v[0])]); err != nil {
		return at, nil, fmt.Errorf("%w: staged answer time: %v", ErrCorrupt, err)
	}
	return at, v[1+int(v[0]):], nil
}

// laterStaged returns which of two staged copies of one contact, have staged before got,
// the merge keeps: a tombstone always wins (the contact was deleted after have was staged),
// and a copy after a tombstone brings the contact back; between two copies, CopyStands of
// got's answer decides, exactly as if they had been put one after the other.
func laterStaged(have, got []byte) ([]byte, error) {
	if have == nil || len(have) == 1 || len(got) == 1 {
		return got, nil
	}
	hr, err := stagedContact(have, true)
	if err != nil {
		return nil, err
	}
	at, _, err := splitStaged(got)
	if err != nil {
		return nil, err
	}
	gr, err := stagedContact(got, true)
	if err != nil {
		return nil, err
	}
	if (Signpost{At: at}).CopyStands(hr.DateUpdated, gr.DateUpdated) {
		return have, nil
	}
	return got, nil
}

// stagedContact decodes a staged (non-tombstone) value.
func stagedContact(v []byte, skipRaw bool) (GHLContact, error) {
	var r GHLContact
	_, enc, err := splitStaged(v)
	if err != nil {
		return r, err
	}
	if err := decodeValue(enc, &r, skipRaw); err != nil {
		return r, fmt.Errorf("%w: staged contact: %v", ErrCorrupt, err)
	}
	return r, nil
}

// applyStaged writes the staged copy v of contact id (the merge's winner) into b, the
// contacts bucket; it returns 1 when it wrote. A contact new to the mirror is put as is,
// without index entries (the build adds them). A copy the mirror holds already (written by an
// ordinary put since it was staged) is replaced only if CopyStands says so, through the
// ordinary put, keeping its children's fetch time and marking it dirty, as the incremental
// path does. A tombstone writes nothing: the deletion removed the stored copy, and any copy
// stored now was written after it.
func (tx *Tx) applyStaged(b *bolt.Bucket, id, v []byte) (int, error) {
	if len(v) == 1 && v[0] == stagedTombstone {
		return 0, nil
	}
	at, enc, err := splitStaged(v)
	if err != nil {
		return 0, fmt.Errorf("cannot merge staged contact %q: %w", id, err)
	}
	old := b.Get(id)
	if old == nil {
		if err := b.Put(id, enc); err != nil {
			return 0, fmt.Errorf("cannot merge staged contact %q: %w", id, err)
		}
		q := qkey(KindContact, SideGHL, string(id))
		if qb := tx.btx.Bucket(bucketQuarantine); qb != nil && qb.Get([]byte(q)) != nil {
			if _, err := tx.releaseQuarantine(q); err != nil {
				return 0, fmt.Errorf("cannot release quarantine of contact %q: %w", id, err)
			}
		}
		return 1, nil
	}
	var prev GHLContact
	if err := decodeValue(old, &prev, true); err != nil {
		return 0, fmt.Errorf("cannot merge staged contact %q: %w: %v", id, ErrCorrupt, err)
	}
	r, err := stagedContact(v, false)
	if err != nil {
		return 0, fmt.Errorf("cannot merge staged contact %q: %w", id, err)
	}
	if (Signpost{At: at}).CopyStands(prev.DateUpdated, r.DateUpdated) {
		return 0, nil
	}
	r.ChildrenFetchedAt = prev.ChildrenFetchedAt
	if err := tx.putRecord(&r); err != nil {
		return 0, err
	}
	return 1, tx.MarkDirty(r.ID, "changed")
}

// checkStaged verifies that every staged value decodes and is stored under its own id.
func (tx *Tx) checkStaged(p problems) error {
	sb, err := tx.bucket(bucketStaged)
	if err != nil {
		return err
	}
	return sb.ForEach(func(k, v []byte) error {
		if len(k) <= 8 {
			p.add("%s: malformed key %q", bucketStaged, k)
			return nil
		}
		if len(v) == 1 && v[0] == stagedTombstone {
			return nil
		}
		r, err := stagedContact(v, true)
		switch {
		case err != nil:
			p.add("%s %q: %v", bucketStaged, k[8:], err)
		case r.ID != string(k[8:]):
			p.add("%s: contact %q staged under %q", bucketStaged, r.ID, k[8:])
		}
		return nil
	})
}
