package ptdsim

import (
	"net/http"
	"time"

	"ptsync/apiclient/ptdwire"
)

// faultsJSON is the body of PUT /_sim/faults.
type faultsJSON struct {
	ErrorRate         float64 `json:"errorRate"`
	ErrorStatus       int     `json:"errorStatus,omitempty"`
	LatencyMs         int64   `json:"latencyMs,omitempty"`
	RetryAfterSeconds int64   `json:"retryAfterSeconds,omitempty"`
	FutureStampRate   float64 `json:"futureStampRate,omitempty"`
}

type nameJSON struct {
	Name string `json:"name"`
}

// controlRoutes registers the /_sim/ surface: the Go control API over HTTP, for staging and
// for driving a running `ptsync sim` with curl. Edits made here are coach edits: they move
// updatedAt and the ETag like any write but count as CoachWrites, not Writes.
func (s *Sim) controlRoutes(r func(string, handlerFunc)) {
	r("GET /_sim/stats", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Stats()) })
	r("GET /_sim/clients", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, ptdwire.ClientPage{Clients: s.Clients()})
	})
	r("GET /_sim/reminders", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Reminders()) })
	r("GET /_sim/snapshot", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Snapshot()) })
	r("PUT /_sim/faults", func(w http.ResponseWriter, req *http.Request) {
		var in faultsJSON
		if !s.decode(w, req, &in) {
			return
		}
		if in.ErrorRate < 0 || in.ErrorRate > 1 {
			writeErr(w, errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "errorRate %v must be within [0, 1]", in.ErrorRate))
			return
		}
		if in.FutureStampRate < 0 || in.FutureStampRate > 1 {
			writeErr(w, errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "futureStampRate %v must be within [0, 1]", in.FutureStampRate))
			return
		}
		s.SetFaults(Faults{ErrorRate: in.ErrorRate, ErrorStatus: in.ErrorStatus,
			Latency: time.Duration(in.LatencyMs) * time.Millisecond, RetryAfter: time.Duration(in.RetryAfterSeconds) * time.Second,
			FutureStampRate: in.FutureStampRate})
		w.WriteHeader(http.StatusNoContent)
	})
	r("PUT /_sim/listing-fault", func(w http.ResponseWriter, req *http.Request) {
		switch f := ListingFault(req.URL.Query().Get("mode")); f {
		case ListingHonest, ListingEmpty:
			s.SetListingFault(f)
			w.WriteHeader(http.StatusNoContent)
		default:
			writeErr(w, errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "mode %q: want empty or nothing (off)", f))
		}
	})
	r("DELETE /_sim/clients/{id}", func(w http.ResponseWriter, req *http.Request) {
		reply(w, http.StatusNoContent, nil, s.RemoveClient(req.PathValue("id")))
	})
	r("POST /_sim/clients/{id}/restore", func(w http.ResponseWriter, req *http.Request) {
		c, err := s.RestoreClient(req.PathValue("id"))
		reply(w, http.StatusOK, c, err)
	})
	r("POST /_sim/groups", func(w http.ResponseWriter, req *http.Request) {
		var in nameJSON
		if s.decode(w, req, &in) {
			writeJSON(w, http.StatusCreated, s.AddGroup(in.Name))
		}
	})
	r("POST /_sim/packages", func(w http.ResponseWriter, req *http.Request) {
		var in nameJSON
		if s.decode(w, req, &in) {
			writeJSON(w, http.StatusCreated, s.AddPackage(in.Name))
		}
	})
	r("POST /_sim/clients", func(w http.ResponseWriter, req *http.Request) {
		var in ptdwire.ClientInput
		if s.decode(w, req, &in) {
			c, err := s.CreateClient(in)
			reply(w, http.StatusCreated, c, err)
		}
	})
	r("PATCH /_sim/clients/{id}", func(w http.ResponseWriter, req *http.Request) {
		var in ptdwire.ClientInput
		if s.decode(w, req, &in) {
			c, err := s.EditClient(req.PathValue("id"), in)
			reply(w, http.StatusOK, c, err)
		}
	})
	r("POST /_sim/clients/{id}/tags", func(w http.ResponseWriter, req *http.Request) {
		var in ptdwire.TagsInput
		if s.decode(w, req, &in) {
			c, err := s.TagClient(req.PathValue("id"), in.Tags, nil)
			reply(w, http.StatusOK, c, err)
		}
	})
	r("DELETE /_sim/clients/{id}/tags", func(w http.ResponseWriter, req *http.Request) {
		var in ptdwire.TagsInput
		if s.decode(w, req, &in) {
			c, err := s.TagClient(req.PathValue("id"), nil, in.Tags)
			reply(w, http.StatusOK, c, err)
		}
	})
	r("POST /_sim/clients/{id}/tasks", func(w http.ResponseWriter, req *http.Request) {
		var in ptdwire.TaskInput
		if s.decode(w, req, &in) {
			t, err := s.CreateTask(req.PathValue("id"), in)
			reply(w, http.StatusCreated, t, err)
		}
	})
	r("PATCH /_sim/tasks/{id}", func(w http.ResponseWriter, req *http.Request) {
		var in ptdwire.TaskInput
		if s.decode(w, req, &in) {
			t, err := s.EditTask(req.PathValue("id"), in)
			reply(w, http.StatusOK, t, err)
		}
	})
	r("DELETE /_sim/tasks/{id}", func(w http.ResponseWriter, req *http.Request) {
		reply(w, http.StatusNoContent, nil, s.DeleteTask(req.PathValue("id")))
	})
	r("POST /_sim/clients/{id}/notes", func(w http.ResponseWriter, req *http.Request) {
		var in ptdwire.NoteInput
		if s.decode(w, req, &in) {
			body := ""
			if in.Body != nil {
				body = *in.Body
			}
			n, err := s.CreateNote(req.PathValue("id"), body)
			reply(w, http.StatusCreated, n, err)
		}
	})
}

func reply(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		if e, ok := err.(*Error); ok {
			writeErr(w, e)
			return
		}
		writeErr(w, errf(http.StatusInternalServerError, ptdwire.CodeInternal, "%v", err))
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, v)
}
