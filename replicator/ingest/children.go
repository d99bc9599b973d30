package ingest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ghlwire"
	"ptsync/replicator/sweepguard"
	"ptsync/store"
)

// Reasons a contact's children are refreshed (the reason label of the metric).
const (
	ReasonDirty = "dirty"
	ReasonSweep = "sweep"
)

// ChildKinds lists the kinds of children refreshed per contact (the kind label of
// ptsync_children_refreshes_total, with ReasonDirty and ReasonSweep as its reason).
func ChildKinds() []string { return []string{"tasks", "notes", "appointments"} }

// ChildStats reports one children run.
type ChildStats struct {
	Dirty    int // contacts refreshed because they were dirty
	Swept    int // contacts refreshed by the rotating sweep
	Quota    int // contacts the rotation needed this run (SweepNeed)
	Contacts int // contacts refreshed in total (including re-fetched contacts)
	Fetched  int // contacts fetched themselves because a webhook asked for it
	Gone     int // contacts HighLevel no longer has (quarantined)
	// Held counts quarantined contacts left out of the run (believed deleted; a sweep, a
	// search or a webhook re-read that finds them releases them).
	Held      int
	Deferred  int // dirty contacts left for the next run (over the run's budget)
	Failed    int // contacts whose refresh failed (they stay due)
	Tasks     int
	Notes     int
	Appts     int
	FirstErr  error
	Cancelled bool
}

// SweepQuota is the average number of contacts the rotating sweep must refresh per run so
// that every one of n contacts is refreshed at least once per period when the job runs every
// interval.
func SweepQuota(n int, interval, period time.Duration) int {
	if n <= 0 || interval <= 0 || period <= 0 {
		return 0
	}
	runs := float64(period) / float64(interval)
	if runs < 1 {
		return n
	}
	return int(math.Ceil(float64(n) / runs))
}

// SweepNeed is how many of the stalest contacts must be refreshed in this run so that every
// contact can still be refreshed before its deadline (last fetch + period) if later runs, one
// every interval, take at most capacity each. fetched must be sorted oldest first (zero: never
// fetched, due now). Refreshing just in time keeps the rotation at its minimum cost: right
// after a backfill it needs nothing, and in steady state about n per period.
func SweepNeed(fetched []time.Time, now time.Time, interval, period time.Duration, capacity int) int {
	if interval <= 0 || capacity <= 0 {
		return len(fetched)
	}
	need := 0
	for r, f := range fetched {
		k := 0 // the last run (0 = this one) that still meets the deadline
		if d := f.Add(period).Sub(now); d > 0 {
			k = int(d / interval)
		}
		need = max(need, r+1-capacity*k)
	}
	return need
}

