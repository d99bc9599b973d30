package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// clusterMetrics are the series of a replica sharing locations through etcd (package
// cluster, docs/scale-out.md). They exist at 0 in every process, clustered or not, so a
// dashboard and the fenced-replica alert read the same families everywhere.
type clusterMetrics struct {
	members     prometheus.Gauge
	owned       prometheus.Gauge
	moves       *prometheus.CounterVec
	fenced      prometheus.Gauge
	snapshots   *prometheus.CounterVec
	snapshotAge prometheus.Gauge
	backfills   prometheus.Counter
}

// clusterMoveKinds mirror cluster.MoveKinds (metrics imports nothing of cluster).
func clusterMoveKinds() []string { return []string{"acquired", "released", "dropped"} }

func newClusterMetrics() clusterMetrics {
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "cluster", Name: name, Help: help})
	}
	c := clusterMetrics{
		members:     g("members", "Live replicas this replica last read from etcd (0 when not clustered)."),
		owned:       g("owned_locations", "Locations this replica owns and runs (0 when not clustered)."),
		fenced:      g("fenced", "1 while this replica's lease is not known alive and every write is refused, else 0."),
		snapshotAge: g("snapshot_age_seconds", "Age of the oldest of the newest snapshots of the owned locations (0 when none is owned)."),
		moves: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "cluster", Name: "moves_total",
			Help: "Locations acquired, released gracefully, or dropped when the fence closed."}, []string{"kind"}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "cluster", Name: "snapshots_total",
			Help: "Snapshots of owned mirrors to the shared directory, by result (success, error)."}, []string{"result"}),
		backfills: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "cluster", Name: "backfills_total",
			Help: "Locations acquired without a snapshot to restore, which therefore start with a backfill."}),
	}
	for _, k := range clusterMoveKinds() {
		c.moves.WithLabelValues(k)
	}
	for _, r := range pushResults() {
		c.snapshots.WithLabelValues(r)
	}
	return c
}

func (c clusterMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.members, c.owned, c.moves, c.fenced, c.snapshots, c.snapshotAge, c.backfills}
}

// ClusterMembers publishes the number of live members (cluster.Observer).
func (m *Metrics) ClusterMembers(n int) {
	if m != nil {
		m.cluster.members.Set(float64(n))
	}
}

// ClusterOwned publishes the number of owned locations (cluster.Observer).
func (m *Metrics) ClusterOwned(n int) {
	if m != nil {
		m.cluster.owned.Set(float64(n))
	}
}

// ClusterMove counts one move of kind acquired, released or dropped (cluster.Observer).
func (m *Metrics) ClusterMove(kind string) {
	if m != nil {
		m.cluster.moves.WithLabelValues(m.guard.value("kind", kind)).Inc()
	}
}

// ClusterFenced publishes whether writes are fenced (cluster.Observer).
func (m *Metrics) ClusterFenced(fenced bool) {
	if m == nil {
		return
	}
	v := 0.0
	if fenced {
		v = 1
	}
	m.cluster.fenced.Set(v)
}

// ClusterSnapshot counts one snapshot by result (cluster.Observer).
func (m *Metrics) ClusterSnapshot(err error) {
	if m == nil {
		return
	}
	r := ResultSuccess
	if err != nil {
		r = ResultError
	}
	m.cluster.snapshots.WithLabelValues(r).Inc()
}

// ClusterSnapshotAge publishes the oldest snapshot age among owned locations (cluster.Observer).
func (m *Metrics) ClusterSnapshotAge(d time.Duration) {
	if m != nil {
		m.cluster.snapshotAge.Set(d.Seconds())
	}
}

// ClusterBackfill counts one location acquired without a snapshot (cluster.Observer).
func (m *Metrics) ClusterBackfill() {
	if m != nil {
		m.cluster.backfills.Inc()
	}
}
