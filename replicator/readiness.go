package replicator

import (
	"errors"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"ptsync/metrics"
)

// readiness is what /readyz answers: a set of named reasons (metrics.NotReady*) the service
// is not ready, each with the sentence an operator reads. Any part of the service sets its
// reason when it starts to hold and clears it when it stops; nothing else decides readiness
// (the mirror's answering a read is checked by Ready beside it). Every change is published
// as ptsync_not_ready{reason} and logged once, so a reason that holds for an hour is one line
// when it starts and one when it ends, however often it is set again meanwhile.
//
// Safe for concurrent use. set and clear are cheap when nothing changes: clear is called
// after every mirror commit.
type readiness struct {
	m   *metrics.Metrics
	log hclog.Logger

	mu      sync.Mutex
	reasons map[string]string
}

func newReadiness(m *metrics.Metrics, log hclog.Logger) *readiness {
	return &readiness{m: m, log: log, reasons: map[string]string{}}
}

// set makes name hold with why (the latest why replaces an earlier one). It reports whether
// name did not hold before.
func (r *readiness) set(name, why string) bool {
	r.mu.Lock()
	_, held := r.reasons[name]
	r.reasons[name] = why
	r.mu.Unlock()
	if !held {
		r.m.SetNotReady(name, true)
		r.log.Warn("not ready", "reason", name, "why", why)
	}
	return !held
}

// clear ends name; it reports whether name held.
func (r *readiness) clear(name string) bool {
	r.mu.Lock()
	_, held := r.reasons[name]
	delete(r.reasons, name)
	r.mu.Unlock()
	if held {
		r.m.SetNotReady(name, false)
		r.log.Info("ready again", "reason", name)
	}
	return held
}

// err is nil when no reason holds, else every reason's sentence in a fixed order, joined
// with "; ".
func (r *readiness) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reasons) == 0 {
		return nil
	}
	var parts []string
	for _, name := range metrics.NotReadyReasons() {
		if why, ok := r.reasons[name]; ok {
			parts = append(parts, why)
		}
	}
	return errors.New(strings.Join(parts, "; "))
}
