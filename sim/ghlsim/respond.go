package ghlsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ghlwire"
)

// answerer writes HighLevel's answers: JSON bodies, and errors in the common error DTO with a
// trace id. A location and its company of one share one answerer, so the trace ids of a
// single-location simulator come from one sequence, as they always did.
type answerer struct {
	logger hclog.Logger
	seed   int64
	seq    atomic.Uint64
}

func (a *answerer) traceID() string {
	n := a.seq.Add(1)
	return fmt.Sprintf("sim-%08x-%04x-%012x", uint32(a.seed), n>>48, n&0xffffffffffff)
}

func (a *answerer) writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		a.logger.Error("cannot encode response", "error", err)
		status, body = 500, []byte(`{"statusCode":500,"message":"Internal server error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

var errorNames = map[int]string{
	400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
	422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
	502: "Bad Gateway", 503: "Service Unavailable",
}

// writeErr sends e in the common error DTO: message is an array on 422, a string otherwise.
func (a *answerer) writeErr(w http.ResponseWriter, e *Error) {
	var msg any = strings.Join(e.Messages, ", ")
	if e.Status == 422 {
		msg = e.Messages
	}
	raw, _ := json.Marshal(msg)
	body := ghlwire.ErrorBody{StatusCode: e.Status, Message: raw, Meta: e.Meta, TraceID: a.traceID()}
	if e.Meta == nil {
		body.Error = errorNames[e.Status]
	}
	a.writeJSON(w, e.Status, body)
}

// reply answers v with status, or e in HighLevel's error shape when e is set. The caller builds
// v either way, so v must not draw a trace id (upsert answers by hand for that reason: every
// trace id drawn advances the sequence the next answer gets its id from).
func (a *answerer) reply(w http.ResponseWriter, status int, v any, e *Error) {
	if e != nil {
		a.writeErr(w, e)
		return
	}
	a.writeJSON(w, status, v)
}

// formBody parses a form-encoded request body, as the OAuth routes take it: another content
// type is a 422, an unparsable body a 400.
func formBody(r *http.Request) (url.Values, *Error) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, errUnprocessable("body must be application/x-www-form-urlencoded")
	}
	if err := r.ParseForm(); err != nil {
		return nil, errBadRequest("cannot parse form body")
	}
	return r.PostForm, nil
}

// oauthErr sends an RFC 6749 error body (error, error_description) inside the common DTO, as
// POST /oauth/token answers.
func (a *answerer) oauthErr(w http.ResponseWriter, status int, code, desc, msg string) {
	raw, _ := json.Marshal(msg)
	a.writeJSON(w, status, ghlwire.ErrorBody{StatusCode: status, Message: raw, Error: code, ErrorDescription: desc, TraceID: a.traceID()})
}

// listener serves one handler on one TCP listener between start and close.
type listener struct {
	mu  sync.Mutex
	srv *http.Server
	log hclog.Logger
}

// start listens on addr and serves h in the background; it returns the base URL.
func (l *listener) start(addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	l.mu.Lock()
	if l.srv != nil {
		l.mu.Unlock()
		ln.Close()
		return "", errors.New("cannot start simulator: already started")
	}
	l.srv = srv
	l.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.log.Error("simulator stopped serving", "error", err)
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

// close stops the listener, dropping open connections after a short grace; it is safe
// without start and more than once.
func (l *listener) close() error {
	l.mu.Lock()
	srv := l.srv
	l.srv = nil
	l.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
	}
	return nil
}
