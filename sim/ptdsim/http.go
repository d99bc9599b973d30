package ptdsim

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"ptsync/apiclient/ptdwire"
)

// cursor is the decoded form of the opaque listing cursor: the (updatedAt, id) position of
// the last client served. Encoding it exactly (nanoseconds, not the rendered milliseconds)
// means equal timestamps never skip or repeat a client.
type cursor struct {
	valid bool
	at    time.Time
	id    string
}

func (c cursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1|" + strconv.FormatInt(c.at.UnixNano(), 10) + "|" + c.id))
}

func decodeCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, fmt.Errorf("cursor is not base64url")
	}
	parts := strings.SplitN(string(b), "|", 3)
	if len(parts) != 3 || parts[0] != "v1" || parts[2] == "" {
		return cursor{}, fmt.Errorf("cursor has an unknown format")
	}
	ns, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return cursor{}, fmt.Errorf("cursor has a bad timestamp")
	}
	return cursor{valid: true, at: time.Unix(0, ns).UTC(), id: parts[2]}, nil
}

// Handler returns the simulator's HTTP surface: the contract under /v1/ and the control
// surface under /_sim/. Both demand the API key as a bearer token.
func (s *Sim) Handler() http.Handler { return s.mux }

// Server is a running simulator listener. Close stops it.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:43121 (no trailing slash).
	URL string
	srv *http.Server
	ln  net.Listener
}

// Close shuts the listener down, waiting for in-flight requests until ctx ends.
func (sv *Server) Close(ctx context.Context) error {
	if err := sv.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("cannot stop simulator: %w", err)
	}
	return nil
}

func serve(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &Server{URL: "http://" + ln.Addr().String(), srv: srv, ln: ln}, nil
}

// Start serves Handler on addr (e.g. "127.0.0.1:0") in the background.
func (s *Sim) Start(addr string) (*Server, error) { return serve(addr, s.Handler()) }

type handlerFunc func(w http.ResponseWriter, r *http.Request)

// route registers pattern, wrapping h with counting, auth and (for /v1/) fault injection.
func (s *Sim) route(mux *http.ServeMux, pattern string, h handlerFunc) {
	api := strings.Contains(pattern, " /v1/")
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[pattern]++
		s.totalRequests++
		s.mu.Unlock()
		s.log.Debug("request", "route", pattern)
		// The server's clock in every answer, as a real server sends it: the simulator's.
		w.Header().Set("Date", s.opts.Clock().UTC().Format(http.TimeFormat))
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ptd"`)
			writeErr(w, errf(http.StatusUnauthorized, ptdwire.CodeUnauthorized, "missing or invalid bearer token"))
			return
		}
		if api && s.injectFault(w, r) {
			return
		}
		h(w, r)
	})
}

func (s *Sim) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(tok), []byte(s.apiKey)) == 1
}

// injectFault applies latency and, if one is due, answers with an injected failure.
func (s *Sim) injectFault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	f := s.faults
	var q *queuedFault
	if len(s.queued) > 0 {
		q = &s.queued[0]
		s.queued = s.queued[1:]
	} else if f.ErrorRate > 0 && s.rng.Float64() < f.ErrorRate {
		st := f.ErrorStatus
		if st == 0 {
			st = http.StatusServiceUnavailable
		}
		q = &queuedFault{status: st, retryAfter: f.RetryAfter}
	}
	s.mu.Unlock()
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if q == nil {
		return false
	}
	if q.retryAfter > 0 && (q.status == http.StatusTooManyRequests || q.status == http.StatusServiceUnavailable) {
		secs := int64((q.retryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	code := ptdwire.CodeUnavailable
	switch {
	case q.status == http.StatusTooManyRequests:
		code = ptdwire.CodeRateLimited
	case q.status == http.StatusInternalServerError:
		code = ptdwire.CodeInternal
	}
	writeErr(w, errf(q.status, code, "injected fault"))
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, e *Error) { writeJSON(w, e.Status, e.Body) }

func writeClient(w http.ResponseWriter, status int, c ptdwire.Client) {
	w.Header().Set("ETag", c.ETag)
	writeJSON(w, status, c)
}

// decode reads a JSON body into v: capped, unknown fields rejected, exactly one value.
func (s *Sim) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON value")
	}
	if err == nil {
		if _, e := io.Copy(io.Discard, body); e != nil {
			err = e
		}
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeErr(w, errf(http.StatusRequestEntityTooLarge, ptdwire.CodeTooLarge, "request body exceeds %d bytes", mbe.Limit))
			return false
		}
		writeErr(w, errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "cannot decode request body: %v", err))
		return false
	}
	return true
}

