package cluster

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// serve reconciles ownership on every membership change and every released owner key, and
// on a timer as a safety net, until ctx ends (lost false) or the session is lost (lost
// true: the fence closed or etcd ended the session).
func (r *Replica) serve(ctx context.Context, s *concurrency.Session) (lost bool) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fenced := r.fence.Closed()
	go r.keepAlive(sctx, s.Lease())
	watch := r.o.Client.Watch(clientv3.WithRequireLeader(sctx), r.o.Prefix, clientv3.WithPrefix())
	resync := time.NewTicker(r.o.LeaseTTL)
	defer resync.Stop()
	var snapC <-chan time.Time
	if r.o.Snapshots != nil && r.o.SnapshotPeriod > 0 {
		t := time.NewTicker(r.o.SnapshotPeriod)
		defer t.Stop()
		snapC = t.C
	}
	r.reconcile(sctx, s)
	for {
		select {
		case <-ctx.Done():
			return false
		case <-fenced:
			return true
		case <-s.Done():
			return true
		case resp, ok := <-watch:
			if !ok || resp.Err() != nil {
				// A watch that broke (no leader, compaction) is opened again; the timer
				// reconciles meanwhile.
				watch = r.o.Client.Watch(clientv3.WithRequireLeader(sctx), r.o.Prefix, clientv3.WithPrefix())
				continue
			}
			if r.relevant(resp.Events) {
				r.reconcile(sctx, s)
			}
		case <-resync.C:
			r.reconcile(sctx, s)
		case <-snapC:
			r.snapshotAll(sctx)
		}
	}
}

// relevant reports whether events can change what this replica should do: a member came or
// went, or an owner key was released.
func (r *Replica) relevant(events []*clientv3.Event) bool {
	members := r.o.Prefix + "members/"
	for _, e := range events {
		k := string(e.Kv.Key)
		if len(k) >= len(members) && k[:len(members)] == members || e.Type == clientv3.EventTypeDelete {
			return true
		}
	}
	return false
}

// keepAlive renews the lease every TTL/3 and renews the fence with each success, stamped
// with the time the renewal was sent (see Fence). It stops with ctx.
func (r *Replica) keepAlive(ctx context.Context, lease clientv3.LeaseID) {
	every := r.o.LeaseTTL / 3
	for {
		sentAt := time.Now()
		tctx, cancel := context.WithTimeout(ctx, every)
		resp, err := r.o.Client.KeepAliveOnce(tctx, lease)
		cancel()
		if err == nil && resp.TTL > 0 {
			r.fence.Renew(sentAt)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(sentAt.Add(every))):
		}
	}
}

// reconcile compares Assign over the live members with what this replica owns: it releases
// what is no longer its own and acquires what is, when the location's key is free.
func (r *Replica) reconcile(ctx context.Context, s *concurrency.Session) {
	rctx, cancel := r.etcdCtx(ctx)
	members, owners, err := readState(rctx, r.o.Client, r.o.Prefix)
	cancel()
	if err != nil {
		r.log.Warn("cannot read cluster state", "error", err)
		return
	}
	r.obs.ClusterMembers(len(members))
	names := memberNames(members)
	for _, id := range r.o.IDs {
		if r.fence.Allow() != nil {
			return
		}
		want := Assign(id, names)
		r.mu.Lock()
		mine := r.owned[id]
		r.mu.Unlock()
		switch {
		case !mine && owners[id] == r.o.Name:
			// A key of this name that no unit runs: an acquire whose answer was lost, or
			// the previous session's key. Deleted if it is this lease's, else it expires.
			r.deleteOwnerKey(ctx, s.Lease(), id)
		case want == r.o.Name && !mine && owners[id] == "":
			r.acquire(ctx, s, id)
		case want == r.o.Name && !mine:
			r.log.Debug("move waits for the previous owner", "location", id, "owner", owners[id])
		case want != r.o.Name && mine:
			r.release(ctx, s.Lease(), id)
		}
	}
	r.obs.ClusterOwned(len(r.Owned()))
}

// etcdCtx bounds one etcd call to a third of the TTL, so a replica cut off from etcd gets
// back to its loop, and sees its fence close, instead of waiting on a call forever.
func (r *Replica) etcdCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.o.LeaseTTL/3)
}
