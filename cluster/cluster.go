// Package cluster shares locations between ptsync replicas through etcd.
//
// Each replica holds one etcd lease (a concurrency.Session). Under it the replica registers
// as a member (key <prefix>members/<replica>) and owns locations (key <prefix>owners/<id>,
// value the replica's name). Which replica should own a location is decided by rendezvous
// hashing over the live members (Assign), so a join or a leave moves only its share. A
// replica takes a location only when nobody holds its key: after the old owner released it
// or after the old owner's lease expired. Ownership is never taken over.
//
// Safety before speed: a replica that has not renewed its lease for LeaseTTL/2 closes its
// Fence and stops every location it owns, before etcd can let the lease expire and another
// replica take over. Every write path consults the Fence (IdentifyWrites does it for HTTP).
//
// A location's mirror moves with it: owned mirrors are snapshotted to a shared directory on
// a schedule and on every graceful release; a new owner restores the newest snapshot before
// it starts the location, which then catches up from the snapshot's cursors.
//
// The package drives the locations through the Locations interface; it imports nothing of
// the service, the simulators or the demo.
package cluster

import (
	"context"
	"errors"
	"io"
	"time"
)

// Locations is what a Replica starts and stops: the service's per-location units.
//
// Contract: Start(id) begins syncing id from the mirror file at MirrorPath(id), which the
// replica may have just replaced with a snapshot; it returns once the unit runs (not when a
// sync finished). Stop(id) returns only when the unit has made its last write (outbox
// attempts included) and closed its mirror file; after Stop the file is not touched until
// the next Start. Both are called from one goroutine, never concurrently for one id, and
// only for ids in Options.IDs. Backup(id) writes a consistent copy of a running unit's
// mirror to w while the unit keeps running (store.DB.Backup). A Stop that fails keeps the
// location owned (the replica cannot know the unit stopped writing) and is retried.
type Locations interface {
	Start(ctx context.Context, id string) error
	Stop(ctx context.Context, id string) error
	Backup(ctx context.Context, id string, w io.Writer) error
	MirrorPath(id string) string
}

// Observer receives what the replica's metrics report; metrics.Metrics implements it. Calls
// come from the replica's goroutines; implementations must be safe for concurrent use.
type Observer interface {
	// ClusterMembers is the number of live members the replica last read.
	ClusterMembers(n int)
	// ClusterOwned is the number of locations the replica runs.
	ClusterOwned(n int)
	// ClusterMove counts one location acquired, released or dropped (MoveAcquired, ...).
	ClusterMove(kind string)
	// ClusterFenced reports whether the fence is closed (writes stopped).
	ClusterFenced(fenced bool)
	// ClusterSnapshot counts one snapshot attempt; err nil is a success.
	ClusterSnapshot(err error)
	// ClusterSnapshotAge is the age of the oldest newest-snapshot among owned locations.
	ClusterSnapshotAge(d time.Duration)
	// ClusterBackfill counts one location started without a snapshot to restore.
	ClusterBackfill()
}

// Kinds of ClusterMove.
const (
	// MoveAcquired: the replica took a free location and started it.
	MoveAcquired = "acquired"
	// MoveReleased: the replica stopped, snapshotted and released a location gracefully.
	MoveReleased = "released"
	// MoveDropped: the fence closed and the replica stopped the location without releasing
	// it; its key goes with the lease.
	MoveDropped = "dropped"
)

// MoveKinds lists the kinds of ClusterMove, for declaring them at zero.
func MoveKinds() []string { return []string{MoveAcquired, MoveReleased, MoveDropped} }

// ErrFenced is returned by Fence.Allow, and by every write IdentifyWrites refuses, while the
// replica cannot prove its lease is alive.
var ErrFenced = errors.New("replica fenced: its etcd lease is not known to be alive")

type nopObserver struct{}

func (nopObserver) ClusterMembers(int)               {}
func (nopObserver) ClusterOwned(int)                 {}
func (nopObserver) ClusterMove(string)               {}
func (nopObserver) ClusterFenced(bool)               {}
func (nopObserver) ClusterSnapshot(error)            {}
func (nopObserver) ClusterSnapshotAge(time.Duration) {}
func (nopObserver) ClusterBackfill()                 {}