// write runs a state change under the lock and counts it as an API write when changed.
func (s *Sim) write(f func() (changed bool, err *Error)) *Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed, err := f()
	if err == nil && changed {
		s.writes++
	}
	return err
}

func (s *Sim) routes() *http.ServeMux {
	mux := http.NewServeMux()
	r := func(p string, h handlerFunc) { s.route(mux, p, h) }

	r("GET /v1/capabilities", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.caps) })
	r("GET /v1/clients", s.listClients)
	r("POST /v1/clients", s.postClient)
	r("GET /v1/clients/{id}", s.getClient)
	r("PATCH /v1/clients/{id}", s.patchClient)
	r("DELETE /v1/clients/{id}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", "GET, PATCH")
		writeErr(w, errf(http.StatusMethodNotAllowed, ptdwire.CodeMethodNotAllowed,
			"clients are never deleted through the API: set access to print_only instead"))
	})
	r("POST /v1/clients/{id}/tags", func(w http.ResponseWriter, r *http.Request) { s.tags(w, r, true) })
	r("DELETE /v1/clients/{id}/tags", func(w http.ResponseWriter, r *http.Request) { s.tags(w, r, false) })
	r("GET /v1/groups", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, ptdwire.GroupList{Groups: nonNil(s.Groups())})
	})
	r("GET /v1/packages", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, ptdwire.PackageList{Packages: nonNil(s.Packages())})
	})
	r("PUT /v1/clients/{id}/groups/{groupId}", func(w http.ResponseWriter, r *http.Request) {
		s.membership(w, r, r.PathValue("groupId"), false, true)
	})
	r("DELETE /v1/clients/{id}/groups/{groupId}", func(w http.ResponseWriter, r *http.Request) {
		s.membership(w, r, r.PathValue("groupId"), false, false)
	})
	r("PUT /v1/clients/{id}/packages/{packageId}", func(w http.ResponseWriter, r *http.Request) {
		s.membership(w, r, r.PathValue("packageId"), true, true)
	})
	r("PUT /v1/clients/{id}/access", s.putAccess)
	r("GET /v1/clients/{id}/tasks", s.listTasks)
	r("POST /v1/clients/{id}/tasks", s.postTask)
	r("PATCH /v1/tasks/{id}", s.patchTask)
	r("DELETE /v1/tasks/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.deleteChild(w, func() *Error { return s.deleteTaskLocked(r.PathValue("id")) })
	})
	r("GET /v1/clients/{id}/notes", s.listNotes)
	r("POST /v1/clients/{id}/notes", s.postNote)
	r("PATCH /v1/notes/{id}", s.patchNote)
	r("DELETE /v1/notes/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.deleteChild(w, func() *Error { return s.deleteNoteLocked(r.PathValue("id")) })
	})
	r("GET /v1/clients/{id}/appointments", s.listAppointments)
	r("PUT /v1/clients/{id}/appointments/{externalId}", s.putAppointment)
	r("POST /v1/reminders", s.postReminder)

	s.controlRoutes(r)

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, errf(http.StatusNotFound, ptdwire.CodeNotFound, "no route for %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

func (s *Sim) listClients(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("email") {
		if q.Has("updatedAfter") {
			writeErr(w, errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "email and updatedAfter cannot be combined"))
			return
		}
		page := ptdwire.ClientPage{Clients: []ptdwire.Client{}}
		if c, ok := s.ClientByEmail(q.Get("email")); ok {
			page.Clients = append(page.Clients, c)
		}
		writeJSON(w, http.StatusOK, page)
		return
	}
	if s.emptyListing() {
		writeJSON(w, http.StatusOK, ptdwire.ClientPage{Clients: []ptdwire.Client{}})
		return
	}
	limit := DefaultPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			writeErr(w, errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "limit %q must be an integer from 1 to %d", v, MaxPageSize))
			return
		}
		limit = n
	}
	cur, err := decodeCursor(q.Get("updatedAfter"))
	if err != nil {
		writeErr(w, errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "updatedAfter: %v", err))
		return
	}
	s.mu.Lock()
	page := s.pageLocked(cur, limit)
	s.futureStampLocked(&page)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, page)
}

