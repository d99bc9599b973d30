package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"ptsync/metrics"
)

var _ Observer = (*metrics.Metrics)(nil)

// TestAssignMovesOnlyItsShare: a fourth member takes only the locations it now scores
// highest on, each from its previous owner, and the others stay where they were.
func TestAssignMovesOnlyItsShare(t *testing.T) {
	for _, n := range []int{30, 10000} {
		ids := locationIDs(n)
		three := []string{"r1", "r2", "r3"}
		four := []string{"r4", "r1", "r2", "r3"} // order must not matter
		moved, load := 0, map[string]int{}
		for _, id := range ids {
			before, after := Assign(id, three), Assign(id, four)
			load[after]++
			if before != after {
				moved++
				if after != "r4" {
					t.Errorf("%s moved from %s to %s, not to the new member", id, before, after)
				}
			}
			if Assign(id, []string{"r3", "r2", "r1"}) != before {
				t.Errorf("%s: the answer depends on the members' order", id)
			}
		}
		t.Logf("%d locations, 3 -> 4 members: %d moved (%.1f%%), load after %v", n, moved, 100*float64(moved)/float64(n), load)
		if lo, hi := n/8, n*3/8; moved < lo || moved > hi {
			t.Errorf("%d of %d moved, want about a quarter (%d..%d)", moved, n, lo, hi)
		}
	}
	if Assign("x", nil) != "" {
		t.Error("Assign over no members must be empty")
	}
}

// TestReplicasShareLocations: 3 replicas and 30 locations, each owned by exactly one, as
// Assign says; a fourth joins and about a quarter move, the moved count equal to what Assign
// predicts; the journal shows no two owners of a location at once.
func TestReplicasShareLocations(t *testing.T) {
	url := startEtcd(t)
	cli := connect(t, url)
	ids := locationIDs(30)
	j := &journal{}
	regs := map[string]*prometheus.Registry{}
	o := clusterOpts{ttl: 3 * time.Second, ids: ids, dir: t.TempDir(), j: j, snapshots: true,
		observer: func(name string) Observer {
			regs[name] = prometheus.NewRegistry()
			return metrics.New(regs[name])
		}}
	var rs []*testReplica
	for _, name := range []string{"r1", "r2", "r3"} {
		rs = append(rs, startReplica(t, connect(t, url), name, o))
	}
	waitSettled(t, cli, rs, ids, 3)
	checkMatchesAssign(t, cli, ids, []string{"r1", "r2", "r3"})

	before := map[string]string{}
	by, _ := ownership(rs, ids)
	for id, owners := range by {
		before[id] = owners[0]
	}
	releasedBefore := releasedSum(t, regs)
	rs = append(rs, startReplica(t, connect(t, url), "r4", o))
	waitSettled(t, cli, rs, ids, 4)
	by, _ = ownership(rs, ids)
	moved, predicted := 0, 0
	for _, id := range ids {
		if by[id][0] != before[id] {
			moved++
		}
		if Assign(id, []string{"r1", "r2", "r3"}) != Assign(id, []string{"r1", "r2", "r3", "r4"}) {
			predicted++
		}
	}
	t.Logf("3 -> 4 replicas: %d of %d locations moved (Assign predicts %d); r4 owns %v", moved, len(ids), predicted, rs[3].Owned())
	if moved != predicted || moved != len(rs[3].Owned()) {
		t.Errorf("%d moved, Assign predicts %d, r4 owns %d: a join must move exactly its share", moved, predicted, len(rs[3].Owned()))
	}
	checkMatchesAssign(t, cli, ids, []string{"r1", "r2", "r3", "r4"})
	if p := j.overlaps(); len(p) > 0 {
		t.Errorf("journal: %s", strings.Join(p, "\n"))
	}
	released := releasedSum(t, regs) - releasedBefore
	if int(released) != moved {
		t.Errorf("ptsync_cluster_moves_total{kind=released} grew by %v over r1..r3, want %d", released, moved)
	}
	if got := metricValue(t, regs["r4"], "ptsync_cluster_members", ""); got != 4 {
		t.Errorf("r4's ptsync_cluster_members = %v, want 4", got)
	}
}

// checkMatchesAssign compares etcd's owner keys with Assign over members.
func checkMatchesAssign(t *testing.T, cli *clientv3.Client, ids, members []string) {
	t.Helper()
	st, err := ReadStatus(context.Background(), cli, "/ptsync/", ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if want := Assign(id, members); st.Owners[id] != want {
			t.Errorf("%s owned by %q in etcd, Assign says %q", id, st.Owners[id], want)
		}
	}
}

// metricValue reads one series of name from reg: the one with a label of value label, or
// the only one when label is "".
func metricValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s{%s}", name, label)
	return 0
}

// waitSettled waits until members are registered, nothing is in transit in etcd and the
// replicas' own view has every location owned exactly once.
func waitSettled(t *testing.T, cli *clientv3.Client, rs []*testReplica, ids []string, members int) {
	t.Helper()
	prefix := rs[0].o.Prefix
	waitFor(t, 30*time.Second, func() bool {
		st, err := ReadStatus(context.Background(), cli, prefix, ids)
		_, ok := ownership(rs, ids)
		return err == nil && ok && len(st.Moves) == 0 && len(st.Members) == members
	}, func() string {
		st, _ := ReadStatus(context.Background(), cli, prefix, ids)
		by, _ := ownership(rs, ids)
		return fmt.Sprintf("not settled: members %v, moves %v, owners seen by replicas %v", st.Members, st.Moves, by)
	})
}

func releasedSum(t *testing.T, regs map[string]*prometheus.Registry) float64 {
	sum := 0.0
	for _, name := range []string{"r1", "r2", "r3"} {
		sum += metricValue(t, regs[name], "ptsync_cluster_moves_total", "released")
	}
	return sum
}

// TestMetricsDeclareEveryMoveKind: the metrics package, which cannot import this one, exports
// every kind of move at zero from the start, so the first move is an increase.
func TestMetricsDeclareEveryMoveKind(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics.New(reg)
	for _, kind := range MoveKinds() {
		if v := metricValue(t, reg, "ptsync_cluster_moves_total", kind); v != 0 {
			t.Errorf("ptsync_cluster_moves_total{kind=%q} = %v at start, want 0", kind, v)
		}
	}
}