// Children is the scheduled children job: it refreshes dirty contacts first (a webhook or a
// changed dateUpdated), then as many of the stalest contacts as the rotation needs now so
// that every contact's children are refreshed at least once per ChildrenPeriod (SweepNeed with
// twice the average quota as later runs' capacity), all within the run's budget
// (Settings.ChildrenShare of the requests one run interval allows, three per contact).
// Contacts over the budget stay dirty for the next run. A failed contact stays due; the run
// reports the first error after finishing the others. It reads every contact's last fetch
// time once per run (one read transaction).
//
// Contacts held in the quarantine (believed deleted) are left out of the queue and the
// rotation's arithmetic, and their dirty marks stay until they are released: refreshing them
// would cost a call per contact to hear 404 again, and would rewrite the contact, which
// clears its quarantine entry and with it the sweeps' confirmations. A quarantined contact a
// webhook asked to re-read is the exception: it is fetched, and released if HighLevel has it.
func (p *Poller) Children(ctx context.Context) (ChildStats, error) {
	set := p.settings()
	now := p.now().UTC()
	var dirty, heldDirty int
	var fetched []time.Time
	snap, err := p.viewQuarantine(func(tx *store.Tx, held map[string]bool) error {
		var err error
		if dirty, err = tx.DirtyCount(); err != nil {
			return err
		}
		for id := range held {
			d, err := tx.IsDirty(id)
			if err != nil {
				return err
			}
			if d && !p.wantsContact(id) {
				heldDirty++
			}
		}
		return tx.ForEachGHLContact(func(c *store.GHLContact) error {
			if !held[c.ID] {
				fetched = append(fetched, c.ChildrenFetchedAt)
			}
			return nil
		})
	})
	if err != nil {
		return ChildStats{}, fmt.Errorf("cannot read children queue: %w", err)
	}
	dirty -= heldDirty
	slices.SortFunc(fetched, func(a, b time.Time) int { return a.Compare(b) })
	quota := SweepQuota(len(fetched), set.ChildrenInterval, set.ChildrenPeriod)
	need := SweepNeed(fetched, now, set.ChildrenInterval, set.ChildrenPeriod, 2*quota)
	budget := int(float64(set.Burst) * float64(set.ChildrenInterval) / float64(set.BurstInterval) * set.ChildrenShare / 3)
	budget = max(budget, need, 1)
	nd := min(dirty, budget)
	var due []string
	if err := p.db.View(func(tx *store.Tx) error {
		var err error
		// Held contacts come first in both orders (dirty marks kept, stalest fetch times),
		// so asking for that many more leaves the run its full share after skipping them.
		due, err = tx.NextChildrenDue(nd + need + len(snap.ids))
		return err
	}); err != nil {
		return ChildStats{}, fmt.Errorf("cannot read children queue: %w", err)
	}
	ids, held := p.skipHeld(due, snap)
	ids = ids[:min(len(ids), nd+need)]
	nd = min(nd, len(ids))
	st := p.refresh(ctx, ids[:nd], ReasonDirty, nil, snap)
	st.Quota = need
	st.Deferred = dirty - nd
	st.Held = held
	if ctx.Err() == nil && nd < len(ids) {
		sw := p.refresh(ctx, ids[nd:], ReasonSweep, nil, snap)
		st.add(sw)
	}
	if st.FirstErr != nil {
		return st, fmt.Errorf("cannot refresh children of %d contacts: %w", st.Failed, st.FirstErr)
	}
	return st, ctx.Err()
}

// quarantineSnapshot is the set of HighLevel contacts held in the quarantine as one read
// transaction saw it, with the poller's quarantine generation at that moment.
type quarantineSnapshot struct {
	ids map[string]bool
	gen uint64
}

// viewQuarantine reads the quarantined HighLevel contacts and runs fn (may be nil) in the same
// read transaction. The read lock keeps a sweep's quarantine transaction entirely before or
// entirely after the snapshot, so the generation and the set always agree.
func (p *Poller) viewQuarantine(fn func(tx *store.Tx, held map[string]bool) error) (quarantineSnapshot, error) {
	p.qmu.RLock()
	defer p.qmu.RUnlock()
	snap := quarantineSnapshot{ids: map[string]bool{}, gen: p.qgen.Load()}
	err := p.db.View(func(tx *store.Tx) error {
		qs, err := tx.Quarantined()
		if err != nil {
			return err
		}
		for _, q := range qs {
			// A returned entry (its policy waits to be undone) is a contact HighLevel has.
			if q.Kind == store.KindContact && q.Side == store.SideGHL && q.Returned.IsZero() {
				snap.ids[q.ID] = true
			}
		}
		if fn != nil {
			return fn(tx, snap.ids)
		}
		return nil
	})
	return snap, err
}

// skipHeld drops the quarantined contacts from ids, except those a webhook asked to re-read,
// and reports how many it dropped.
func (p *Poller) skipHeld(ids []string, snap quarantineSnapshot) (keep []string, held int) {
	keep = make([]string, 0, len(ids))
	for _, id := range ids {
		if snap.ids[id] && !p.wantsContact(id) {
			held++
			continue
		}
		keep = append(keep, id)
	}
	return keep, held
}

// contactHeld reports whether tx holds a quarantine entry for HighLevel contact id (a scan of
// the quarantine; callers use it only when their snapshot may be stale).
func contactHeld(tx *store.Tx, id string) (bool, error) {
	qs, err := tx.Quarantined()
	if err != nil {
		return false, err
	}
	for _, q := range qs {
		if q.Kind == store.KindContact && q.Side == store.SideGHL && q.ID == id && q.Returned.IsZero() {
			return true, nil
		}
	}
	return false, nil
}

func (st *ChildStats) add(o ChildStats) {
	st.Dirty += o.Dirty
	st.Swept += o.Swept
	st.Contacts += o.Contacts
	st.Fetched += o.Fetched
	st.Gone += o.Gone
	st.Held += o.Held
	st.Failed += o.Failed
	st.Tasks += o.Tasks
	st.Notes += o.Notes
	st.Appts += o.Appts
	if st.FirstErr == nil {
		st.FirstErr = o.FirstErr
	}
}

