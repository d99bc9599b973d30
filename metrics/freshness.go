package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// freshnessMetrics say how late a change can reach the mirror when nothing announces it.
type freshnessMetrics struct {
	// ptdChildrenLag has no labels; it is a vector only so that it has no series until the
	// first value (a 0 would claim the mirror is current before PT Distinction was read).
	ptdChildrenLag *prometheus.GaugeVec
}

func newFreshnessMetrics() freshnessMetrics {
	return freshnessMetrics{
		ptdChildrenLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "ptd", Name: "children_lag_seconds",
			Help: "How late, at most, a coach's new task or note on an otherwise unchanged PT Distinction client reaches the mirror: ptd.children_period plus how far the children rotation is behind.",
		}, nil),
	}
}

// SetPTDChildrenLag publishes the bound on the age of the mirror's copy of any PTD client's
// tasks and notes (ptdpoll.ChildrenLag's MaxAge).
func (m *Metrics) SetPTDChildrenLag(d time.Duration) {
	if m == nil {
		return
	}
	m.fresh.ptdChildrenLag.WithLabelValues().Set(d.Seconds())
}
