package ghlsim

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"ptsync/apiclient/ghlwire"
)

// faultsJSON is Faults on the wire of POST /_sim/faults; durations are Go strings ("50ms").
type faultsJSON struct {
	ErrorRate            float64 `json:"errorRate"`
	ResetRate            float64 `json:"resetRate"`
	SlowBodyRate         float64 `json:"slowBodyRate"`
	MalformedRate        float64 `json:"malformedRate"`
	TruncatedRate        float64 `json:"truncatedRate"`
	WrongContentTypeRate float64 `json:"wrongContentTypeRate"`
	OversizedRate        float64 `json:"oversizedRate"`
	LatencyMin           string  `json:"latencyMin,omitempty"`
	LatencyMax           string  `json:"latencyMax,omitempty"`
	SlowBodyDelay        string  `json:"slowBodyDelay,omitempty"`
	OversizedBytes       int     `json:"oversizedBytes,omitempty"`
	IncludeOAuth         bool    `json:"includeOAuth,omitempty"`
	// FutureTimestampRate and FutureTimestampFor (a duration from now) are
	// Faults.FutureTimestampRate and FutureTimestampUntil.
	FutureTimestampRate float64 `json:"futureTimestampRate,omitempty"`
	FutureTimestampFor  string  `json:"futureTimestampFor,omitempty"`
	// Inject queues faults for the next requests (see InjectNext).
	Inject []FaultKind `json:"inject,omitempty"`
}

type limitsJSON struct {
	BurstMax      int    `json:"burstMax"`
	BurstInterval string `json:"burstInterval"`
	DailyMax      int    `json:"dailyMax"`
	DailyInterval string `json:"dailyInterval"`
	Disabled      bool   `json:"disabled"`
}

func parseDur(field, v string) (time.Duration, *Error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errUnprocessable(field + " must be a duration like 50ms: " + err.Error())
	}
	return d, nil
}

// controlMux builds the /_sim/ surface. It is unauthenticated: bind the simulator to
// loopback (the ptsync sim default) when it runs as a server.
func (s *Server) controlMux() *http.ServeMux {
	m := http.NewServeMux()
	s.readRoutes(m)
	s.contactRoutes(m)
	s.childRoutes(m)
	s.behaviourRoutes(m)
	s.tokenRoutes(m)
	m.HandleFunc("/_sim/", func(w http.ResponseWriter, r *http.Request) {
		s.reply(w, 0, nil, &Error{Status: 404, Messages: []string{"Cannot " + r.Method + " " + r.URL.Path}})
	})
	return m
}

// readRoutes: the journal, the counters and the data as they stand.
func (s *Server) readRoutes(m *http.ServeMux) {
	ok := s.reply
	m.HandleFunc("GET /_sim/journal", func(w http.ResponseWriter, r *http.Request) { ok(w, 200, s.Journal(), nil) })
	m.HandleFunc("GET /_sim/counters", func(w http.ResponseWriter, r *http.Request) { ok(w, 200, s.Counters(), nil) })
	m.HandleFunc("POST /_sim/counters/reset", func(w http.ResponseWriter, r *http.Request) {
		s.ResetCounters()
		ok(w, 200, s.Counters(), nil)
	})
	m.HandleFunc("GET /_sim/contacts", func(w http.ResponseWriter, r *http.Request) { ok(w, 200, s.Contacts(), nil) })
	m.HandleFunc("GET /_sim/snapshot", func(w http.ResponseWriter, r *http.Request) { ok(w, 200, s.Snapshot(), nil) })
	m.HandleFunc("GET /_sim/contacts/{id}", func(w http.ResponseWriter, r *http.Request) {
		c, found := s.Contact(r.PathValue("id"))
		if !found {
			ok(w, 0, nil, errNotFound("Contact"))
			return
		}
		id := c.ID
		ok(w, 200, map[string]any{"contact": c, "tasks": s.Tasks(id), "notes": s.Notes(id), "appointments": s.Appointments(id)}, nil)
	})
}

// contactRoutes: a user's edits of contacts and their tags.
func (s *Server) contactRoutes(m *http.ServeMux) {
	ok := s.reply
	m.HandleFunc("POST /_sim/contacts", func(w http.ResponseWriter, r *http.Request) {
		var in ghlwire.ContactInput
		if e := decodeBody(r, &in); e != nil {
			ok(w, 0, nil, e)
			return
		}
		c, e := s.opCreateContact(in)
		ok(w, 201, ghlwire.ContactResponse{Contact: c}, e)
	})
	m.HandleFunc("PUT /_sim/contacts/{id}", func(w http.ResponseWriter, r *http.Request) {
		var in ghlwire.ContactInput
		if e := decodeBody(r, &in); e != nil {
			ok(w, 0, nil, e)
			return
		}
		c, e := s.opUpdateContact(r.PathValue("id"), in, JournalControl)
		ok(w, 200, ghlwire.ContactResponse{Contact: c}, e)
	})
	m.HandleFunc("DELETE /_sim/contacts/{id}", func(w http.ResponseWriter, r *http.Request) {
		ok(w, 200, ghlwire.SucceededResponse{Succeded: true}, s.opDeleteContact(r.PathValue("id")))
	})
	tagHandler := func(add bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var in ghlwire.TagsInput
			if e := decodeBody(r, &in); e != nil {
				ok(w, 0, nil, e)
				return
			}
			tags, e := s.opTags(r.PathValue("id"), in.Tags, add)
			ok(w, 200, ghlwire.TagsResponse{Tags: tags}, e)
		}
	}
	m.HandleFunc("POST /_sim/contacts/{id}/tags", tagHandler(true))
	m.HandleFunc("DELETE /_sim/contacts/{id}/tags", tagHandler(false))
}