// mutate applies f as one state change (write: under the lock, counted as an API write when it
// reports a change) and returns its result; ok is false when f's error has been answered.
func mutate[T any](s *Sim, w http.ResponseWriter, f func() (T, bool, *Error)) (out T, ok bool) {
	if err := s.write(func() (changed bool, e *Error) { out, changed, e = f(); return }); err != nil {
		writeErr(w, err)
		return out, false
	}
	return out, true
}

// decodeMutate decodes the request body into an In (decode) and then applies f to it (mutate);
// ok is false when a decode or state error has been answered.
func decodeMutate[In, T any](s *Sim, w http.ResponseWriter, r *http.Request, f func(in In) (T, bool, *Error)) (T, bool) {
	var in In
	if !s.decode(w, r, &in) {
		var zero T
		return zero, false
	}
	return mutate(s, w, func() (T, bool, *Error) { return f(in) })
}

// created answers 201 with the new resource v and its Location.
func created(w http.ResponseWriter, location string, v any) {
	w.Header().Set("Location", location)
	writeJSON(w, http.StatusCreated, v)
}

// upsertStatus is the status of an idempotent PUT or POST: 201 when it created, else 200.
func upsertStatus(isNew bool) int {
	if isNew {
		return http.StatusCreated
	}
	return http.StatusOK
}

// listChildren answers list's view of the client's children, built under the lock, or 404 for
// an unknown client.
func (s *Sim) listChildren(w http.ResponseWriter, r *http.Request, list func(clientID string) any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, e := s.clientLocked(r.PathValue("id")); e != nil {
		writeErr(w, e)
		return
	}
	writeJSON(w, http.StatusOK, list(r.PathValue("id")))
}

func (s *Sim) postClient(w http.ResponseWriter, r *http.Request) {
	c, ok := decodeMutate(s, w, r, func(in ptdwire.ClientInput) (ptdwire.Client, bool, *Error) {
		c, e := s.createClientLocked(in, time.Time{})
		return c, e == nil, e
	})
	if ok {
		w.Header().Set("Location", "/v1/clients/"+c.ID)
		writeClient(w, http.StatusCreated, c)
	}
}

func (s *Sim) getClient(w http.ResponseWriter, r *http.Request) {
	c, ok := s.Client(r.PathValue("id"))
	if !ok {
		writeErr(w, errf(http.StatusNotFound, ptdwire.CodeNotFound, "client %q not found", r.PathValue("id")))
		return
	}
	writeClient(w, http.StatusOK, c)
}

func (s *Sim) patchClient(w http.ResponseWriter, r *http.Request) {
	ifMatch := r.Header.Get("If-Match")
	if ifMatch == "" {
		writeErr(w, errf(http.StatusPreconditionRequired, ptdwire.CodePreconditionRequired,
			"PATCH needs an If-Match header with the client's current ETag"))
		return
	}
	c, ok := decodeMutate(s, w, r, func(in ptdwire.ClientInput) (ptdwire.Client, bool, *Error) {
		c, e := s.updateClientLocked(r.PathValue("id"), ifMatch, true, in)
		return c, e == nil, e
	})
	if ok {
		writeClient(w, http.StatusOK, c)
	}
}

func (s *Sim) tags(w http.ResponseWriter, r *http.Request, add bool) {
	c, ok := decodeMutate(s, w, r, func(in ptdwire.TagsInput) (ptdwire.Client, bool, *Error) {
		return s.tagsLocked(r.PathValue("id"), in.Tags, add)
	})
	if ok {
		writeClient(w, http.StatusOK, c)
	}
}

func (s *Sim) membership(w http.ResponseWriter, r *http.Request, ref string, packages, add bool) {
	c, ok := mutate(s, w, func() (ptdwire.Client, bool, *Error) {
		return s.membershipLocked(r.PathValue("id"), ref, packages, add)
	})
	if ok {
		writeClient(w, http.StatusOK, c)
	}
}

