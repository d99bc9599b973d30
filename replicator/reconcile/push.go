package reconcile

import (
	"context"

	"ptsync/replicator/reconcile/push"
)

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
