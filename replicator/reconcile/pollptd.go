package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/replicator/sweepguard"
	"ptsync/store"
)

// Cursor names this package keeps in the store.
const (
	// CursorPTDClients is the PTD client listing position: Value is the contract's opaque
	// cursor of the last page's start (the contract gives no cursor after the last page, so
	// that page is re-read and de-duplicated on (id, updatedAt)); Through the greatest
	// updatedAt stored.
	CursorPTDClients = "ptd.clients"
	// CursorPTDChildren is the rotation of the PTD child refresh: Value is the last client
	// id re-read, Through the rotation's clock (how far into the period it has gone).
	CursorPTDChildren = "ptd.children.rotation"
	// CursorPTDChildrenPending holds the PTD clients marked for a children refresh (Value: a
	// JSON array of client ids), written in the transaction that stored the change.
	CursorPTDChildrenPending = "ptd.children.pending"
	// CursorCycle counts reconcile cycles (Value is the number), for history.
	CursorCycle = "reconcile.cycle"
	// CursorPTDListed exists once a PTD client listing has reached its last page: from then
	// on the mirror holds every client PTD had, and a HighLevel contact that matches none of
	// them may be created in PTD. UpdatedAt is when the first complete listing was stored
	// (Through stays zero: the marker follows no timestamp, so status shows no lag for it).
	CursorPTDListed = "ptd.clients.listed"
)

// PollStats reports one PollPTD.
type PollStats struct {
	Pages    int
	Read     int // clients listed
	Changed  int // clients new or changed in the mirror
	Children int // clients whose tasks and notes were re-read
	Skipped  bool
}

// PollPTD mirrors PT Distinction: clients changed since the stored cursor (one transaction per
// page, with the cursor and the changed clients' children marks), then the tasks and notes of
// the marked clients and of the rotation's share of every client (see refreshPTDChildren; one
// transaction per 100 clients, replacing the mirror's copies and clearing their marks). A
// driver without client reads (zapier) is skipped, said once. Safe to repeat; on error the
// committed pages stay and the next call resumes.
func (e *Engine) PollPTD(ctx context.Context) (PollStats, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.opts.Offline {
		return PollStats{}, ErrOffline
	}
	st, err := e.pollPTD(ctx)
	return st, err
}

