package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// restore puts the newest snapshot of id in place of its mirror file before Start. The local
// file is kept instead when this replica wrote that snapshot itself and the file changed
// since (it owned the location last, and its own file is newer). Without any snapshot the
// location starts from whatever file exists, which is a backfill when none does: said in the
// log and counted.
func (r *Replica) restore(id string) error {
	dst := r.o.Locations.MirrorPath(id)
	local, statErr := os.Stat(dst)
	if r.o.Snapshots == nil {
		if statErr != nil {
			r.backfill(id, "no snapshot directory")
		}
		return nil
	}
	snap, err := r.o.Snapshots.Newest(id)
	if errors.Is(err, ErrNoSnapshot) {
		if statErr != nil {
			r.backfill(id, "no snapshot yet")
		}
		return nil
	}
	if err != nil {
		return err
	}
	if statErr == nil && snap.Replica == r.o.Name && local.ModTime().After(snap.Taken) {
		r.log.Info("local mirror is newer than its snapshot, kept", "location", id, "snapshot", snap.Path)
		return nil
	}
	if err := r.o.Snapshots.Restore(snap, dst); err != nil {
		return fmt.Errorf("cannot restore location %s: %w", id, err)
	}
	r.log.Info("mirror restored from snapshot", "location", id, "snapshot", snap.Path, "age", time.Since(snap.Taken).Round(time.Second))
	return nil
}

func (r *Replica) backfill(id, why string) {
	r.log.Warn("location starts with a backfill", "location", id, "reason", why)
	r.obs.ClusterBackfill()
}

// snapshotAll snapshots every owned, running location while the fence is open and reports
// the age of the oldest of the newest snapshots.
func (r *Replica) snapshotAll(ctx context.Context) {
	oldest := time.Duration(0)
	for _, id := range r.Owned() {
		if r.fence.Allow() != nil {
			return // a fenced replica writes nothing shared, snapshots included
		}
		snap, err := r.o.Snapshots.Save(id, func(w io.Writer) error { return r.o.Locations.Backup(ctx, id, w) })
		r.obs.ClusterSnapshot(err)
		if err != nil {
			r.log.Error("cannot snapshot location", "location", id, "error", err)
			if prev, perr := r.o.Snapshots.Newest(id); perr == nil {
				snap = prev
			} else {
				continue
			}
		}
		oldest = max(oldest, time.Since(snap.Taken))
	}
	r.obs.ClusterSnapshotAge(oldest)
}
