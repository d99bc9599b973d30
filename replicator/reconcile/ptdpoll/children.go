package ptdpoll

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
	"ptsync/replicator/reconcile/kinds"
	"ptsync/replicator/sweepguard"
	"ptsync/store"
)

// refreshChildren re-reads the children of PTD clients (the kinds of polledKinds), like the
// HighLevel side's children job: first the clients marked as changed (their updatedAt moved,
// a trigger, a push that found a newer copy; the marks are written with the change, so a kill
// cannot lose them), then the next clients of a rotation over every mirrored client, linked
// or not (see pickClients). A client whose read fails stays marked. Returns how many clients
// were re-read.
func (p *Poller) refreshChildren(ctx context.Context) (int, error) {
	ks := p.polledKinds()
	if len(ks) == 0 {
		return 0, nil
	}
	q, err := p.childrenQueue()
	if err != nil {
		return 0, err
	}
	pick := p.pickClients(q, p.Now().UTC())
	out := p.fetchChildren(ctx, pick.ids, ks)
	if err := p.storeChildren(out, ks); err != nil {
		return 0, err
	}
	if err := p.advanceRotation(q.rotation, pick); err != nil {
		return len(pick.ids), err
	}
	for _, k := range out {
		if k.err != nil {
			return len(pick.ids), k.err
		}
	}
	return len(pick.ids), nil
}

// childrenQueue is what the children refresh chooses from: every mirrored client that is not
// held in the quarantine, in id order, the marked ones and the rotation's position.
type childrenQueue struct {
	all      []string
	marked   map[string]bool
	rotation store.Cursor
}