func (e *Engine) pollPTD(ctx context.Context) (PollStats, error) {
	var st PollStats
	if e.ptd == nil || !e.can(ptd.CapClientRead, "poll ptd clients") {
		st.Skipped = true
		return st, nil
	}
	var cur store.Cursor
	if err := e.db.View(func(tx *store.Tx) error {
		c, err := tx.Cursor(CursorPTDClients)
		if err == nil {
			cur = c
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}); err != nil {
		return st, fmt.Errorf("cannot read ptd cursor: %w", err)
	}
	changed := map[string]bool{}
	pos := cur.Value
	for {
		page, err := e.ptd.ListClientsPage(ctx, pos, e.opts.PTDPageSize)
		if err != nil {
			return st, fmt.Errorf("cannot poll ptd clients after %d pages: %w", st.Pages, err)
		}
		st.Pages++
		st.Read += len(page.Clients)
		now := e.now().UTC()
		next := pos
		if page.NextCursor != "" {
			next = page.NextCursor
		}
		err = e.db.Update(func(tx *store.Tx) error {
			var marks []string
			through := cur.Through
			for _, c := range page.Clients {
				rec := e.ptdRecord(c, now)
				if rec.UpdatedAt.After(through) {
					through = rec.UpdatedAt
				}
				old, err := tx.GetPTDClient(rec.ID)
				if err == nil && old.ETag == rec.ETag && old.UpdatedAt.Equal(rec.UpdatedAt) {
					continue
				}
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				if err := tx.PutPTDClient(&rec); err != nil {
					return err
				}
				changed[rec.ID] = true
				marks = append(marks, rec.ID)
			}
			if err := updatePTDMarks(tx, marks, nil); err != nil {
				return err
			}
			cur = store.Cursor{Value: next, Covers: store.PTDClients, Through: through}
			return tx.SetCursor(CursorPTDClients, cur)
		})
		if err != nil {
			return st, fmt.Errorf("cannot store ptd clients page: %w", err)
		}
		if page.NextCursor == "" {
			break
		}
		pos = page.NextCursor
	}
	st.Changed = len(changed)
	if err := e.markPTDListed(); err != nil {
		return st, err
	}
	n, err := e.refreshPTDChildren(ctx)
	st.Children = n
	return st, err
}

// markPTDListed records, once, that a client listing has been stored to its last page
// (CursorPTDListed). A crash before it is written only delays PTD creates to the next poll.
func (e *Engine) markPTDListed() error {
	err := e.db.Update(func(tx *store.Tx) error {
		if _, err := tx.Cursor(CursorPTDListed); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.SetCursor(CursorPTDListed, store.Cursor{Value: "complete", Covers: store.PTDClients})
	})
	if err != nil {
		return fmt.Errorf("cannot record the first complete ptd listing: %w", err)
	}
	return nil
}

// refreshPTDChildren re-reads the tasks and notes of PTD clients, like the HighLevel side's
// children job: first the clients marked as changed (their updatedAt moved, a trigger, a
// push that found a newer copy; the marks are written with the change, so a kill cannot
// lose them), then the next clients of a rotation over every mirrored client, linked or
// not, whose quota comes from PTDChildrenPeriod: each client is re-read at least once per
// period, and a poll takes only its share of the period's elapsed time, so an idle service
// spends few requests (2,000 clients over 24 h at one poll every 5 s: about one client per
// 40 s). PTDChildrenPerPoll bounds one poll; marks over the bound wait for the next poll.
// A client whose read fails stays marked. Returns how many clients were re-read.
func (e *Engine) refreshPTDChildren(ctx context.Context) (int, error) {
	tasks := e.ptd.Capabilities().Has(ptd.CapTasks)
	notes := e.ptd.Capabilities().Has(ptd.CapNotes)
	if !tasks && !notes {
		return 0, nil
	}
	var all []string
	var pending map[string]bool
	var rot store.Cursor
	if err := e.db.View(func(tx *store.Tx) error {
		if c, err := tx.Cursor(CursorPTDChildren); err == nil {
			rot = c
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var err error
		if pending, err = loadPTDMarks(tx); err != nil {
			return err
		}
		// A client held in the quarantine (gone from PTD) has no children to read: its
		// listings would answer 404, read as empty, and take its children for deleted.
		qs, err := tx.Quarantined()
		if err != nil {
			return err
		}
		gone := map[string]bool{}
		for _, q := range qs {
			if q.Kind == store.KindContact && q.Side == store.SidePTD && q.Returned.IsZero() {
				gone[q.ID] = true
			}
		}
		return tx.WithoutRaw().ReuseValues().ForEachPTDClient(func(c *store.PTDClient) error {
			if !gone[c.ID] {
				all = append(all, c.ID)
			}
			return nil
		})
	}); err != nil {
		return 0, fmt.Errorf("cannot read ptd children queue: %w", err)
	}
	sort.Strings(all) // the store lists in id order already; the rotation depends on it
	limit := e.opts.PTDChildrenPerPoll
	if limit < 0 {
		limit = len(all)
	}
	now := e.now().UTC()
	var ids, drop []string
	seen := map[string]bool{}
	var marked []string
	for id := range pending {
		marked = append(marked, id)
	}
	sort.Strings(marked)
	for _, id := range marked {
		if _, found := slices.BinarySearch(all, id); !found {
			drop = append(drop, id) // no longer mirrored (deleted): nothing to read
			continue
		}
		if len(ids) < limit {
			ids = append(ids, id)
			seen[id] = true
		}
	}
	// The rotation: everyone when PTDChildrenPerPoll is negative, else the period's share.
	base := rot.Through
	if base.IsZero() || base.After(now) {
		base = now // first poll: every client is new, hence marked
	}
	if period := e.opts.PTDChildrenPeriod; now.Sub(base) > period {
		base = now.Add(-period)
	}
	quota := len(all)
	if e.opts.PTDChildrenPerPoll >= 0 && len(all) > 0 {
		quota = int(float64(len(all)) * float64(now.Sub(base)) / float64(e.opts.PTDChildrenPeriod))
	}
	start, _ := slices.BinarySearch(all, rot.Value)
	if start < len(all) && all[start] == rot.Value {
		start++
	}
	last, steps := rot.Value, 0
	for ; steps < quota && steps < len(all) && len(ids) < limit; steps++ {
		id := all[(start+steps)%len(all)]
		if !seen[id] {
			ids = append(ids, id)
			seen[id] = true
		}
		last = id
	}
	through := base
	if len(all) > 0 {
		through = base.Add(time.Duration(float64(e.opts.PTDChildrenPeriod) * float64(steps) / float64(len(all))))
	}
	if e.opts.PTDChildrenPerPoll < 0 {
		through = now
	}
	type kids struct {
		id  string
		ts  []ptdwire.Task
		ns  []ptdwire.Note
		err error
		// since is when the first list request left: the mirror's copies written after it
		// (by the pusher) are newer than the lists.
		since time.Time
	}
	// Fetch with a few workers (the PTD side has no documented budget; 8 in flight is polite)
	// and commit in chunks, so a poll costs a handful of fsyncs, not one per client.
	out := make([]kids, len(ids))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(8, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				k := kids{id: ids[i], since: e.now().UTC()}
				if tasks {
					if k.ts, k.err = e.ptd.ListTasks(ctx, k.id); k.err != nil && !errors.Is(k.err, ptd.ErrNotFound) {
						k.err = fmt.Errorf("cannot poll tasks of ptd client %s: %w", k.id, k.err)
						out[i] = k
						continue
					}
				}
				if notes {
					if k.ns, k.err = e.ptd.ListNotes(ctx, k.id); k.err != nil && !errors.Is(k.err, ptd.ErrNotFound) {
						k.err = fmt.Errorf("cannot poll notes of ptd client %s: %w", k.id, k.err)
					}
				}
				if errors.Is(k.err, ptd.ErrNotFound) {
					k.err = nil
				}
				out[i] = k
			}
		}()
	}
	for i := range ids {
		work <- i
	}
	close(work)
	wg.Wait()
	for i := 0; i < len(out); i += 100 {
		chunk := out[i:min(i+100, len(out))]
		stamp := e.now().UTC()
		var held []store.HeldSweep
		if err := e.db.Update(func(tx *store.Tx) error {
			var done, failed []string
			held = held[:0]
			keepHeld := func(h *store.HeldSweep, err error) error {
				if h != nil && err == nil {
					held = append(held, *h)
				}
				return err
			}
			for _, k := range chunk {
				if k.err != nil {
					failed = append(failed, k.id) // read again next poll
					continue
				}
				if tasks {
					if err := keepHeld(ptdTaskKind().replace(tx, k.id, k.ts, k.since, stamp, e.bounds())); err != nil {
						return err
					}
				}
				if notes {
					if err := keepHeld(ptdNoteKind().replace(tx, k.id, k.ns, k.since, stamp, e.bounds())); err != nil {
						return err
					}
				}
				done = append(done, k.id)
			}
			return updatePTDMarks(tx, failed, done)
		}); err != nil {
			return 0, fmt.Errorf("cannot store children of ptd clients: %w", err)
		}
		for _, h := range held {
			sweepguard.Report(e.log, e.m, h)
		}
	}
	if last != rot.Value || !through.Equal(rot.Through) || len(drop) > 0 {
		if err := e.db.Update(func(tx *store.Tx) error {
			if err := updatePTDMarks(tx, nil, drop); err != nil {
				return err
			}
			return tx.SetCursor(CursorPTDChildren, store.Cursor{Value: last, Through: through})
		}); err != nil {
			return len(ids), fmt.Errorf("cannot store ptd children rotation: %w", err)
		}
	}
	for _, k := range out {
		if k.err != nil {
			return len(ids), k.err
		}
	}
	return len(ids), nil
}

