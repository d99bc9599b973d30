package replicator

import (
	"context"
	"net/http"
	"os"
	"sort"
	"time"

	"ptsync/replicator/reconcile/ptdpoll"
	"ptsync/store"
	"ptsync/store/query"
)

// Status is `ptsync status` as the running service answers it: the mirror's own figures
// (store.MirrorStatus) and the service's view beside them. Offline, the command prints the
// mirror part alone.
type Status struct {
	Mirror  store.MirrorStatus `json:"mirror"`
	Service ServiceStatus      `json:"service"`
}

// ServiceStatus is the running service's part of Status. NotReady is empty exactly when
// /readyz answers 200; otherwise it is the reason /readyz gives.
type ServiceStatus struct {
	PID      int         `json:"pid"`
	Version  string      `json:"version"`
	Ready    bool        `json:"ready"`
	NotReady string      `json:"notReady,omitempty"`
	ReadOnly bool        `json:"readOnly"`
	Jobs     []JobStatus `json:"jobs"`
	// PTDChildren is how late a coach's new task in PT Distinction can reach the mirror;
	// absent when the driver reads no tasks or notes, or PTD was never polled.
	PTDChildren *ptdpoll.ChildrenLag `json:"ptdChildren,omitempty"`
}

// JobStatus is the last outcome of one job. LastError is the error of the newest run when it
// failed (empty after a success); Consecutive counts the failures in a row that led to it.
type JobStatus struct {
	Name        string    `json:"name"`
	LastRun     time.Time `json:"lastRun,omitzero"`
	LastOK      time.Time `json:"lastOK,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
	Consecutive int       `json:"consecutiveErrors,omitempty"`
}

// Status reads the mirror's figures in one read transaction and adds the service's. It is
// safe to call while jobs run; the figures are a snapshot.
func (s *Service) Status(ctx context.Context) (Status, error) {
	var st Status
	if err := s.db.View(func(tx *store.Tx) error {
		var err error
		st.Mirror, err = tx.Status(s.now())
		return err
	}); err != nil {
		return st, err
	}
	st.Service = ServiceStatus{PID: os.Getpid(), Version: s.opts.Version, ReadOnly: s.readOnly}
	if err := s.Ready(ctx); err != nil {
		st.Service.NotReady = err.Error()
	} else {
		st.Service.Ready = true
	}
	for _, j := range s.jobs {
		st.Service.Jobs = append(st.Service.Jobs, j.status())
	}
	sort.Slice(st.Service.Jobs, func(i, k int) bool { return st.Service.Jobs[i].Name < st.Service.Jobs[k].Name })
	if s.engine != nil {
		lag, ok, err := s.engine.PTDChildrenLag()
		if err != nil {
			return st, err
		}
		if ok {
			st.Service.PTDChildren = &lag
		}
	}
	return st, nil
}

// statusRoute serves GET /admin/status on the admin listener.
func (s *Service) statusRoute() query.HandlerOption {
	return query.WithRoute("GET /admin/status", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := s.Status(r.Context())
		if err != nil {
			query.WriteError(w, err)
			return
		}
		query.WriteJSON(w, http.StatusOK, st)
	}))
}
