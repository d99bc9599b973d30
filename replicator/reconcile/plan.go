package reconcile

import (
	"context"

	"ptsync/replicator/reconcile/plan"
	"ptsync/store"
)

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
