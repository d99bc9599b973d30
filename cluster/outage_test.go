package cluster

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ptsync/metrics"
)

// TestEtcdUnreachableStopsEveryWriter: with etcd out of reach of every replica for longer
// than the TTL, every replica fences itself and no write happens anywhere; when etcd is back
// they join again, every location is owned once more and written again, from its own mirror
// (no backfill).
func TestEtcdUnreachableStopsEveryWriter(t *testing.T) {
	url := startEtcd(t)
	cli := connect(t, url)
	ids := locationIDs(30)
	ttl := 3 * time.Second
	j := &journal{}
	regs := map[string]*prometheus.Registry{}
	o := clusterOpts{ttl: ttl, ids: ids, dir: t.TempDir(), j: j, snapshots: true,
		observer: func(name string) Observer { regs[name] = prometheus.NewRegistry(); return metrics.New(regs[name]) }}
	var rs []*testReplica
	var links []*partitionable
	for _, name := range []string{"r1", "r2", "r3"} {
		l := newPartitionable(t, url)
		links = append(links, l)
		rs = append(rs, startReplica(t, connect(t, l.URL), name, o))
	}
	waitSettled(t, cli, rs, ids, 3)
	backfillsBefore := backfills(t, regs)

	cutAt := time.Now()
	for _, l := range links {
		l.cut()
	}
	waitFor(t, 2*ttl, func() bool { return allFenced(t, regs) }, func() string { return "not every replica fenced" })
	fencedAt := time.Now()
	time.Sleep(ttl + ttl/2) // etcd stays unreachable for longer than the TTL
	silent := 0
	for _, r := range rs {
		silent += j.writesAfter(r.o.Name, fencedAt)
		if len(r.Owned()) != 0 {
			t.Errorf("%s still runs %v while fenced", r.o.Name, r.Owned())
		}
	}
	t.Logf("etcd cut off from all: every replica fenced %s after the cut; %d writes in the %s after", fencedAt.Sub(cutAt).Round(time.Millisecond), silent, time.Since(fencedAt).Round(time.Millisecond))
	if silent != 0 {
		t.Errorf("%d writes while every replica was fenced, want 0", silent)
	}

	backAt := time.Now()
	for _, l := range links {
		l.restore()
	}
	waitSettled(t, cli, rs, ids, 3)
	waitFor(t, 2*ttl, func() bool { return everyLocationWrittenAfter(j, ids, backAt) },
		func() string { return "some location not written again after etcd returned" })
	t.Logf("etcd back: every location owned and written again after %s", time.Since(backAt).Round(time.Millisecond))
	if got := backfills(t, regs) - backfillsBefore; got != 0 {
		t.Errorf("%v locations backfilled after the outage, want 0 (each restarts from its mirror)", got)
	}
}

func allFenced(t *testing.T, regs map[string]*prometheus.Registry) bool {
	for _, reg := range regs {
		if metricValue(t, reg, "ptsync_cluster_fenced", "") != 1 {
			return false
		}
	}
	return true
}

func backfills(t *testing.T, regs map[string]*prometheus.Registry) float64 {
	sum := 0.0
	for _, reg := range regs {
		sum += metricValue(t, reg, "ptsync_cluster_backfills_total", "")
	}
	return sum
}

func everyLocationWrittenAfter(j *journal, ids []string, at time.Time) bool {
	seen := map[string]bool{}
	for _, e := range j.snapshot() {
		if e.kind == "write" && e.at.After(at) {
			seen[e.id] = true
		}
	}
	return len(seen) == len(ids)
}
