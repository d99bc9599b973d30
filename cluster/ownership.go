package cluster

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// acquire takes id's key if nobody holds it, restores the newest snapshot and starts it. A
// failure after the key was taken gives the key back.
func (r *Replica) acquire(ctx context.Context, s *concurrency.Session, id string) {
	key := r.ownerKey(id)
	tctx, cancel := r.etcdCtx(ctx)
	txn, err := r.o.Client.Txn(tctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, r.o.Name, clientv3.WithLease(s.Lease()))).Commit()
	cancel()
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
	tctx, cancel := r.etcdCtx(ctx)
	defer cancel()
	if _, err := r.o.Client.Txn(tctx).If(clientv3.Compare(clientv3.LeaseValue(key), "=", lease)).
		Then(clientv3.OpDelete(key)).Commit(); err != nil {
		r.log.Warn("cannot release location key; it expires with the lease", "location", id, "error", err)
	}
}

// dropAll stops every owned location after the fence closed; their keys go with the lease.
// Each stopped mirror is snapshotted if that can start while the lease is still certainly
// alive (before the last renewal's send time + TTL): nobody else can own the location yet,
// so every later owner's snapshots sort after this one, and the next owner restores it
// instead of starting over.
func (r *Replica) dropAll() {
	ctx, cancel := context.WithTimeout(context.Background(), r.o.LeaseTTL)
	defer cancel()
	alive := r.fence.Proven().Add(r.o.LeaseTTL)
	for _, id := range r.Owned() {
		if err := r.o.Locations.Stop(ctx, id); err != nil {
			r.log.Error("cannot stop fenced location; its writes stay refused by the fence", "location", id, "error", err)
		} else if r.o.Snapshots != nil && time.Now().Before(alive) {
			_, err := r.o.Snapshots.SaveFile(id, r.o.Locations.MirrorPath(id))
			r.obs.ClusterSnapshot(err)
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