// childRoutes: a user's edits of tasks, notes and appointments.
func (s *Server) childRoutes(m *http.ServeMux) {
	ok := s.reply
	m.HandleFunc("POST /_sim/contacts/{id}/tasks", func(w http.ResponseWriter, r *http.Request) {
		var in ghlwire.TaskInput
		if e := decodeBody(r, &in); e != nil {
			ok(w, 0, nil, e)
			return
		}
		t, e := s.opCreateTask(r.PathValue("id"), in)
		ok(w, 201, ghlwire.TaskResponse{Task: t}, e)
	})
	m.HandleFunc("PUT /_sim/contacts/{id}/tasks/{taskId}", func(w http.ResponseWriter, r *http.Request) {
		var in ghlwire.TaskInput
		if e := decodeBody(r, &in); e != nil {
			ok(w, 0, nil, e)
			return
		}
		t, e := s.opUpdateTask(r.PathValue("id"), r.PathValue("taskId"), in)
		ok(w, 200, ghlwire.TaskResponse{Task: t}, e)
	})
	m.HandleFunc("DELETE /_sim/contacts/{id}/tasks/{taskId}", func(w http.ResponseWriter, r *http.Request) {
		ok(w, 200, ghlwire.SucceededResponse{Succeded: true}, s.opDeleteTask(r.PathValue("id"), r.PathValue("taskId")))
	})
	m.HandleFunc("POST /_sim/contacts/{id}/notes", func(w http.ResponseWriter, r *http.Request) {
		var in ghlwire.NoteInput
		if e := decodeBody(r, &in); e != nil {
			ok(w, 0, nil, e)
			return
		}
		n, e := s.opCreateNote(r.PathValue("id"), in)
		ok(w, 201, ghlwire.NoteResponse{Note: n}, e)
	})
	m.HandleFunc("PUT /_sim/contacts/{id}/notes/{noteId}", func(w http.ResponseWriter, r *http.Request) {
		var in ghlwire.NoteInput
		if e := decodeBody(r, &in); e != nil {
			ok(w, 0, nil, e)
			return
		}
		n, e := s.opUpdateNote(r.PathValue("id"), r.PathValue("noteId"), in)
		ok(w, 200, ghlwire.NoteResponse{Note: n}, e)
	})
	m.HandleFunc("DELETE /_sim/contacts/{id}/notes/{noteId}", func(w http.ResponseWriter, r *http.Request) {
		ok(w, 200, ghlwire.SucceededResponse{Succeded: true}, s.opDeleteNote(r.PathValue("id"), r.PathValue("noteId")))
	})
	m.HandleFunc("POST /_sim/contacts/{id}/appointments", func(w http.ResponseWriter, r *http.Request) {
		var in ghlwire.Appointment
		if e := decodeBody(r, &in); e != nil {
			ok(w, 0, nil, e)
			return
		}
		a, e := s.opAddAppointment(r.PathValue("id"), in)
		ok(w, 201, a, e)
	})
}

// behaviourRoutes: generated data and churn, and the switches that make the API misbehave
// (faults, limits, cursor repeats, listing lies, search lag).
func (s *Server) behaviourRoutes(m *http.ServeMux) {
	ok := s.reply
	m.HandleFunc("POST /_sim/seed", func(w http.ResponseWriter, r *http.Request) {
		n, e := intParam(r, "n", 100)
		if e != nil {
			ok(w, 0, nil, e)
			return
		}
		ok(w, 200, map[string]any{"ids": s.Seed(n)}, nil)
	})
	m.HandleFunc("POST /_sim/churn", func(w http.ResponseWriter, r *http.Request) {
		n, e := intParam(r, "n", 1)
		if e != nil {
			ok(w, 0, nil, e)
			return
		}
		ok(w, 200, map[string]any{"changed": s.ChurnStep(n)}, nil)
	})
	m.HandleFunc("POST /_sim/faults", s.hSetFaults)
	m.HandleFunc("POST /_sim/limits", s.hSetLimits)
	m.HandleFunc("POST /_sim/cursor-repeat", func(w http.ResponseWriter, r *http.Request) {
		on := r.URL.Query().Get("on") != "false" && r.URL.Query().Get("on") != "0"
		s.SetCursorRepeat(on)
		ok(w, 200, map[string]bool{"on": on}, nil)
	})
	m.HandleFunc("POST /_sim/listing-fault", func(w http.ResponseWriter, r *http.Request) {
		f := ListingFault(r.URL.Query().Get("mode"))
		switch f {
		case ListingHonest, ListingEmpty, ListingFirstPage:
			s.SetListingFault(f)
			ok(w, 200, map[string]ListingFault{"mode": f}, nil)
		default:
			ok(w, 0, nil, errUnprocessable("mode must be empty, first_page or absent (off)"))
		}
	})
	m.HandleFunc("POST /_sim/search-lag", func(w http.ResponseWriter, r *http.Request) {
		d, e := parseDur("d", r.URL.Query().Get("d"))
		if e == nil {
			s.SetSearchLag(d)
		}
		ok(w, 200, map[string]string{"searchLag": d.String()}, e)
	})
}

