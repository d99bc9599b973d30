package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ptsync/metrics"
)

// TestGracefulLeaveHandsOverWithoutTheTTL: a replica that leaves stops, snapshots and
// releases each location and revokes its lease, so the others take over long before the
// (here 20s) TTL, each from the snapshot: the mirror's write count goes on from where the
// leaver stopped, and nothing is backfilled.
func TestGracefulLeaveHandsOverWithoutTheTTL(t *testing.T) {
	url := startEtcd(t)
	cli := connect(t, url)
	ids := locationIDs(30)
	ttl := 20 * time.Second
	j := &journal{}
	regs := map[string]*prometheus.Registry{}
	o := clusterOpts{ttl: ttl, ids: ids, dir: t.TempDir(), j: j, snapshots: true,
		observer: func(name string) Observer { regs[name] = prometheus.NewRegistry(); return metrics.New(regs[name]) }}
	rs := []*testReplica{startReplica(t, connect(t, url), "r1", o), startReplica(t, connect(t, url), "r2", o),
		startReplica(t, connect(t, url), "r3", o)}
	waitSettled(t, cli, rs, ids, 3)
	leaver := rs[1]
	moving := leaver.Owned()
	time.Sleep(100 * time.Millisecond) // a few writes in every mirror
	backfillsBefore := backfills(t, regs)

	leftAt := time.Now()
	leaver.leave(t)
	final := map[string]int{}
	for _, id := range moving {
		final[id] = writesIn(t, leaver.units.MirrorPath(id))
	}
	rest := []*testReplica{rs[0], rs[2]}
	waitFor(t, ttl/2, func() bool { _, ok := ownership(rest, ids); return ok },
		func() string {
			by, _ := ownership(rest, ids)
			return fmt.Sprintf("r2's %v not taken over: %v", moving, by)
		})
	t.Logf("r2 left gracefully with %d locations; all running elsewhere %s later (TTL %s)", len(moving), time.Since(leftAt).Round(time.Millisecond), ttl)
	waitSettled(t, cli, rest, ids, 2)
	for _, id := range moving {
		running := func() int {
			n := 0
			for _, r := range rest {
				n = max(n, r.units.runningWrites(id))
			}
			return n
		}
		// The count goes on from r2's, not from 0: the new owner restored r2's snapshot.
		waitFor(t, 5*time.Second, func() bool { return running() > final[id] }, func() string {
			return fmt.Sprintf("%s: new owner's mirror counts %d writes, r2 stopped at %d: the mirror did not move", id, running(), final[id])
		})
		if n := running(); n > final[id]+500 {
			t.Errorf("%s: %d writes after r2's %d", id, n, final[id])
		}
	}
	if got := backfills(t, regs) - backfillsBefore; got != 0 {
		t.Errorf("%v locations backfilled after a graceful move, want 0", got)
	}
	if p := j.overlaps(); len(p) > 0 {
		t.Errorf("journal:\n%s", strings.Join(p, "\n"))
	}
}
