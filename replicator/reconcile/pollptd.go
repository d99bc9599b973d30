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
	"ptsync/metrics"
	"ptsync/replicator/reconcile/kinds"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/replicator/sweepguard"
	"ptsync/store"
)

// Cursor names this package keeps in the store.
const (
	// CursorPTDClients is the PTD client listing position: Value is the contract's opaque
	// cursor of the last page's start (the contract gives no cursor after the last page, so
	// that page is re-read and de-duplicated on (id, updatedAt)), held at the start of the
	// first page that showed a client stamped in the future; Through the greatest updatedAt
	// stored, never later than the server's clock when it answered (store.Signpost).
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
	if e.remote.PTD == nil || !e.remote.Can(ptd.CapClientRead, "poll ptd clients") {
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
	// The walk reads every page, but the stored position stops before the first page that
	// showed a client stamped in the future: the listing orders by updatedAt, so a cursor past
	// that client would skip every client changed later (stamped earlier) until the clock
	// catches up. The held pages (the future clients sort last) are re-read each poll.
	pos, held := cur.Value, false
	for {
		sent := e.now().UTC()
		page, err := e.remote.PTD.ListClientsPage(ctx, pos, e.opts.PTDPageSize)
		if err != nil {
			return st, fmt.Errorf("cannot poll ptd clients after %d pages: %w", st.Pages, err)
		}
		st.Pages++
		st.Read += len(page.Clients)
		sp := store.NewSignpost(page.Date, sent, 0)
		held = held || slices.ContainsFunc(page.Clients, func(c ptdwire.Client) bool { return sp.Future(mapping.ParseTime(c.UpdatedAt, time.UTC)) })
		if !held && page.NextCursor != "" {
			cur.Value = page.NextCursor
		}
		if cur, err = e.storePTDClients(page.Clients, sp, cur, changed); err != nil {
			return st, err
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

// storePTDClients writes the listed clients that are new or changed (by ETag and updatedAt)
// with their children marks and the cursor (cur's Value, its Through moved to the newest
// client but never past sp's bound) in one transaction, and records the changed ids in
// changed. A written client stamped in the future of sp is counted and logged after the
// commit, once: its re-reads are unchanged. It returns the cursor stored.
func (e *Engine) storePTDClients(clients []ptdwire.Client, sp store.Signpost, cur store.Cursor, changed map[string]bool) (store.Cursor, error) {
	now := e.now().UTC()
	var future []store.PTDClient
	next := cur
	err := e.db.Update(func(tx *store.Tx) error {
		future = future[:0]
		var marks []string
		var newest time.Time
		for _, c := range clients {
			rec := e.mp.PTDRecord(c, now)
			if rec.UpdatedAt.After(newest) {
				newest = rec.UpdatedAt
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
			if sp.Future(rec.UpdatedAt) {
				future = append(future, rec)
			}
		}
		if err := updatePTDMarks(tx, marks, nil); err != nil {
			return err
		}
		next = store.Cursor{Value: cur.Value, Covers: store.PTDClients, Through: sp.Through(cur.Through, newest)}
		return tx.SetCursor(CursorPTDClients, next)
	})
	if err != nil {
		return cur, fmt.Errorf("cannot store ptd clients page: %w", err)
	}
	for _, rec := range future {
		e.m.FutureTimestamp(metrics.UpstreamPTD)
		e.log.Warn("pt distinction client stamped in the future; applied, cursor held at the request time",
			"id", rec.ID, "updated_at", rec.UpdatedAt.Format(time.RFC3339Nano), "answered_at", sp.At.Format(time.RFC3339))
	}
	return next, nil
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

// refreshPTDChildren re-reads the children of PTD clients (the kinds of polledKinds), like the HighLevel side's
// children job: first the clients marked as changed (their updatedAt moved, a trigger, a
// push that found a newer copy; the marks are written with the change, so a kill cannot
// lose them), then the next clients of a rotation over every mirrored client, linked or
// not, whose quota comes from PTDChildrenPeriod: each client is re-read at least once per
// period, and a poll takes only its share of the period's elapsed time, so an idle service
// spends few requests (2,000 clients over 24 h at one poll every 5 s: about one client per
// 40 s). PTDChildrenPerPoll bounds one poll; marks over the bound wait for the next poll.
// A client whose read fails stays marked. Returns how many clients were re-read.
func (e *Engine) refreshPTDChildren(ctx context.Context) (int, error) {
	ks := e.polledKinds()
	if len(ks) == 0 {
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
		id    string
		lists [][]store.ChildRecord // one per polled kind
		err   error
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
				k := kids{id: ids[i], since: e.now().UTC(), lists: make([][]store.ChildRecord, len(ks))}
				for j, kind := range ks {
					// A client PTD no longer has lists as empty (its quarantine is the sweep's).
					l, err := kind.PTD.Calls.List(ctx, e.childEnv(), k.id)
					if err != nil && !errors.Is(err, ptd.ErrNotFound) {
						k.err = fmt.Errorf("cannot poll %s records of ptd client %s: %w", kind.Name, k.id, err)
						break
					}
					k.lists[j] = l
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
				for j, kind := range ks {
					if err := keepHeld(replacePTDChildren(tx, kind, k.id, k.lists[j], k.since, e.bounds())); err != nil {
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

// polledKinds are the kinds whose PTD records the children poll re-reads: the BothWays kinds
// whose capability the driver has and whose PTD side can list.
func (e *Engine) polledKinds() []kinds.ChildKind {
	var out []kinds.ChildKind
	for _, k := range e.childKinds() {
		if k.Direction == kinds.BothWays && k.PTD.Calls.List != nil && e.remote.PTD.Capabilities().Has(k.Cap) {
			out = append(out, k)
		}
	}
	return out
}

// replacePTDChildren makes the mirror's children of kind k of client equal to listed, a list requested at since. A
// child the mirror recorded after since (the pusher created or updated it while the list was in
// flight) is newer than the list: it is neither overwritten nor taken for deleted. Any other
// vanished child is removed and, when linked, quarantined, which the reconciler reads as a
// deletion to propagate, unless the sweep guard does not believe the list: then nothing is
// removed or quarantined and the held sweep is returned for the caller to report once tx
// commits.
func replacePTDChildren(tx *store.Tx, k kinds.ChildKind, client string, listed []store.ChildRecord, since time.Time, bounds sweepguard.Bounds) (*store.HeldSweep, error) {
	old, err := tx.ChildrenOf(k.Name, store.SidePTD, client)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]store.ChildRecord, len(old))
	keep := map[string]bool{}
	for _, r := range old {
		byID[r.ChildID()] = r
		if r.FetchedTime().After(since) {
			keep[r.ChildID()] = true
		}
	}
	ev := sweepguard.Evidence{Side: store.SidePTD, Kind: k.Name, Scope: client, Mirrored: len(old) - len(keep),
		Reported: -1, Floor: sweepguard.ChildFloor}
	for _, rec := range listed {
		id := rec.ChildID()
		if keep[id] {
			continue
		}
		keep[id] = true
		ev.Listed++
		if o := byID[id]; o != nil && k.Same != nil && k.Same(o, rec) {
			continue
		}
		if err := tx.PutChild(k.Name, store.SidePTD, rec); err != nil {
			return nil, err
		}
	}
	for _, r := range old {
		if id := r.ChildID(); !keep[id] {
			ev.Missing = append(ev.Missing, id)
		}
	}
	v := sweepguard.Judge(bounds, ev)
	if h, err := sweepguard.Record(tx, ev, v); err != nil || v.Suspect {
		return &h, err
	}
	for _, id := range ev.Missing {
		if err := tx.DeleteChild(k.Name, store.SidePTD, client, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err := quarantineIfLinked(tx, k.Name, id); err != nil {
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
