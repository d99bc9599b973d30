package reconcile

import (
	"context"

	"ptsync/apiclient/ptd"
	"ptsync/replicator/reconcile/ptdpoll"
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
