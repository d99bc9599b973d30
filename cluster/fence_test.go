package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestFenceClosesAtItsMargin: renewals keep the fence open for the margin after the time
// they were sent, never shorter, and Close shuts it at once.
func TestFenceClosesAtItsMargin(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFence(time.Hour, func() time.Time { return now }, nil)
	if !errors.Is(f.Allow(), ErrFenced) {
		t.Fatal("a new fence must be closed")
	}
	f.Renew(now)
	if err := f.Allow(); err != nil {
		t.Fatalf("after a renewal: %v", err)
	}
	f.Renew(now.Add(-30 * time.Minute)) // an older renewal must not shorten the deadline
	now = now.Add(59 * time.Minute)
	if err := f.Allow(); err != nil {
		t.Fatalf("inside the margin: %v", err)
	}
	now = now.Add(time.Minute)
	if !errors.Is(f.Allow(), ErrFenced) {
		t.Fatal("at the margin the fence must be closed, whatever its timer did")
	}
	f.Renew(now)
	closed := f.Closed()
	f.Close()
	select {
	case <-closed:
	default:
		t.Fatal("Close must close the channel Closed returned")
	}
	if !errors.Is(f.Allow(), ErrFenced) {
		t.Fatal("after Close the fence must be closed")
	}
}

// fenceWatch records when each replica's fence closed, and how long etcd still gave its
// lease at that moment (read through a client that is not cut off).
type fenceWatch struct {
	mu       sync.Mutex
	closedAt map[string]time.Time
	leaseTTL map[string]int64
	direct   *clientv3.Client
	replicas map[string]*testReplica
}

type watchedObserver struct {
	nopObserver
	name string
	w    *fenceWatch
}

func (o watchedObserver) ClusterFenced(fenced bool) {
	if !fenced {
		return
	}
	at := time.Now()
	o.w.mu.Lock()
	r := o.w.replicas[o.name]
	o.w.mu.Unlock()
	if r == nil {
		return // the initial closed state, before the replica joined
	}
	r.mu.Lock()
	lease := r.lease
	r.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		resp, err := o.w.direct.TimeToLive(ctx, lease)
		ttl := int64(-100)
		if err == nil {
			ttl = resp.TTL
		}
		o.w.mu.Lock()
		o.w.closedAt[o.name], o.w.leaseTTL[o.name] = at, ttl
		o.w.mu.Unlock()
	}()
}

// TestCutOffReplicaFencesBeforeItsLeaseExpires: a replica cut off from etcd closes its fence
// and stops its locations while etcd still holds its lease; the others take each of its
// locations only after its key expired, so the journal never shows two owners at once. When
// the replica is let back it joins with a new lease and gets its share back.
func TestCutOffReplicaFencesBeforeItsLeaseExpires(t *testing.T) {
	url := startEtcd(t)
	cli := connect(t, url)
	ids := locationIDs(30)
	ttl := 3 * time.Second
	j := &journal{}
	w := &fenceWatch{closedAt: map[string]time.Time{}, leaseTTL: map[string]int64{}, direct: cli, replicas: map[string]*testReplica{}}
	o := clusterOpts{ttl: ttl, ids: ids, dir: t.TempDir(), j: j, snapshots: true,
		observer: func(name string) Observer { return watchedObserver{name: name, w: w} }}
	link := newPartitionable(t, url)
	rs := []*testReplica{startReplica(t, connect(t, url), "r1", o), startReplica(t, connect(t, url), "r2", o),
		startReplica(t, connect(t, link.URL), "r3", o)}
	w.mu.Lock()
	w.replicas["r3"] = rs[2]
	w.mu.Unlock()
	waitSettled(t, cli, rs, ids, 3)
	victim := rs[2].Owned()

	cutAt := time.Now()
	link.cut()
	waitFor(t, 4*ttl, func() bool {
		by, _ := ownership(rs[:2], ids)
		for _, id := range victim {
			if len(by[id]) != 1 {
				return false
			}
		}
		return true
	}, func() string {
		by, _ := ownership(rs[:2], ids)
		return fmt.Sprintf("r3's %v not taken over: %v", victim, by)
	})
	w.mu.Lock()
	fencedAt, leaseLeft := w.closedAt["r3"], w.leaseTTL["r3"]
	w.mu.Unlock()
	switch {
	case fencedAt.IsZero():
		t.Error("r3's fence was still open when the others had taken all its locations")
	case leaseLeft <= 0:
		t.Errorf("etcd gave r3's lease %ds when its fence closed: it must close before the lease can expire", leaseLeft)
	default:
		t.Logf("r3 cut off; fence closed %s later, etcd still held its lease for %ds", fencedAt.Sub(cutAt).Round(time.Millisecond), leaseLeft)
	}
	gaps := takeoverGaps(j.snapshot(), "r3", victim, cutAt)
	t.Logf("r3 owned %d locations; from the cut to the new owner's start: p50 %s, p100 %s (TTL %s); from r3's stop to it: min %s",
		len(victim), gaps.fromCut[len(gaps.fromCut)/2], gaps.fromCut[len(gaps.fromCut)-1], ttl, gaps.fromStop[0])
	if n := j.writesAfter("r3", fencedAt); n > 0 && !fencedAt.IsZero() {
		t.Errorf("r3 wrote %d times after its fence closed", n)
	}

	link.restore()
	waitSettled(t, cli, rs, ids, 3)
	if got := rs[2].Owned(); !slices.Equal(got, victim) {
		t.Errorf("r3 back: owns %v, want its share %v", got, victim)
	}
	if p := j.overlaps(); len(p) > 0 {
		t.Errorf("journal:\n%s", strings.Join(p, "\n"))
	}
}

type gaps struct{ fromCut, fromStop []time.Duration }

// takeoverGaps measures, for each of from's locations, how long after cut and after from's
// stop another replica started it; both lists sorted.
func takeoverGaps(events []event, from string, ids []string, cut time.Time) gaps {
	var g gaps
	for _, id := range ids {
		var stopped time.Time
		for _, e := range events {
			if e.id != id || e.at.Before(cut) {
				continue
			}
			if e.replica == from && e.kind == "stop" && stopped.IsZero() {
				stopped = e.at
			}
			if e.replica != from && e.kind == "start" {
				g.fromCut = append(g.fromCut, e.at.Sub(cut))
				g.fromStop = append(g.fromStop, e.at.Sub(stopped))
				break
			}
		}
	}
	sort.Slice(g.fromCut, func(a, b int) bool { return g.fromCut[a] < g.fromCut[b] })
	sort.Slice(g.fromStop, func(a, b int) bool { return g.fromStop[a] < g.fromStop[b] })
	return g
}

func (j *journal) writesAfter(replica string, t time.Time) int {
	n := 0
	for _, e := range j.snapshot() {
		if e.replica == replica && e.kind == "write" && e.at.After(t) {
			n++
		}
	}
	return n
}
