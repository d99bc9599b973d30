package cluster

import (
	"context"
	"fmt"
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
	members, owners, err := readState(ctx, r.o.Client, r.o.Prefix)
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

// acquire takes id's key if nobody holds it, restores the newest snapshot and starts it. A
// failure after the key was taken gives the key back.
func (r *Replica) acquire(ctx context.Context, s *concurrency.Session, id string) {
	key := r.ownerKey(id)
	txn, err := r.o.Client.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, r.o.Name, clientv3.WithLease(s.Lease()))).Commit()
	if err != nil || !txn.Succeeded {
		return // taken meanwhile, or etcd unreachable: the next reconcile tries again
	}
	giveBack := func() { r.deleteOwnerKey(ctx, s.Lease(), id) }
	if err := r.restore(id); err != nil {
		r.log.Error("cannot restore location, released", "location", id, "error", err)
		giveBack()
		return
	}
	if err := r.fence.Allow(); err != nil {
		giveBack()
		return
	}
	if err := r.o.Locations.Start(ctx, id); err != nil {
		r.log.Error("cannot start location, released", "location", id, "error", err)
		giveBack()
		return
	}
	r.mu.Lock()
	r.owned[id] = true
	r.mu.Unlock()
	r.obs.ClusterMove(MoveAcquired)
	r.log.Info("location acquired", "location", id)
}

// release stops id, snapshots its closed mirror and deletes its key. A Stop that fails
// keeps the key: the unit may still write.
func (r *Replica) release(ctx context.Context, lease clientv3.LeaseID, id string) {
	if err := r.o.Locations.Stop(ctx, id); err != nil {
		r.log.Error("cannot stop location, kept", "location", id, "error", err)
		return
	}
	r.mu.Lock()
	delete(r.owned, id)
	r.mu.Unlock()
	if r.o.Snapshots != nil {
		_, err := r.o.Snapshots.SaveFile(id, r.o.Locations.MirrorPath(id))
		r.obs.ClusterSnapshot(err)
		if err != nil {
			r.log.Error("cannot snapshot released location; its next owner starts from an older snapshot", "location", id, "error", err)
		}
	}
	r.deleteOwnerKey(ctx, lease, id)
	r.obs.ClusterMove(MoveReleased)
	r.log.Info("location released", "location", id)
}

// deleteOwnerKey deletes id's key only if this lease holds it.
func (r *Replica) deleteOwnerKey(ctx context.Context, lease clientv3.LeaseID, id string) {
	key := r.ownerKey(id)
	if _, err := r.o.Client.Txn(ctx).If(clientv3.Compare(clientv3.LeaseValue(key), "=", lease)).
		Then(clientv3.OpDelete(key)).Commit(); err != nil {
		r.log.Warn("cannot release location key; it expires with the lease", "location", id, "error", err)
	}
}

// dropAll stops every owned location after the fence closed; their keys go with the lease.
func (r *Replica) dropAll() {
	ctx, cancel := context.WithTimeout(context.Background(), r.o.LeaseTTL)
	defer cancel()
	for _, id := range r.Owned() {
		if err := r.o.Locations.Stop(ctx, id); err != nil {
			r.log.Error("cannot stop fenced location; its writes stay refused by the fence", "location", id, "error", err)
		}
		r.mu.Lock()
		delete(r.owned, id)
		r.mu.Unlock()
		r.obs.ClusterMove(MoveDropped)
	}
	r.obs.ClusterOwned(0)
}

// leave hands every owned location over and revokes the lease. Members drop this replica
// from their assignment first, so they wait on its keys and take each one as it is released.
func (r *Replica) leave(s *concurrency.Session) error {
	ctx, cancel := context.WithTimeout(context.Background(), r.o.LeaseTTL)
	defer cancel()
	if _, err := r.o.Client.Txn(ctx).If(clientv3.Compare(clientv3.LeaseValue(r.memberKey(r.o.Name)), "=", s.Lease())).
		Then(clientv3.OpDelete(r.memberKey(r.o.Name))).Commit(); err != nil {
		r.log.Warn("cannot deregister; the lease revocation does it", "error", err)
	}
	for _, id := range r.Owned() {
		r.release(ctx, s.Lease(), id)
	}
	r.obs.ClusterOwned(len(r.Owned()))
	r.fence.Close()
	if err := s.Close(); err != nil {
		return fmt.Errorf("cannot revoke lease: %w", err)
	}
	r.log.Info("left cluster", "replica", r.o.Name)
	return nil
}
