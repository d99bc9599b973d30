package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// DefaultPrefix is the etcd key prefix under which replicas meet unless told otherwise.
const DefaultPrefix = "/ptsync/"

// Options configure a Replica. Client, Name, LeaseTTL, IDs and Locations are required.
type Options struct {
	// Client is the etcd client; the caller owns it and closes it after Run returned.
	Client *clientv3.Client
	// Name is the replica's member name (config cluster.replica).
	Name string
	// LeaseTTL is the session lease, whole seconds; the fence margin is half of it.
	LeaseTTL time.Duration
	// Prefix namespaces the keys (default DefaultPrefix); replicas that share must share it.
	Prefix string
	// IDs are the locations the cluster shares; every replica must be given the same list.
	IDs []string
	// Locations runs the owned locations.
	Locations Locations
	// Snapshots, if not nil, receives the owned mirrors every SnapshotPeriod and on release,
	// and is restored from on acquire. Nil: every acquired location starts from its local
	// file (a backfill when there is none).
	Snapshots      *Snapshots
	SnapshotPeriod time.Duration
	Logger         hclog.Logger
	Observer       Observer
	// Now is the fence's clock (default time.Now).
	Now func() time.Time
}

// Replica is one member of the cluster: it keeps a session, registers, and starts and stops
// the locations Assign gives it. Build it with NewReplica and call Run once.
type Replica struct {
	o     Options
	log   hclog.Logger
	obs   Observer
	fence *Fence

	mu    sync.Mutex
	owned map[string]bool
	lease clientv3.LeaseID // of the session in use, 0 between sessions
}

// NewReplica checks o and returns a Replica that has not contacted etcd yet.
func NewReplica(o Options) (*Replica, error) {
	switch {
	case o.Client == nil || o.Locations == nil:
		return nil, errors.New("cannot build replica: Client and Locations are required")
	case o.Name == "":
		return nil, errors.New("cannot build replica: Name is required")
	case o.LeaseTTL < 2*time.Second || o.LeaseTTL%time.Second != 0:
		return nil, fmt.Errorf("cannot build replica: LeaseTTL must be whole seconds, at least 2s, got %s", o.LeaseTTL)
	}
	for _, id := range o.IDs {
		if err := checkID(id); err != nil {
			return nil, fmt.Errorf("cannot build replica: %w", err)
		}
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	o.IDs = append([]string(nil), o.IDs...)
	sort.Strings(o.IDs)
	r := &Replica{o: o, log: o.Logger.Named("cluster"), obs: o.Observer, owned: map[string]bool{}}
	r.fence = NewFence(o.LeaseTTL/2, o.Now, func(open bool) { r.obs.ClusterFenced(!open) })
	r.obs.ClusterFenced(true)
	return r, nil
}

// Fence is the gate every write of this replica's locations must pass (see IdentifyWrites).
func (r *Replica) Fence() *Fence { return r.fence }

// Owned returns the locations the replica runs now, sorted.
func (r *Replica) Owned() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.owned))
	for id := range r.owned {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func (r *Replica) memberKey(name string) string { return r.o.Prefix + "members/" + name }
func (r *Replica) ownerKey(id string) string    { return r.o.Prefix + "owners/" + id }

// Run keeps the replica in the cluster until ctx ends, then leaves gracefully: every owned
// location is stopped, snapshotted and released, and the lease revoked, so others take over
// at once instead of after the TTL. When the fence closes (the lease could not be renewed in
// time), every owned location is stopped at once and Run joins again with a new session as
// soon as etcd answers. Run returns nil after a graceful leave, or the leave's error.
func (r *Replica) Run(ctx context.Context) error {
	var previous clientv3.LeaseID
	for {
		s, err := r.join(ctx, previous)
		if err != nil {
			return nil // ctx ended before etcd answered: nothing is owned
		}
		previous = s.Lease()
		if lost := r.serve(ctx, s); !lost {
			return r.leave(s)
		}
		r.fence.Close() // if etcd ended the session first
		r.log.Warn("lease lost, locations stopped", "lease", fmt.Sprintf("%x", s.Lease()))
		r.dropAll()
		s.Orphan()
	}
}

// join grants a lease, opens the fence on it and registers, retrying until ctx ends. The
// member key of a previous session of this process is replaced; one of another process
// under the same name is waited out (it expires with that process's lease).
func (r *Replica) join(ctx context.Context, previous clientv3.LeaseID) (*concurrency.Session, error) {
	backoff := r.o.LeaseTTL / 4
	for attempt := 0; ; attempt++ {
		s, err := r.tryJoin(ctx, previous)
		if err == nil {
			r.log.Info("joined", "replica", r.o.Name, "lease", fmt.Sprintf("%x", s.Lease()))
			return s, nil
		}
		if attempt%8 == 0 {
			r.log.Warn("cannot join cluster yet", "error", err, "consecutive_errors", attempt+1)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
	}
}

func (r *Replica) tryJoin(ctx context.Context, previous clientv3.LeaseID) (*concurrency.Session, error) {
	cli := r.o.Client
	tctx, cancel := context.WithTimeout(ctx, r.o.LeaseTTL/2)
	defer cancel()
	sentAt := time.Now()
	grant, err := cli.Grant(tctx, int64(r.o.LeaseTTL/time.Second))
	if err != nil {
		return nil, fmt.Errorf("cannot grant lease: %w", err)
	}
	if err := r.register(tctx, grant.ID, previous); err != nil {
		cli.Revoke(context.WithoutCancel(ctx), grant.ID)
		return nil, err
	}
	s, err := concurrency.NewSession(cli, concurrency.WithLease(grant.ID))
	if err != nil {
		cli.Revoke(context.WithoutCancel(ctx), grant.ID)
		return nil, fmt.Errorf("cannot open session: %w", err)
	}
	r.fence.Renew(sentAt)
	r.mu.Lock()
	r.lease = grant.ID
	r.mu.Unlock()
	return s, nil
}

// register puts the member key under lease: over the key of this process's previous session
// if that still exists, else only if no other lease holds the name.
func (r *Replica) register(ctx context.Context, lease, previous clientv3.LeaseID) error {
	key := r.memberKey(r.o.Name)
	put := clientv3.OpPut(key, strconv.FormatInt(int64(lease), 16), clientv3.WithLease(lease))
	if previous != 0 {
		txn, err := r.o.Client.Txn(ctx).If(clientv3.Compare(clientv3.LeaseValue(key), "=", previous)).Then(put).Commit()
		if err != nil {
			return fmt.Errorf("cannot register: %w", err)
		}
		if txn.Succeeded {
			return nil
		}
	}
	txn, err := r.o.Client.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).Then(put).Commit()
	if err != nil {
		return fmt.Errorf("cannot register: %w", err)
	}
	if !txn.Succeeded {
		return fmt.Errorf("cannot register: replica name %q is held by another lease (another process, or this one before a restart, until it expires)", r.o.Name)
	}
	return nil
}