// loadPTDMarks reads the PTD clients marked for a children refresh.
func loadPTDMarks(tx *store.Tx) (map[string]bool, error) {
	out := map[string]bool{}
	c, err := tx.Cursor(CursorPTDChildrenPending)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.Value == "") {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	if err := json.Unmarshal([]byte(c.Value), &ids); err != nil {
		return nil, fmt.Errorf("cannot read cursor %s: %w: %v", CursorPTDChildrenPending, store.ErrCorrupt, err)
	}
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// updatePTDMarks marks add and unmarks remove, in tx (so with the change or the refresh that
// caused it). It writes nothing when nothing changes.
func updatePTDMarks(tx *store.Tx, add, remove []string) error {
	if len(add) == 0 && len(remove) == 0 {
		return nil
	}
	m, err := loadPTDMarks(tx)
	if err != nil {
		return err
	}
	n := len(m)
	changed := false
	for _, id := range remove {
		if m[id] {
			delete(m, id)
			changed = true
		}
	}
	for _, id := range add {
		m[id] = true
	}
	if !changed && len(m) == n {
		return nil
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	b, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	return tx.SetCursor(CursorPTDChildrenPending, store.Cursor{Value: string(b), Covers: store.PTDClients})
}

// ptdChildKind is one kind of a PTD client's children as the poll mirrors it.
type ptdChildKind[W, R any] struct {
	kind    string
	list    func(tx *store.Tx, client string) ([]R, error)
	record  func(w W, client string, now time.Time) R
	id      func(r *R) string
	fetched func(r *R) time.Time
	same    func(a, b *R) bool // nothing a poll would change
	put     func(tx *store.Tx, r *R) error
	del     func(tx *store.Tx, client, id string) error
}

func ptdTaskKind() ptdChildKind[ptdwire.Task, store.PTDTask] {
	return ptdChildKind[ptdwire.Task, store.PTDTask]{kind: store.KindTask, list: (*store.Tx).PTDTasksOf,
		record: func(t ptdwire.Task, client string, now time.Time) store.PTDTask {
			if t.ClientID == "" {
				t.ClientID = client
			}
			return ptdTaskRecord(t, now)
		},
		id:      func(r *store.PTDTask) string { return r.ID },
		fetched: func(r *store.PTDTask) time.Time { return r.FetchedAt },
		same: func(a, b *store.PTDTask) bool {
			return a.UpdatedAt.Equal(b.UpdatedAt) && a.Title == b.Title && a.Completed == b.Completed
		},
		put: (*store.Tx).PutPTDTask, del: (*store.Tx).DeletePTDTask}
}

func ptdNoteKind() ptdChildKind[ptdwire.Note, store.PTDNote] {
	return ptdChildKind[ptdwire.Note, store.PTDNote]{kind: store.KindNote, list: (*store.Tx).PTDNotesOf,
		record: func(n ptdwire.Note, client string, now time.Time) store.PTDNote {
			if n.ClientID == "" {
				n.ClientID = client
			}
			return ptdNoteRecord(n, now)
		},
		id:      func(r *store.PTDNote) string { return r.ID },
		fetched: func(r *store.PTDNote) time.Time { return r.FetchedAt },
		same:    func(a, b *store.PTDNote) bool { return a.UpdatedAt.Equal(b.UpdatedAt) && a.Body == b.Body },
		put:     (*store.Tx).PutPTDNote, del: (*store.Tx).DeletePTDNote}
}

// replace makes the mirror's children of client equal to listed, a list requested at since. A
// child the mirror recorded after since (the pusher created or updated it while the list was in
// flight) is newer than the list: it is neither overwritten nor taken for deleted. Any other
// vanished child is removed and, when linked, quarantined, which the reconciler reads as a
// deletion to propagate, unless the sweep guard does not believe the list: then nothing is
// removed or quarantined and the held sweep is returned for the caller to report once tx
// commits.
func (k ptdChildKind[W, R]) replace(tx *store.Tx, client string, listed []W, since, now time.Time, bounds sweepguard.Bounds) (*store.HeldSweep, error) {
	old, err := k.list(tx, client)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*R, len(old))
	keep := map[string]bool{}
	for i := range old {
		id := k.id(&old[i])
		byID[id] = &old[i]
		if k.fetched(&old[i]).After(since) {
			keep[id] = true
		}
	}
	ev := sweepguard.Evidence{Side: store.SidePTD, Kind: k.kind, Scope: client, Mirrored: len(old) - len(keep),
		Reported: -1, Floor: sweepguard.ChildFloor}
	for _, w := range listed {
		rec := k.record(w, client, now)
		id := k.id(&rec)
		if keep[id] {
			continue
		}
		keep[id] = true
		ev.Listed++
		if o := byID[id]; o != nil && k.same(o, &rec) {
			continue
		}
		if err := k.put(tx, &rec); err != nil {
			return nil, err
		}
	}
	for i := range old {
		if id := k.id(&old[i]); !keep[id] {
			ev.Missing = append(ev.Missing, id)
		}
	}
	v := sweepguard.Judge(bounds, ev)
	if h, err := sweepguard.Record(tx, ev, v); err != nil || v.Suspect {
		return &h, err
	}
	for _, id := range ev.Missing {
		if err := k.del(tx, client, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err := quarantineIfLinked(tx, k.kind, id); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// quarantineIfLinked records a vanished PTD child in the quarantine when a link knows it, so
// the reconciler propagates the deletion; unlinked children simply disappear.
func quarantineIfLinked(tx *store.Tx, kind, id string) error {
	if _, err := tx.LinkByPTD(kind, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	_, err := tx.QuarantineDelete(kind, store.SidePTD, id)
	return err
}
