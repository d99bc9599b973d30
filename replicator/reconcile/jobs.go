package reconcile

// The Engine's jobs, each under the job lock (except the read-only lag and the event intake),
// in the order the data flows: PT Distinction into the mirror, the plan, the push.

import (
	"context"

	"ptsync/apiclient/ptd"
	"ptsync/replicator/reconcile/plan"
	"ptsync/replicator/reconcile/ptdpoll"
	"ptsync/replicator/reconcile/push"
	"ptsync/store"
)

// PollPTD mirrors PT Distinction (ptdpoll.Poller.Poll): clients changed since the stored
// cursor, then the tasks and notes of the marked clients and of the rotation's share of every
// client. A driver without client reads (zapier) is skipped, said once. Safe to repeat; on
// error the committed pages stay and the next call resumes. Under the job lock.
func (e *Engine) PollPTD(ctx context.Context) (ptdpoll.PollStats, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.opts.Offline {
		return ptdpoll.PollStats{}, ErrOffline
	}
	return e.poll.Poll(ctx)
}

// SweepPTD lists every PTD client and quarantines the mirrored ones the listing lacked, if
// the sweep guard believes it (ptdpoll.Poller.Sweep); the delete policy then applies in
// Reconcile after deletes.confirmations. The gauges are refreshed after a sweep that ran.
// Under the job lock.
func (e *Engine) SweepPTD(ctx context.Context) (ptdpoll.SweepStats, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.opts.Offline {
		return ptdpoll.SweepStats{}, ErrOffline
	}
	st, err := e.poll.Sweep(ctx)
	if err != nil || st.Skipped {
		return st, err
	}
	e.publish()
	return st, nil
}

// PTDChildrenLag is how late a coach's new PTD task or note can reach the mirror
// (ptdpoll.ChildrenLag). ok is false without a rotation: an offline engine, a driver that
// reads neither tasks nor notes, or PT Distinction never polled. Safe to call while jobs
// run: it takes no engine lock, only a read transaction.
func (e *Engine) PTDChildrenLag() (lag ptdpoll.ChildrenLag, ok bool, err error) {
	if e.opts.Offline {
		return lag, false, nil
	}
	return e.poll.ChildrenLag()
}

// PublishPTDChildrenLag sets ptsync_ptd_children_lag_seconds from PTDChildrenLag; without a
// rotation it leaves the metric alone (no series until the first poll). Read errors are
// left for the jobs to report.
func (e *Engine) PublishPTDChildrenLag() {
	if lag, ok, err := e.PTDChildrenLag(); ok && err == nil {
		e.m.SetPTDChildrenLag(lag.MaxAge())
	}
}

// HandleEvent takes one event PT Distinction pushed into the mirror
// (ptdpoll.Poller.HandleEvent), so the next Reconcile links or creates the client. It is the
// Handle callback of ptd.Inbound; it takes no engine lock (one write transaction), so an
// event never waits for a push.
func (e *Engine) HandleEvent(ctx context.Context, t ptd.Event) error {
	return e.poll.HandleEvent(ctx, t)
}

// Plan computes what the next Reconcile would do, from the mirror only (no network), and
// writes nothing: new links carry no ids. Under the job lock, so it never reads a mirror
// half-way through a push; safe to call while the service runs.
func (e *Engine) Plan(ctx context.Context) (plan.Plan, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, err := e.planner.Draft(ctx)
	if err != nil {
		return plan.Plan{}, err
	}
	d.Describe()
	return d.Plan, nil
}

// Reconcile links, merges and plans every linked pair whose records have no pending outbox
// entry, and commits the new links, bases, history, conflicts and outbox entries in ONE
// transaction (plan.Planner). Conflicts of the manual rule are stored for `ptsync
// conflicts`. A crash before the commit leaves nothing behind; the next call plans the same
// again. On error the returned plan holds only its header. Under the job lock.
func (e *Engine) Reconcile(ctx context.Context) (plan.Plan, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, err := e.planner.Draft(ctx)
	if err != nil {
		return plan.Plan{}, err
	}
	// Planning takes seconds on a large mirror: a stop asked for meanwhile wins over
	// committing (nothing is lost: the next cycle plans the same again).
	if err := ctx.Err(); err != nil {
		return d.Plan, err
	}
	if err := e.planner.Commit(d); err != nil {
		return d.Plan, err
	}
	d.Describe()
	for _, r := range d.Rules() {
		e.m.ReconcileDecision(decisionLabel(r))
	}
	e.publish()
	if p := d.Plan; !p.IsEmpty() {
		e.log.Info("reconcile planned", "cycle", p.Cycle, "links", len(p.Links), "writes", len(p.Writes), "conflicts", len(p.Conflicts), "skipped", len(p.Skipped))
	}
	return d.Plan, nil
}

// Reminders queues one PTD reminder per open task due within reminders.window
// (plan.Planner.QueueReminders); the next Push sends them, never twice. Under the job lock.
func (e *Engine) Reminders(ctx context.Context) (plan.RemindersStats, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.planner.QueueReminders(ctx)
}

// ResolveConflict settles an open manual conflict (plan.Planner.Resolve): the chosen value
// is queued for the sides lacking it and the decision recorded, in one transaction; the
// gauges are refreshed after a resolution. It works offline (only the mirror is touched).
// Under the job lock.
func (e *Engine) ResolveConflict(ctx context.Context, linkID, field string, r plan.Resolution) (store.Conflict, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.planner.Resolve(ctx, linkID, field, r)
	if err == nil {
		e.publish()
	}
	return c, err
}

// Push drains the outbox to both systems (push.Pusher.Push): each entry leaves the outbox
// only in the transaction that records its success; failures back off and dead-letter after
// pusher.max_attempts, and creates look the record up first, so a retry never duplicates.
// Under the job lock; the outbox gauges are refreshed afterwards, whatever the outcome.
func (e *Engine) Push(ctx context.Context) (push.Stats, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.opts.Offline {
		return push.Stats{}, ErrOffline
	}
	st, err := e.push.Push(ctx)
	e.publish()
	return st, err
}
