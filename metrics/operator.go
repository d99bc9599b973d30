package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Reasons the service is not ready, the reason label of ptsync_not_ready (and the names the
// replicator's readiness holds).
const (
	NotReadyBackfill       = "backfill"
	NotReadyMirrorWrite    = "mirror_write"
	NotReadyGHLCredentials = "ghl_credentials"
	NotReadyPTDCredentials = "ptd_credentials"
)

// NotReadyReasons lists every reason label value, in the order readiness reports them.
func NotReadyReasons() []string {
	return []string{NotReadyBackfill, NotReadyMirrorWrite, NotReadyGHLCredentials, NotReadyPTDCredentials}
}

// operatorMetrics are the series an operator's first questions need: can the mirror be
// written, and why /readyz says no.
type operatorMetrics struct {
	mirrorWriteErrors *prometheus.CounterVec
	notReady          *prometheus.GaugeVec
}

func newOperatorMetrics() operatorMetrics {
	o := operatorMetrics{
		mirrorWriteErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "mirror", Name: "write_errors_total",
			Help: "Mirror transactions whose commit failed and was rolled back, by cause (no_space, io, other).",
		}, []string{"cause"}),
		notReady: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "not_ready",
			Help: "1 while this reason keeps /readyz at 503 (backfill, mirror_write, ghl_credentials, ptd_credentials), else 0.",
		}, []string{"reason"}),
	}
	for _, r := range NotReadyReasons() {
		o.notReady.WithLabelValues(r)
	}
	// The causes store.WriteCause names, exported at 0 so that the first failure is an
	// increase() and not the birth of a series (see declare.go).
	for _, c := range []string{"no_space", "io", "other"} {
		o.mirrorWriteErrors.WithLabelValues(c)
	}
	return o
}

// MirrorWriteFailed counts one failed mirror commit; cause is store.WriteCause's answer.
func (m *Metrics) MirrorWriteFailed(cause string) {
	if m == nil {
		return
	}
	m.op.mirrorWriteErrors.WithLabelValues(m.guard.value("cause", cause)).Inc()
}

// SetNotReady publishes whether reason (NotReady*) currently keeps the service not ready.
func (m *Metrics) SetNotReady(reason string, holds bool) {
	if m == nil {
		return
	}
	v := 0.0
	if holds {
		v = 1
	}
	m.op.notReady.WithLabelValues(m.guard.value("reason", reason)).Set(v)
}