// tokenRoutes: tokens issued without the browser, and their expiry and revocation.
func (s *Server) tokenRoutes(m *http.ServeMux) {
	ok := s.reply
	m.HandleFunc("POST /_sim/tokens", func(w http.ResponseWriter, r *http.Request) { ok(w, 200, s.IssueToken(scopesParam(r)...), nil) })
	m.HandleFunc("POST /_sim/pit", func(w http.ResponseWriter, r *http.Request) {
		ok(w, 200, map[string]string{"token": s.IssuePIT(scopesParam(r)...)}, nil)
	})
	m.HandleFunc("POST /_sim/expire-tokens", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireAccessTokens()
		ok(w, 200, map[string]bool{"ok": true}, nil)
	})
	m.HandleFunc("POST /_sim/revoke-refresh-tokens", func(w http.ResponseWriter, r *http.Request) {
		s.RevokeRefreshTokens()
		ok(w, 200, map[string]bool{"ok": true}, nil)
	})
	m.HandleFunc("POST /_sim/expire-every", func(w http.ResponseWriter, r *http.Request) {
		n, e := intParam(r, "n", 0)
		if e == nil {
			s.ExpireEvery(n)
		}
		ok(w, 200, map[string]int{"n": n}, e)
	})
}

// intParam reads a non-negative integer query parameter (def when absent).
func intParam(r *http.Request, name string, def int) (int, *Error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errUnprocessable(name + " must be a non-negative integer")
	}
	return n, nil
}

// scopesParam reads the scopes query parameter (comma- or space-separated).
func scopesParam(r *http.Request) []string {
	return strings.FieldsFunc(r.URL.Query().Get("scopes"), func(c rune) bool { return c == ',' || c == ' ' })
}

// hSetFaults is POST /_sim/faults: replace the random faults and queue injected ones.
func (s *Server) hSetFaults(w http.ResponseWriter, r *http.Request) {
	ok := s.reply
	var in faultsJSON
	if e := decodeBody(r, &in); e != nil {
		ok(w, 0, nil, e)
		return
	}
	f := Faults{ErrorRate: in.ErrorRate, ResetRate: in.ResetRate, SlowBodyRate: in.SlowBodyRate,
		MalformedRate: in.MalformedRate, TruncatedRate: in.TruncatedRate, WrongContentTypeRate: in.WrongContentTypeRate,
		OversizedRate: in.OversizedRate, OversizedBytes: in.OversizedBytes, IncludeOAuth: in.IncludeOAuth,
		FutureTimestampRate: in.FutureTimestampRate}
	var futureFor time.Duration
	for _, d := range []struct {
		name string
		v    string
		dst  *time.Duration
	}{{"latencyMin", in.LatencyMin, &f.LatencyMin}, {"latencyMax", in.LatencyMax, &f.LatencyMax}, {"slowBodyDelay", in.SlowBodyDelay, &f.SlowBodyDelay},
		{"futureTimestampFor", in.FutureTimestampFor, &futureFor}} {
		var e *Error
		if *d.dst, e = parseDur(d.name, d.v); e != nil {
			ok(w, 0, nil, e)
			return
		}
	}
	if futureFor > 0 {
		f.FutureTimestampUntil = s.now().Add(futureFor)
	}
	s.SetFaults(f)
	s.InjectNext(in.Inject...)
	ok(w, 200, in, nil)
}

// hSetLimits is POST /_sim/limits: replace the rate limits, answer the limits in force.
func (s *Server) hSetLimits(w http.ResponseWriter, r *http.Request) {
	ok := s.reply
	var in limitsJSON
	if e := decodeBody(r, &in); e != nil {
		ok(w, 0, nil, e)
		return
	}
	bi, e1 := parseDur("burstInterval", in.BurstInterval)
	di, e2 := parseDur("dailyInterval", in.DailyInterval)
	if e1 != nil || e2 != nil {
		ok(w, 0, nil, func() *Error {
			if e1 != nil {
				return e1
			}
			return e2
		}())
		return
	}
	s.SetLimits(Limits{BurstMax: in.BurstMax, BurstInterval: bi, DailyMax: in.DailyMax, DailyInterval: di, Disabled: in.Disabled})
	l := s.CurrentLimits()
	ok(w, 200, limitsJSON{l.BurstMax, l.BurstInterval.String(), l.DailyMax, l.DailyInterval.String(), l.Disabled}, nil)
}

func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	s.ctlOnce.Do(func() { s.ctl = s.controlMux() })
	s.ctl.ServeHTTP(w, r)
}
