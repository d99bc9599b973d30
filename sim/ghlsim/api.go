package ghlsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"ptsync/apiclient/ghlwire"
)

// route is one API operation. Patterns use {name} wildcards for whole segments; the
// collection paths keep their trailing slash ("/contacts/").
type route struct {
	method  string
	pattern string
	segs    []string
	scope   string
	write   bool
	h       http.HandlerFunc
}

func (rt *route) key() string { return rt.method + " " + rt.pattern }

func (s *Server) apiRoutes() []route {
	ro, wr := ghlwire.ScopeContactsReadonly, ghlwire.ScopeContactsWrite
	// Order matters: a literal segment must be tried before a wildcard in the same place
	// (e.g. /contacts/business/{id} before /contacts/{contactId}/tasks).
	defs := []route{
		{method: "GET", pattern: "/contacts/", scope: ro, h: s.hListContacts},
		{method: "POST", pattern: "/contacts/", scope: wr, write: true, h: s.hCreateContact},
		{method: "POST", pattern: "/contacts/search", scope: ro, h: s.hSearch},
		{method: "POST", pattern: "/contacts/upsert", scope: wr, write: true, h: s.hUpsert},
		{method: "GET", pattern: "/contacts/search/duplicate", scope: ro, h: s.hDuplicate},
		{method: "GET", pattern: "/contacts/business/{businessId}", scope: ro, h: s.hBusiness},
		{method: "GET", pattern: "/contacts/{contactId}", scope: ro, h: s.hGetContact},
		{method: "PUT", pattern: "/contacts/{contactId}", scope: wr, write: true, h: s.hUpdateContact},
		{method: "DELETE", pattern: "/contacts/{contactId}", scope: wr, write: true, h: s.hDeleteContact},
		{method: "GET", pattern: "/contacts/{contactId}/tasks", scope: ro, h: s.hListTasks},
		{method: "POST", pattern: "/contacts/{contactId}/tasks", scope: wr, write: true, h: s.hCreateTask},
		{method: "GET", pattern: "/contacts/{contactId}/tasks/{taskId}", scope: ro, h: s.hGetTask},
		{method: "PUT", pattern: "/contacts/{contactId}/tasks/{taskId}", scope: wr, write: true, h: s.hUpdateTask},
		{method: "PUT", pattern: "/contacts/{contactId}/tasks/{taskId}/completed", scope: wr, write: true, h: s.hCompleteTask},
		{method: "DELETE", pattern: "/contacts/{contactId}/tasks/{taskId}", scope: wr, write: true, h: s.hDeleteTask},
		{method: "GET", pattern: "/contacts/{contactId}/notes", scope: ro, h: s.hListNotes},
		{method: "POST", pattern: "/contacts/{contactId}/notes", scope: wr, write: true, h: s.hCreateNote},
		{method: "GET", pattern: "/contacts/{contactId}/notes/{id}", scope: ro, h: s.hGetNote},
		{method: "PUT", pattern: "/contacts/{contactId}/notes/{id}", scope: wr, write: true, h: s.hUpdateNote},
		{method: "DELETE", pattern: "/contacts/{contactId}/notes/{id}", scope: wr, write: true, h: s.hDeleteNote},
		{method: "GET", pattern: "/contacts/{contactId}/appointments", scope: ro, h: s.hAppointments},
		{method: "POST", pattern: "/contacts/{contactId}/tags", scope: wr, write: true, h: s.hAddTags},
		{method: "DELETE", pattern: "/contacts/{contactId}/tags", scope: wr, write: true, h: s.hRemoveTags},
	}
	for i := range defs {
		defs[i].segs = strings.Split(strings.TrimPrefix(defs[i].pattern, "/"), "/")
	}
	return defs
}

// Routes lists every API operation as "METHOD /pattern", the keys of Requests().
func (s *Server) Routes() []string {
	out := make([]string, len(s.routes))
	for i := range s.routes {
		out[i] = s.routes[i].key()
	}
	return out
}

// match finds the route for r and its path values.
func (s *Server) match(r *http.Request) (*route, map[string]string) {
	segs := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
next:
	for i := range s.routes {
		rt := &s.routes[i]
		if rt.method != r.Method || len(rt.segs) != len(segs) {
			continue
		}
		var vals map[string]string
		for j, p := range rt.segs {
			if strings.HasPrefix(p, "{") {
				if segs[j] == "" {
					continue next
				}
				if vals == nil {
					vals = map[string]string{}
				}
				vals[p[1:len(p)-1]] = segs[j]
			} else if p != segs[j] {
				continue next
			}
		}
		return rt, vals
	}
	return nil, nil
}