// childrenQueue reads the queue in one read transaction.
func (p *Poller) childrenQueue() (childrenQueue, error) {
	var q childrenQueue
	if err := p.Store.View(func(tx *store.Tx) error {
		if c, err := tx.Cursor(CursorChildren); err == nil {
			q.rotation = c
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var err error
		if q.marked, err = loadMarks(tx); err != nil {
			return err
		}
		// A client held in the quarantine (gone from PTD) has no children to read: its
		// listings would answer 404, read as empty, and take its children for deleted.
		gone, err := goneClients(tx)
		if err != nil {
			return err
		}
		return tx.WithoutRaw().ReuseValues().ForEachPTDClient(func(c *store.PTDClient) error {
			if !gone[c.ID] {
				q.all = append(q.all, c.ID)
			}
			return nil
		})
	}); err != nil {
		return q, fmt.Errorf("cannot read ptd children queue: %w", err)
	}
	sort.Strings(q.all) // the store lists in id order already; the rotation depends on it
	return q, nil
}

// goneClients are the PTD clients held in the quarantine that have not been listed again.
func goneClients(tx *store.Tx) (map[string]bool, error) {
	qs, err := tx.Quarantined()
	gone := map[string]bool{}
	for _, q := range qs {
		if q.Kind == store.KindContact && q.Side == store.SidePTD && q.Returned.IsZero() {
			gone[q.ID] = true
		}
	}
	return gone, err
}

// pick is the choice of one children refresh: the clients to re-read (marked first), the
// marks to drop (clients no longer mirrored), and where the rotation stands afterwards.
type pick struct {
	ids, drop []string
	last      string    // the rotation's last client
	through   time.Time // the rotation's clock
}

// pickClients chooses the clients of one refresh at now. The marked clients come first, in
// id order; then the rotation continues after its last client with its quota, the share of
// every client that the time since the rotation's clock is of ChildrenPeriod: each client is
// re-read at least once per period, and an idle service spends few requests (2,000 clients
// over 24 h at one poll every 5 s: about one client per 40 s). The clock advances by the
// share taken, so it trails now by about one poll on schedule; one that fell more than a
// period behind restarts from now - period. ChildrenPerPoll bounds the whole pick (marks over
// it wait for the next poll); negative means everyone, every poll. It only decides.
func (p *Poller) pickClients(q childrenQueue, now time.Time) pick {
	all, limit := q.all, p.ChildrenPerPoll
	if limit < 0 {
		limit = len(all)
	}
	var out pick
	seen := map[string]bool{}
	marked := make([]string, 0, len(q.marked))
	for id := range q.marked {
		marked = append(marked, id)
	}
	sort.Strings(marked)
	for _, id := range marked {
		if _, found := slices.BinarySearch(all, id); !found {
			out.drop = append(out.drop, id) // no longer mirrored (deleted): nothing to read
			continue
		}
		if len(out.ids) < limit {
			out.ids = append(out.ids, id)
			seen[id] = true
		}
	}
	base := q.rotation.Through
	if base.IsZero() || base.After(now) {
		base = now // first poll: every client is new, hence marked
	}
	if period := p.ChildrenPeriod; now.Sub(base) > period {
		base = now.Add(-period)
	}
	quota := len(all)
	if p.ChildrenPerPoll >= 0 && len(all) > 0 {
		quota = int(float64(len(all)) * float64(now.Sub(base)) / float64(p.ChildrenPeriod))
	}
	start, _ := slices.BinarySearch(all, q.rotation.Value)
	if start < len(all) && all[start] == q.rotation.Value {
		start++
	}
	out.last = q.rotation.Value
	steps := 0
	for ; steps < quota && steps < len(all) && len(out.ids) < limit; steps++ {
		id := all[(start+steps)%len(all)]
		if !seen[id] {
			out.ids = append(out.ids, id)
			seen[id] = true
		}
		out.last = id
	}
	out.through = base
	if len(all) > 0 {
		out.through = base.Add(time.Duration(float64(p.ChildrenPeriod) * float64(steps) / float64(len(all))))
	}
	if p.ChildrenPerPoll < 0 {
		out.through = now
	}
	return out
}

// clientChildren is one client's children as listed, one list per polled kind, or the error
// that stopped the read.
type clientChildren struct {
	id    string
	lists [][]store.ChildRecord
	err   error
	// since is when the first list request left: the mirror's copies written after it
	// (by the pusher) are newer than the lists.
	since time.Time
}

// fetchChildren lists the children of every client of ids with a few workers (the PTD side
// has no documented budget; 8 in flight is polite), in ids' order. A client PTD no longer has
// lists as empty (its quarantine is the sweep's); any other failure is kept in its result.
func (p *Poller) fetchChildren(ctx context.Context, ids []string, ks []kinds.ChildKind) []clientChildren {
	out := make([]clientChildren, len(ids))
	work := make(chan int)
	var wg sync.WaitGroup
	env := p.childEnv()
	for range min(8, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				k := clientChildren{id: ids[i], since: p.Now().UTC(), lists: make([][]store.ChildRecord, len(ks))}
				for j, kind := range ks {
					l, err := kind.PTD.Calls.List(ctx, env, k.id)
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
	return out
}

// storeChildren replaces the mirror's children of the clients read, 100 clients per
// transaction (a poll costs a handful of fsyncs, not one per client), and clears their
// marks; a client whose read failed stays marked. A listing the sweep guard holds is
// reported once its transaction committed.
func (p *Poller) storeChildren(out []clientChildren, ks []kinds.ChildKind) error {
	for i := 0; i < len(out); i += 100 {
		chunk := out[i:min(i+100, len(out))]
		var held []store.HeldSweep
		if err := p.Store.Update(func(tx *store.Tx) error {
			var done, failed []string
			held = held[:0]
			for _, k := range chunk {
				if k.err != nil {
					failed = append(failed, k.id) // read again next poll
					continue
				}
				for j, kind := range ks {
					h, err := replaceChildren(tx, kind, k.id, k.lists[j], k.since, p.Guard)
					if err != nil {
						return err
					}
					if h != nil {
						held = append(held, *h)
					}
				}
				done = append(done, k.id)
			}
			return MarkChildren(tx, failed, done)
		}); err != nil {
			return fmt.Errorf("cannot store children of ptd clients: %w", err)
		}
		for _, h := range held {
			sweepguard.Report(p.Logger, p.Metrics, h)
		}
	}
	return nil
}

// advanceRotation stores where the rotation stands after pick and drops the marks of
// clients no longer mirrored; nothing is written when nothing moved.
func (p *Poller) advanceRotation(rot store.Cursor, pick pick) error {
	if pick.last == rot.Value && pick.through.Equal(rot.Through) && len(pick.drop) == 0 {
		return nil
	}
	if err := p.Store.Update(func(tx *store.Tx) error {
		if err := MarkChildren(tx, nil, pick.drop); err != nil {
			return err
		}
		return tx.SetCursor(CursorChildren, store.Cursor{Value: pick.last, Through: pick.through})
	}); err != nil {
		return fmt.Errorf("cannot store ptd children rotation: %w", err)
	}
	return nil
}

// loadMarks reads the PTD clients marked for a children refresh.
func loadMarks(tx *store.Tx) (map[string]bool, error) {
	out := map[string]bool{}
	c, err := tx.Cursor(CursorChildrenPending)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.Value == "") {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	if err := json.Unmarshal([]byte(c.Value), &ids); err != nil {
		return nil, fmt.Errorf("cannot read cursor %s: %w: %v", CursorChildrenPending, store.ErrCorrupt, err)
	}
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// MarkChildren marks the PTD clients add for a children re-read by the next Poll and unmarks
// remove, in tx: call it in the transaction that stores the change that asks for the re-read
// (a poll that found a client changed, a push that found a newer copy), so the mark and the
// change commit or vanish together. It writes nothing when nothing changes.
func MarkChildren(tx *store.Tx, add, remove []string) error {
	if len(add) == 0 && len(remove) == 0 {
		return nil
	}
	m, err := loadMarks(tx)
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
	return tx.SetCursor(CursorChildrenPending, store.Cursor{Value: string(b), Covers: store.PTDClients})
}

// polledKinds are the kinds whose PTD records the children poll re-reads: the BothWays kinds
// whose capability the driver has and whose PTD side can list.
func (p *Poller) polledKinds() []kinds.ChildKind {
	var out []kinds.ChildKind
	for _, k := range p.Kinds {
		if k.Direction == kinds.BothWays && k.PTD.Calls.List != nil && p.Remote.PTD.Capabilities().Has(k.Cap) {
			out = append(out, k)
		}
	}
	return out
}

// childEnv is the environment of the kinds' calls.
func (p *Poller) childEnv() kinds.ChildEnv {
	return kinds.NewEnv(p.Remote, p.Mapping.Options.Locale.Location, p.Now)
}

// replaceChildren makes the mirror's children of kind k of client equal to listed, a list
// requested at since. A child the mirror recorded after since (the pusher created or updated
// it while the list was in flight) is newer than the list: it is neither overwritten nor
// taken for deleted. Any other vanished child is removed and, when linked, quarantined, which
// the reconciler reads as a deletion to propagate, unless the sweep guard does not believe
// the list: then nothing is removed or quarantined and the held sweep is returned for the
// caller to report once tx commits.
func replaceChildren(tx *store.Tx, k kinds.ChildKind, client string, listed []store.ChildRecord, since time.Time, bounds sweepguard.Bounds) (*store.HeldSweep, error) {
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
