package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"ptsync/store"
	"ptsync/store/query"
)

var bulkBase = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// bulkContact is contact n in version v: ids are not in n order (a search delivers them by
// dateUpdated, not by id), and every indexed field moves with v.
func bulkContact(n, v int) store.GHLContact {
	id := fmt.Sprintf("c%06d", (n*7919)%1_000_003)
	return store.GHLContact{ID: id, Email: fmt.Sprintf("u%d.v%d@example.com", n, v), Phone: fmt.Sprintf("+1555%07d", n*10+v%10),
		FirstName: "F" + id, LastName: fmt.Sprintf("L%d", v), Tags: []string{fmt.Sprintf("t%d", n%5), fmt.Sprintf("v%d", v)},
		DateAdded: bulkBase, DateUpdated: bulkBase.Add(time.Duration(n)*time.Second + time.Duration(v)*time.Hour),
		FetchedAt: bulkBase, Raw: json.RawMessage(fmt.Sprintf(`{"id":%q,"v":%d,"pad":"%0100d"}`, id, v, n))}
}

func bulkRange(from, to, v int) []store.GHLContact {
	var out []store.GHLContact
	for n := from; n < to; n++ {
		out = append(out, bulkContact(n, v))
	}
	return out
}

func openBulk(t testing.TB, path string, opts store.Options) *store.DB {
	t.Helper()
	if opts.BulkTxBytes == 0 {
		opts.BulkTxBytes = 8 << 10 // many transactions for a few thousand contacts
	}
	db, err := store.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func stage(t testing.TB, db *store.DB, recs []store.GHLContact) {
	t.Helper()
	if err := db.Update(func(tx *store.Tx) error { return tx.StageGHLContacts(recs, bulkBase.Add(1000*time.Hour)) }); err != nil {
		t.Fatal(err)
	}
}

// scanAnswers is what every index-backed read of the contacts must answer, computed from a
// scan of the records: the oracle the bulk-load tests compare the store's readers with.
type scanAnswers struct {
	byEmail, byPhone, byTag map[string][]string
	byUpdated               []string // ids by (dateUpdated, id)
	byChildren              []string // ids by (childrenFetchedAt, id)
}

func scan(t testing.TB, tx *store.Tx) scanAnswers {
	t.Helper()
	a := scanAnswers{byEmail: map[string][]string{}, byPhone: map[string][]string{}, byTag: map[string][]string{}}
	var all []store.GHLContact
	err := tx.ForEachGHLContact(func(c *store.GHLContact) error {
		all = append(all, *c)
		a.byEmail[c.Email] = append(a.byEmail[c.Email], c.ID)
		a.byPhone[c.Phone] = append(a.byPhone[c.Phone], c.ID)
		for _, tg := range c.Tags {
			k := strings.ToLower(strings.TrimSpace(tg))
			if !slices.Contains(a.byTag[k], c.ID) {
				a.byTag[k] = append(a.byTag[k], c.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	by := func(key func(c store.GHLContact) string) []string {
		s := slices.Clone(all)
		sort.SliceStable(s, func(i, j int) bool { return key(s[i])+"\x00"+s[i].ID < key(s[j])+"\x00"+s[j].ID })
		var ids []string
		for _, c := range s {
			ids = append(ids, c.ID)
		}
		return ids
	}
	a.byUpdated = by(func(c store.GHLContact) string { return store.TimeKey(c.DateUpdated) })
	a.byChildren = by(func(c store.GHLContact) string { return store.TimeKey(c.ChildrenFetchedAt) })
	return a
}

// sample keeps every k-th key of m (in key order) so that at most about 40 remain: a reader
// that scans costs a scan per key while the indexes are incomplete.
func sample(m map[string][]string) map[string][]string {
	keys := slices.Sorted(maps.Keys(m))
	out := map[string][]string{}
	for i := 0; i < len(keys); i += max(1, len(keys)/40) {
		out[keys[i]] = m[keys[i]]
	}
	return out
}

// idDiff says how got differs from what a scan finds, briefly.
func idDiff(got, scan []string) string {
	for i := range min(len(got), len(scan)) {
		if got[i] != scan[i] {
			return fmt.Sprintf("%d ids, a scan finds %d; first difference at %d: %s, scan %s", len(got), len(scan), i, got[i], scan[i])
		}
	}
	return fmt.Sprintf("%d ids, a scan finds %d", len(got), len(scan))
}

func ids(cs []store.GHLContact) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// assertReadsMatchScan checks that every reader of the contacts' indexes answers what a scan
// of the records answers, whatever state the bulk load is in, and that Check passes.
func assertReadsMatchScan(t testing.TB, db *store.DB) {
	t.Helper()
	err := db.View(func(tx *store.Tx) error {
		want := scan(t, tx)
		for email, w := range sample(want.byEmail) {
			got, err := tx.GHLContactsByEmail(email)
			if err != nil || !slices.Equal(ids(got), w) {
				return fmt.Errorf("email %q: %s (%v)", email, idDiff(ids(got), w), err)
			}
		}
		for phone, w := range sample(want.byPhone) {
			got, err := tx.GHLContactsByPhone(phone)
			if err != nil || !slices.Equal(ids(got), w) {
				return fmt.Errorf("phone %q: %s (%v)", phone, idDiff(ids(got), w), err)
			}
		}
		for tag, w := range want.byTag {
			var got []string
			err := tx.GHLContactsByTag(tag, func(c *store.GHLContact) error { got = append(got, c.ID); return nil })
			if err != nil || !slices.Equal(got, w) {
				return fmt.Errorf("tag %q: %s (%v)", tag, idDiff(got, w), err)
			}
		}
		var got []string
		if err := tx.GHLContactsUpdatedSince(time.Time{}, func(c *store.GHLContact) error { got = append(got, c.ID); return nil }); err != nil {
			return err
		}
		if !slices.Equal(got, want.byUpdated) {
			return fmt.Errorf("updated since the epoch: %s", idDiff(got, want.byUpdated))
		}
		due, err := tx.NextChildrenDue(len(want.byChildren) + 10)
		if err != nil {
			return err
		}
		var dirtyFree []string
		for _, id := range due {
			if d, _ := tx.IsDirty(id); !d {
				dirtyFree = append(dirtyFree, id)
			}
		}
		var wantFree []string
		for _, id := range want.byChildren {
			if d, _ := tx.IsDirty(id); !d {
				wantFree = append(wantFree, id)
			}
		}
		if !slices.Equal(dirtyFree, wantFree) {
			return fmt.Errorf("children due: %s", idDiff(dirtyFree, wantFree))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

func bulkState(t testing.TB, db *store.DB) store.BulkState {
	t.Helper()
	var bs store.BulkState
	if err := db.View(func(tx *store.Tx) error {
		var err error
		bs, err = tx.BulkState()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return bs
}

// TestBulkLoadStoresWhatPutsStore stages contacts in runs with every complication a resumed
// first sync can meet — a contact read again newer, read again older (a lagging search),
// deleted while staged, deleted and read again, already stored by an ordinary put, waiting
// in the quarantine — and checks that the merged mirror holds exactly what ordinary puts one
// after the other leave, with complete indexes.
func TestBulkLoadStoresWhatPutsStore(t *testing.T) {
	dir := t.TempDir()
	bulk := openBulk(t, filepath.Join(dir, "bulk.db"), store.Options{})
	ref := openBulk(t, filepath.Join(dir, "ref.db"), store.Options{})
	// The puts a first sync would make one after the other, except that a contact whose
	// children were never fetched is not marked dirty when read again: the first sync
	// fetches the children of every such contact (and its staged copies are not visible).
	put := func(recs []store.GHLContact) {
		err := ref.Update(func(tx *store.Tx) error {
			sp := store.Signpost{At: bulkBase.Add(1000 * time.Hour)}
			for _, r := range recs {
				old, err := tx.GetGHLContact(r.ID)
				if err == nil && sp.CopyStands(old.DateUpdated, r.DateUpdated) {
					continue
				}
				if err == nil && !old.ChildrenFetchedAt.IsZero() {
					r.ChildrenFetchedAt = old.ChildrenFetchedAt
					if err := tx.MarkDirty(r.ID, "changed"); err != nil {
						return err
					}
				}
				if err := tx.PutGHLContact(&r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	both := func(fn func(tx *store.Tx) error) {
		for _, db := range []*store.DB{bulk, ref} {
			if err := db.Update(fn); err != nil {
				t.Fatal(err)
			}
		}
	}
	stored := bulkRange(1000, 1050, 0)
	for i := range stored {
		stored[i].ChildrenFetchedAt = bulkBase.Add(time.Duration(i) * time.Minute)
	}
	both(func(tx *store.Tx) error {
		for i := range stored {
			if err := tx.PutGHLContact(&stored[i]); err != nil {
				return err
			}
		}
		_, err := tx.QuarantineDelete(store.KindContact, store.SideGHL, bulkContact(310, 0).ID)
		return err
	})
	steps := [][]store.GHLContact{
		bulkRange(0, 320, 0),   // new contacts, 310 among them quarantined
		bulkRange(250, 400, 1), // 250..319 read again, newer
		bulkRange(260, 270, 0), // and again, older: the v1 copies stand
	}
	for _, s := range steps {
		stage(t, bulk, s)
		put(s)
	}
	both(func(tx *store.Tx) error { // staged only, and stored
		for _, n := range []int{270, 1000} {
			if err := tx.DeleteGHLContact(bulkContact(n, 0).ID); err != nil {
				return err
			}
		}
		return nil
	})
	last := append(bulkRange(1000, 1002, 1), bulkContact(5, 2)) // back after deletion; stored, newer
	stage(t, bulk, last)
	put(last)
	if bs := bulkState(t, bulk); bs.Staged == 0 {
		t.Fatalf("nothing staged: %+v", bs)
	}
	st, err := bulk.CompleteBulkLoad(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if bs := bulkState(t, bulk); bs.Pending() {
		t.Fatalf("bulk load still pending after completion: %+v", bs)
	}
	t.Logf("bulk load: %+v", st)
	if st.Transactions < 10 {
		t.Errorf("the load took %d transactions; the test needs many (BulkTxBytes)", st.Transactions)
	}
	assertReadsMatchScan(t, bulk)
	assertSameMirror(t, bulk, ref)
}

// assertSameMirror compares the contacts, dirty marks and quarantine of two mirrors.
func assertSameMirror(t *testing.T, a, b *store.DB) {
	t.Helper()
	dump := func(db *store.DB) string {
		var sb strings.Builder
		err := db.View(func(tx *store.Tx) error {
			if err := tx.ForEachGHLContact(func(c *store.GHLContact) error {
				j, _ := json.Marshal(c)
				d, _ := tx.IsDirty(c.ID)
				fmt.Fprintf(&sb, "%s dirty=%v\n", j, d)
				return nil
			}); err != nil {
				return err
			}
			q, err := tx.Quarantined()
			fmt.Fprintf(&sb, "quarantine %d\n", len(q))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return sb.String()
	}
	if da, db := dump(a), dump(b); da != db {
		al, bl := strings.Split(da, "\n"), strings.Split(db, "\n")
		for i := range min(len(al), len(bl)) {
			if al[i] != bl[i] {
				t.Fatalf("mirrors differ at line %d:\nbulk: %s\nputs: %s", i, al[i], bl[i])
			}
		}
		t.Fatalf("mirrors differ in length: %d vs %d lines", len(al), len(bl))
	}
}

// TestReadsDuringBulkLoadAnswerAsAScan interrupts the merge and the index build after more
// and more transactions and checks, in every state reached, that every index reader and the
// query engine answer what a scan answers, and that Check passes.
func TestReadsDuringBulkLoadAnswerAsAScan(t *testing.T) {
	commits := 0
	var mu sync.Mutex
	var cancel context.CancelFunc
	stopAt := 0
	db := openBulk(t, filepath.Join(t.TempDir(), "m.db"), store.Options{OnCommit: func(error) {
		mu.Lock()
		defer mu.Unlock()
		if commits++; commits == stopAt && cancel != nil {
			cancel()
		}
	}})
	for r := range 5 {
		stage(t, db, bulkRange(r*300, r*300+400, r)) // overlapping runs
	}
	states := 0
	for step := 1; ; step *= 2 {
		ctx, c := context.WithCancel(t.Context())
		mu.Lock()
		cancel, stopAt = c, commits+step
		mu.Unlock()
		_, err := db.CompleteBulkLoad(ctx)
		c()
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		assertReadsMatchScan(t, db)
		assertQueryPlan(t, db)
		states++
		if err == nil {
			break
		}
	}
	if states < 4 {
		t.Fatalf("only %d interrupted states checked", states)
	}
	if bs := bulkState(t, db); bs.Pending() {
		t.Fatalf("still pending: %+v", bs)
	}
}

// TestIndexBuildWithConcurrentWrites runs the index build while another goroutine keeps
// changing and deleting contacts through ordinary writes: the build must not write an entry
// a record no longer produces (Check refuses a stale one) nor miss one.
func TestIndexBuildWithConcurrentWrites(t *testing.T) {
	db := openBulk(t, filepath.Join(t.TempDir(), "m.db"), store.Options{BulkTxBytes: 2 << 10})
	stage(t, db, bulkRange(0, 3000, 0))
	done := make(chan struct{})
	var writes int
	var werr error
	go func() {
		defer close(done)
		rng := rand.New(rand.NewPCG(1, 2))
		for v := 1; ; v++ {
			var pending bool
			werr = db.Update(func(tx *store.Tx) error {
				bs, err := tx.BulkState()
				if pending = bs.Pending(); err != nil || !pending {
					return err
				}
				n := rng.IntN(3000)
				if v%5 == 0 {
					if err := tx.DeleteGHLContact(bulkContact(n, 0).ID); err != nil && !errors.Is(err, store.ErrNotFound) {
						return err
					}
					return nil
				}
				c := bulkContact(n, v)
				return tx.PutGHLContact(&c)
			})
			if werr != nil || !pending {
				return
			}
			writes++
		}
	}()
	if _, err := db.CompleteBulkLoad(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-done
	if werr != nil {
		t.Fatal(werr)
	}
	t.Logf("%d ordinary writes during the load", writes)
	if writes < 20 {
		t.Fatalf("only %d writes raced the build; the test proves nothing", writes)
	}
	assertReadsMatchScan(t, db)
}

// TestSchema4IsMigratedToBulkLoad opens a schema-4 file (no staging bucket) and checks that
// the migration creates the bucket and records version 5.
func TestSchema4IsMigratedToBulkLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v4.db")
	db := openBulk(t, path, store.Options{})
	c := bulkContact(1, 0)
	if err := db.Update(func(tx *store.Tx) error { return tx.PutGHLContact(&c) }); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	raw, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte("ghl.contacts.staged")); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte{0, 0, 0, 4})
	}); err != nil {
		t.Fatal(err)
	}
	_ = raw.Close()
	if _, err := store.Open(path, store.Options{ReadOnly: true}); !errors.Is(err, store.ErrNeedsMigration) {
		t.Fatalf("read-only open of schema 4: %v, want ErrNeedsMigration", err)
	}
	db = openBulk(t, path, store.Options{})
	if v, err := db.SchemaOf(); err != nil || v != 5 {
		t.Fatalf("schema after migration: %d, %v", v, err)
	}
	stage(t, db, bulkRange(2, 10, 0))
	if _, err := db.CompleteBulkLoad(t.Context()); err != nil {
		t.Fatal(err)
	}
	assertReadsMatchScan(t, db)
}

// assertQueryPlan checks that `ptsync query contacts --tag X` answers what a scan answers,
// and says so when it could not use the index.
func assertQueryPlan(t testing.TB, db *store.DB) {
	t.Helper()
	err := db.View(func(tx *store.Tx) error {
		building := tx.IndexesIncomplete(store.GHLContacts)
		for tag, w := range scan(t, tx).byTag {
			res, err := query.Run(tx, query.Request{Kind: "contacts", Tag: tag, Fields: []string{"id"}}, bulkBase)
			if err != nil {
				return err
			}
			var got []string
			for _, r := range res.Rows {
				got = append(got, r["id"].(string))
			}
			if !slices.Equal(got, w) {
				return fmt.Errorf("query --tag %s (plan %s): %d rows, a scan finds %d", tag, res.Plan, len(got), len(w))
			}
			if building != (res.Plan == "scan" && strings.Contains(res.Note, "being built")) || !building && res.Plan != "index:tag" {
				return fmt.Errorf("query --tag %s while building=%v: plan %q, note %q", tag, building, res.Plan, res.Note)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