// RefreshChildren fetches the tasks, notes and appointments of ids with the worker pool and
// replaces the mirror's copies, one transaction per contact (concurrent commits are batched).
// reason is ReasonDirty or ReasonSweep. done, if set, is called after each contact (skipped
// ones included). Quarantined contacts are skipped (ChildStats.Held) unless a webhook asked
// for them, as in Children; a failure to read the quarantine is reported in FirstErr and
// nothing is fetched.
func (p *Poller) RefreshChildren(ctx context.Context, ids []string, reason string, done func(n int)) ChildStats {
	snap, err := p.viewQuarantine(nil)
	if err != nil {
		return ChildStats{Failed: len(ids), FirstErr: fmt.Errorf("cannot read quarantine: %w", err)}
	}
	return p.refresh(ctx, ids, reason, done, snap)
}

// refresh runs refreshOne over ids with the worker pool; contacts held in snap are skipped
// (unless a webhook asked for them) and counted in Held.
func (p *Poller) refresh(ctx context.Context, ids []string, reason string, done func(n int), snap quarantineSnapshot) ChildStats {
	set := p.settings()
	var (
		mu    sync.Mutex
		st    ChildStats
		count atomic.Int64
		wg    sync.WaitGroup
	)
	ids, st.Held = p.skipHeld(ids, snap)
	if done != nil {
		for range st.Held {
			done(int(count.Add(1)))
		}
	}
	// A mirror that cannot be written fails every contact alike: stop at the first such
	// failure instead of spending the rate budget on reads that cannot be stored.
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	work := make(chan string)
	for range min(set.Workers, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				one, err := p.refreshOne(wctx, id, set, snap)
				mu.Lock()
				if err != nil {
					st.Failed++
					if st.FirstErr == nil || errors.Is(err, store.ErrWriteFailed) && !errors.Is(st.FirstErr, store.ErrWriteFailed) {
						st.FirstErr = err
					}
					if errors.Is(err, store.ErrWriteFailed) {
						stop()
					}
				} else {
					st.Contacts++
					if reason == ReasonDirty {
						st.Dirty++
					} else {
						st.Swept++
					}
					st.Tasks += one.Tasks
					st.Notes += one.Notes
					st.Appts += one.Appts
					st.Fetched += one.Fetched
					st.Gone += one.Gone
				}
				mu.Unlock()
				if err == nil {
					for _, kind := range ChildKinds() {
						p.m.ChildrenRefreshed(kind, reason)
					}
				}
				if done != nil {
					done(int(count.Add(1)))
				}
			}
		}()
	}