// serveAPI runs the pipeline every API request goes through: count, fault, authenticate (a
// Location token), rate-limit, check Version, check scope, check the location the request
// names, then the operation.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	rt, vals := s.match(r)
	key := "UNMATCHED " + r.Method
	if rt != nil {
		key = rt.key()
	}
	s.ctr.request(key)
	now := s.now()
	// HighLevel's clock, as its answers carry it: the simulator's, not the host's.
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	f := s.faults.decide()
	if f.latency > 0 && !sleepCtx(r, f.latency) {
		return
	}
	if f.kind != "" {
		s.ctr.fault(f.kind)
	}
	switch f.kind {
	case Fault500, Fault502, Fault503:
		s.limits.peek(s.opts.LocationID, now, w.Header())
		s.writeErr(w, &Error{Status: f.kind.status(), Messages: []string{http.StatusText(f.kind.status())}})
		return
	case FaultReset:
		resetConnection(w)
		return
	}
	if rt == nil {
		s.limits.peek(s.opts.LocationID, now, w.Header())
		s.writeErr(w, &Error{Status: 404, Messages: []string{"Cannot " + r.Method + " " + r.URL.Path}})
		return
	}
	if !s.admit(w, r, rt, now) {
		return
	}
	if s.refuseWrongLocation(w, r, rt, vals) {
		return
	}
	for k, v := range vals {
		r.SetPathValue(k, v)
	}
	r.Pattern = rt.key()
	s.log.Trace("api request", "route", r.Pattern)
	if s.lieAboutListing(w, r, rt) {
		return
	}
	if f.kind.corruptsBody() {
		rec := &bufferedWriter{header: http.Header{}, status: 200}
		rt.h(rec, r)
		if rt.write && rec.status < 300 {
			s.ctr.write()
		}
		s.corrupt(w, r, rec, f.kind)
		return
	}
	sw := &statusWriter{ResponseWriter: w, status: 200}
	rt.h(sw, r)
	if rt.write && sw.status < 300 {
		s.ctr.write()
	}
}

// admit checks what HighLevel checks before an operation runs: a valid Location token, the
// location's rate budget, the Version header and the route's scope. false means it answered
// the refusal (counted; a refused write changed nothing).
func (s *Server) admit(w http.ResponseWriter, r *http.Request, rt *route, now time.Time) bool {
	tok, authErr := s.auth.authenticate(r, now)
	if authErr != nil {
		s.ctr.unauthorized(rt.write)
		s.limits.peek(s.opts.LocationID, now, w.Header())
		s.writeErr(w, authErr)
		return false
	}
	if tok.userType == userCompany {
		s.ctr.with(func(c *Counters) { c.AuthClassRefused++; c.RefusedWrites += b2i(rt.write) })
		s.limits.peek(s.opts.LocationID, now, w.Header())
		s.writeErr(w, errAuthClass)
		return false
	}
	if kind := s.limits.take(tok.location, now, w.Header()); kind != "" {
		s.ctr.rateLimited(kind, rt.write)
		s.writeErr(w, &Error{Status: 429, Messages: []string{ghlwire.MsgTooManyRequests}})
		return false
	}
	if v := r.Header.Get(ghlwire.HeaderVersion); v != ghlwire.APIVersion {
		msg := "version header is missing"
		if v != "" {
			msg = "version header is invalid: expected " + ghlwire.APIVersion
		}
		s.writeErr(w, errBadRequest(msg))
		return false
	}
	if !tok.scopes[rt.scope] {
		s.ctr.scopeRefused(rt.write)
		s.writeErr(w, &Error{Status: 401, Messages: []string{ghlwire.MsgScopeNotAuthorized}})
		return false
	}
	return true
}

func sleepCtx(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bufferedWriter captures a handler's response so a fault can mangle it.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header         { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedWriter) WriteHeader(code int)        { b.status = code }

// decodeBody reads a JSON body strictly, as HighLevel's validation does: unknown
// properties are a 422, malformed JSON a 400.
func decodeBody(r *http.Request, v any) *Error {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return errBadRequest("cannot read request body")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return errUnprocessable("property " + strings.Trim(f, `"`) + " should not exist")
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errUnprocessable(te.Field + " must be a " + te.Type.String())
		}
		return errBadRequest("Unexpected token in JSON body: " + msg)
	}
	return nil
}