func (s *Sim) putAccess(w http.ResponseWriter, r *http.Request) {
	c, ok := decodeMutate(s, w, r, func(in ptdwire.AccessInput) (ptdwire.Client, bool, *Error) {
		cur, e := s.clientLocked(r.PathValue("id"))
		if e != nil {
			return ptdwire.Client{}, false, e
		}
		if cur.c.Access == in.Access {
			return copyClient(cur.c), false, nil
		}
		c, e := s.updateClientLocked(r.PathValue("id"), "", false, ptdwire.ClientInput{Access: &in.Access})
		return c, e == nil, e
	})
	if ok {
		writeClient(w, http.StatusOK, c)
	}
}

func (s *Sim) listTasks(w http.ResponseWriter, r *http.Request) {
	s.listChildren(w, r, func(id string) any { return ptdwire.TaskList{Tasks: s.tasksLocked(id)} })
}

func (s *Sim) postTask(w http.ResponseWriter, r *http.Request) {
	t, ok := decodeMutate(s, w, r, func(in ptdwire.TaskInput) (ptdwire.Task, bool, *Error) {
		t, e := s.createTaskLocked(r.PathValue("id"), in)
		return t, e == nil, e
	})
	if ok {
		created(w, "/v1/tasks/"+t.ID, t)
	}
}

func (s *Sim) patchTask(w http.ResponseWriter, r *http.Request) {
	t, ok := decodeMutate(s, w, r, func(in ptdwire.TaskInput) (ptdwire.Task, bool, *Error) {
		t, e := s.updateTaskLocked(r.PathValue("id"), in)
		return t, e == nil, e
	})
	if ok {
		writeJSON(w, http.StatusOK, t)
	}
}

func (s *Sim) deleteChild(w http.ResponseWriter, f func() *Error) {
	if err := s.write(func() (bool, *Error) { e := f(); return e == nil, e }); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) listNotes(w http.ResponseWriter, r *http.Request) {
	s.listChildren(w, r, func(id string) any { return ptdwire.NoteList{Notes: s.notesLocked(id)} })
}

func (s *Sim) postNote(w http.ResponseWriter, r *http.Request) {
	n, ok := decodeMutate(s, w, r, func(in ptdwire.NoteInput) (ptdwire.Note, bool, *Error) {
		n, e := s.createNoteLocked(r.PathValue("id"), in)
		return n, e == nil, e
	})
	if ok {
		created(w, "/v1/notes/"+n.ID, n)
	}
}

func (s *Sim) patchNote(w http.ResponseWriter, r *http.Request) {
	n, ok := decodeMutate(s, w, r, func(in ptdwire.NoteInput) (ptdwire.Note, bool, *Error) {
		n, e := s.updateNoteLocked(r.PathValue("id"), in)
		return n, e == nil, e
	})
	if ok {
		writeJSON(w, http.StatusOK, n)
	}
}

func (s *Sim) listAppointments(w http.ResponseWriter, r *http.Request) {
	s.listChildren(w, r, func(id string) any {
		return ptdwire.AppointmentList{Appointments: s.appointmentsLocked(id)}
	})
}

func (s *Sim) putAppointment(w http.ResponseWriter, r *http.Request) {
	var isNew bool
	a, ok := decodeMutate(s, w, r, func(in ptdwire.AppointmentInput) (a ptdwire.Appointment, changed bool, e *Error) {
		a, isNew, changed, e = s.upsertAppointmentLocked(r.PathValue("id"), r.PathValue("externalId"), in)
		return
	})
	if ok {
		writeJSON(w, upsertStatus(isNew), a)
	}
}

func (s *Sim) postReminder(w http.ResponseWriter, r *http.Request) {
	var in ptdwire.Reminder
	if !s.decode(w, r, &in) {
		return
	}
	if in.ID != "" || in.CreatedAt != "" {
		writeErr(w, errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "id and createdAt are set by the server"))
		return
	}
	var isNew bool
	out, ok := mutate(s, w, func() (out ptdwire.Reminder, changed bool, e *Error) {
		out, isNew, e = s.reminderLocked(in)
		return out, isNew, e
	})
	if ok {
		writeJSON(w, upsertStatus(isNew), out)
	}
}