feed:
	for _, id := range ids {
		select {
		case work <- id:
		case <-wctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	st.Cancelled = ctx.Err() != nil
	return st
}

// refreshOne fetches one contact's children (and the contact itself when a webhook asked)
// and stores them in one transaction. A contact HighLevel no longer has is quarantined and
// its dirty mark cleared. A contact it did not re-read is never rewritten while it is
// quarantined (a sweep may have held it since snap was taken): its children are stored, its
// fetch time and dirty mark are left alone, so the entry and its confirmations survive.
func (p *Poller) refreshOne(ctx context.Context, id string, set Settings, snap quarantineSnapshot) (ChildStats, error) {
	var st ChildStats
	var contact *ghlwire.Contact
	// since is when the first read left: anything the mirror records after it is newer than
	// what these reads return (see childKind.replace).
	since := p.now().UTC()
	if p.takeWantContact(id) {
		c, err := p.c.GetContact(ctx, id)
		switch {
		case errors.Is(err, ghl.ErrNotFound):
			return st, p.gone(id, &st)
		case err != nil:
			p.WantContact(id, "retry")
			return st, err
		}
		contact = &c
		st.Fetched = 1
	}
	tasks, err := p.c.ListTasks(ctx, id)
	if errors.Is(err, ghl.ErrNotFound) {
		return st, p.gone(id, &st)
	}
	if err != nil {
		return st, err
	}
	notes, err := p.c.ListNotes(ctx, id)
	if err != nil {
		return st, err
	}
	appts, err := p.c.ListAppointments(ctx, id)
	if err != nil {
		return st, err
	}
	now := p.now().UTC()
	var rec *store.GHLContact
	if contact != nil {
		r, err := p.toContact(*contact, set, now)
		if err != nil {
			return st, err
		}
		rec = &r
	}
	ts := make([]store.GHLTask, 0, len(tasks))
	for _, t := range tasks {
		due, _ := parseTime(t.DueDate, set.TimeZone)
		ts = append(ts, store.GHLTask{ID: t.ID, ContactID: id, Title: t.Title, Body: t.Body, AssignedTo: t.AssignedTo,
			DueDate: due, Completed: t.Completed, Raw: t.Raw, FetchedAt: now})
	}
	ns := make([]store.GHLNote, 0, len(notes))
	for _, n := range notes {
		added, _ := parseTime(n.DateAdded, set.TimeZone)
		ns = append(ns, store.GHLNote{ID: n.ID, ContactID: id, Body: n.Body, DateAdded: added, Raw: n.Raw, FetchedAt: now})
	}
	as := make([]store.GHLAppointment, 0, len(appts))
	for _, a := range appts {
		start, _ := parseTime(a.StartTime, set.TimeZone)
		end, _ := parseTime(a.EndTime, set.TimeZone)
		upd, _ := parseTime(a.DateUpdated, set.TimeZone)
		status := a.AppointmentStatus
		if status == "" {
			status = a.Status
		}
		as = append(as, store.GHLAppointment{ID: a.ID, ContactID: id, Title: a.Title, Status: status,
			StartTime: start, EndTime: end, DateUpdated: upd, Raw: a.Raw, FetchedAt: now})
	}
	var heldSweeps []store.HeldSweep
	err = p.db.Batch(func(tx *store.Tx) error {
		held := false
		if rec != nil {
			// Re-read from HighLevel just now: it exists, so the put releases any quarantine.
			r := *rec
			old, err := tx.GetGHLContact(id)
			if err == nil {
				r.ChildrenFetchedAt = old.ChildrenFetchedAt
			}
			// The pusher may have stored a newer copy while the GET was in flight; a copy
			// stamped in the future is not newer, only wrong.
			if err != nil || !old.DateUpdated.After(r.DateUpdated) || store.NewSignpost(time.Time{}, now, 0).Future(old.DateUpdated) {
				if err := tx.PutGHLContact(&r); err != nil {
					return err
				}
			}
		} else if held = snap.ids[id]; !held && p.qgen.Load() != snap.gen {
			var err error
			if held, err = contactHeld(tx, id); err != nil {
				return err
			}
		}
		heldSweeps = heldSweeps[:0] // Batch may run this function again
		for _, h := range []func() (*store.HeldSweep, error){
			func() (*store.HeldSweep, error) { return taskKind().replace(tx, id, ts, since, set.Guard) },
			func() (*store.HeldSweep, error) { return noteKind().replace(tx, id, ns, since, set.Guard) },
			func() (*store.HeldSweep, error) { return appointmentKind().replace(tx, id, as, since, set.Guard) },
		} {
			held, err := h()
			if err != nil {
				return err
			}
			if held != nil {
				heldSweeps = append(heldSweeps, *held)
			}
		}
		if held {
			// ChildrenRefreshed rewrites the contact, which would clear its quarantine entry.
			return nil
		}
		return tx.ChildrenRefreshed(id, now)
	})
	if err != nil {
		return st, fmt.Errorf("cannot store children of contact %s: %w", id, err)
	}
	for _, h := range heldSweeps {
		sweepguard.Report(p.log, p.m, h)
	}
	st.Tasks, st.Notes, st.Appts = len(ts), len(ns), len(as)
	return st, nil
}

// gone quarantines a contact HighLevel answered 404 for and takes it off the dirty queue. A
// contact already held is left exactly as it is (entry, confirmations, dirty mark): the
// sweeps confirm a deletion, and taking it off the queue would rewrite the contact, which
// clears the entry.
func (p *Poller) gone(id string, st *ChildStats) error {
	st.Gone = 1
	var q store.QuarantineEntry
	already := false
	err := p.db.Update(func(tx *store.Tx) error {
		var err error
		if already, err = contactHeld(tx, id); err != nil || already {
			return err
		}
		// ChildrenRefreshed rewrites the contact, which would clear a quarantine entry, so
		// it goes first.
		if err := tx.ChildrenRefreshed(id, p.now().UTC()); err != nil {
			return err
		}
		if _, err := tx.GetGHLContact(id); err == nil {
			if q, err = tx.QuarantineDelete(store.KindContact, store.SideGHL, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot quarantine contact %s: %w", id, err)
	}
	if !already {
		p.log.Info("contact gone from highlevel; held in quarantine", "id", id, "confirmations", q.Confirmations)
	}
	return nil
}

// childKind is one kind of a contact's children as the mirror stores it.
type childKind[T any] struct {
	kind string
	// guarded kinds' listings go through the sweep guard before a vanished child is taken
	// for deleted (tasks and notes, whose deletion the reconciler propagates).
	guarded bool
	list    func(tx *store.Tx, contact string) ([]T, error)
	put     func(tx *store.Tx, r *T) error
	del     func(tx *store.Tx, contact, id string) error
	id      func(r *T) string
	fetched func(r *T) time.Time
}

// The three kinds a children refresh replaces. Functions rather than variables: the package
// keeps no state of its own.
func taskKind() childKind[store.GHLTask] {
	return childKind[store.GHLTask]{kind: store.KindTask, guarded: true,
		list: (*store.Tx).GHLTasksOf, put: (*store.Tx).PutGHLTask, del: (*store.Tx).DeleteGHLTask,
		id: func(r *store.GHLTask) string { return r.ID }, fetched: func(r *store.GHLTask) time.Time { return r.FetchedAt }}
}

func noteKind() childKind[store.GHLNote] {
	return childKind[store.GHLNote]{kind: store.KindNote, guarded: true,
		list: (*store.Tx).GHLNotesOf, put: (*store.Tx).PutGHLNote, del: (*store.Tx).DeleteGHLNote,
		id: func(r *store.GHLNote) string { return r.ID }, fetched: func(r *store.GHLNote) time.Time { return r.FetchedAt }}
}

func appointmentKind() childKind[store.GHLAppointment] {
	return childKind[store.GHLAppointment]{kind: store.KindAppointment,
		list: (*store.Tx).GHLAppointmentsOf, put: (*store.Tx).PutGHLAppointment, del: (*store.Tx).DeleteGHLAppointment,
		id:      func(r *store.GHLAppointment) string { return r.ID },
		fetched: func(r *store.GHLAppointment) time.Time { return r.FetchedAt }}
}

// replace makes the mirror's children of contact equal to fetched, a list HighLevel answered
// for a request sent at since. A child the mirror got after since (the pusher created or updated
// it while the list was in flight) is newer than the list: it is neither overwritten with the
// list's older copy nor taken for deleted because the list lacks it. Any other child the list
// lacks is removed and quarantined as deleted on HighLevel, unless the guard does not believe
// the list (a guarded kind only): then the vanished children stay in the mirror, nothing is
// quarantined, and the held sweep is returned for the caller to report once tx commits.
func (k childKind[T]) replace(tx *store.Tx, contact string, fetched []T, since time.Time, bounds sweepguard.Bounds) (*store.HeldSweep, error) {
	old, err := k.list(tx, contact)
	if err != nil {
		return nil, err
	}
	newer := map[string]bool{}
	for i := range old {
		if k.fetched(&old[i]).After(since) {
			newer[k.id(&old[i])] = true
		}
	}
	listed := map[string]bool{}
	for i := range fetched {
		id := k.id(&fetched[i])
		listed[id] = true
		if newer[id] {
			continue
		}
		if err := k.put(tx, &fetched[i]); err != nil {
			return nil, err
		}
	}
	ev := sweepguard.Evidence{Side: store.SideGHL, Kind: k.kind, Scope: contact, Listed: len(listed),
		Reported: -1, Floor: sweepguard.ChildFloor}
	for i := range old {
		id := k.id(&old[i])
		if newer[id] {
			continue
		}
		ev.Mirrored++
		if !listed[id] {
			ev.Missing = append(ev.Missing, id)
		}
	}
	if k.guarded {
		v := sweepguard.Judge(bounds, ev)
		h, err := sweepguard.Record(tx, ev, v)
		if err != nil || v.Suspect {
			return &h, err
		}
	}
	for _, id := range ev.Missing {
		if err := k.del(tx, contact, id); err != nil {
			return nil, err
		}
		if _, err := tx.QuarantineDelete(k.kind, store.SideGHL, id); err != nil {
			return nil, err
		}
	}
	return nil, nil
}
