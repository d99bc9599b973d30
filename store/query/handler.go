package query

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"ptsync/store"
)

// Admin protocol (loopback only; the address and token come from the "<db>.admin" file):
//
//	POST /admin/query   body Request      → 200 Result
//	POST /admin/show    body ShowRequest  → 200 ContactView
//	POST /admin/check                     → 200 CheckResponse (OK false lists problems)
//	GET  /admin/backup                    → 200 the mirror's bytes (a consistent copy)
//
// Errors are {"error": "...", "known": [...]} with 400 for a bad request (the CLI exits 2),
// 404 for an unknown record, 401 without the right "Authorization: Bearer <token>", and 500
// otherwise.

// ShowRequest is the body of POST /admin/show.
type ShowRequest struct {
	Contact string `json:"contact"` // id or email
}

// CheckResponse is the body of POST /admin/check.
type CheckResponse struct {
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
	Error    string   `json:"error,omitempty"`
}

type errorBody struct {
	Error string   `json:"error"`
	Known []string `json:"known,omitempty"`
}

// HandlerOption configures Handler.
type HandlerOption func(*handler)

// WithToken requires "Authorization: Bearer <token>" on every request (the token written to
// the admin file). Without it the handler trusts anything that can reach it, so mount it on a
// loopback listener only.
func WithToken(token string) HandlerOption { return func(h *handler) { h.token = token } }

// WithClock sets the clock used for relative flags and now(); default the db's clock.
func WithClock(now func() time.Time) HandlerOption { return func(h *handler) { h.now = now } }

type handler struct {
	db    *store.DB
	token string
	now   func() time.Time
	mux   *http.ServeMux
}

// Handler serves the admin protocol from db, for the service to mount on its loopback admin
// listener. Each request runs in its own read transaction, concurrent with the service's
// writers; request bodies are limited to 1 MiB.
func Handler(db *store.DB, opts ...HandlerOption) http.Handler {
	h := &handler{db: db, now: db.Now, mux: http.NewServeMux()}
	for _, o := range opts {
		o(h)
	}
	h.mux.HandleFunc("POST /admin/query", h.query)
	h.mux.HandleFunc("POST /admin/show", h.show)
	h.mux.HandleFunc("POST /admin/check", h.check)
	h.mux.HandleFunc("GET /admin/backup", h.backup)
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.token != "" {
		got := r.Header.Get("Authorization")
		if subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+h.token)) != 1 {
			writeJSON(w, http.StatusUnauthorized, errorBody{Error: "missing or wrong admin token"})
			return
		}
	}
	h.mux.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	var re *RequestError
	switch {
	case errors.Is(err, errTooLarge):
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: err.Error()})
	case errors.As(err, &re):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: re.Msg, Known: re.Known})
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, errorBody{Error: err.Error()})
	default:
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: err.Error()})
	}
}

// maxRequestBody caps an admin request body.
const maxRequestBody = 1 << 20

// errTooLarge: the request body exceeded maxRequestBody (answered 413).
var errTooLarge = fmt.Errorf("request body larger than %d bytes", maxRequestBody)

func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return errTooLarge
		}
		return badf("cannot decode request body: %v", err)
	}
	return nil
}

func (h *handler) query(w http.ResponseWriter, r *http.Request) {
	var req Request
	if err := decode(w, r, &req); err != nil {
		writeErr(w, err)
		return
	}
	var res Result
	err := h.db.View(func(tx *store.Tx) error {
		var err error
		res, err = Run(tx, req, h.now())
		return err
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (h *handler) show(w http.ResponseWriter, r *http.Request) {
	var req ShowRequest
	if err := decode(w, r, &req); err != nil {
		writeErr(w, err)
		return
	}
	var v ContactView
	err := h.db.View(func(tx *store.Tx) error {
		var err error
		v, err = ShowContact(tx, req.Contact)
		return err
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *handler) check(w http.ResponseWriter, _ *http.Request) {
	err := h.db.Check()
	var ce *store.CheckError
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, CheckResponse{OK: true})
	case errors.As(err, &ce):
		writeJSON(w, http.StatusOK, CheckResponse{Problems: ce.Problems, Error: ce.Error()})
	default:
		writeErr(w, err)
	}
}

func (h *handler) backup(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	// Errors after the first byte cannot change the status; the client verifies the copy.
	_ = h.db.Backup(w)
}

// ErrUnreachable: the admin endpoint named in the admin file did not answer.
var ErrUnreachable = errors.New("admin endpoint did not answer")

// Client calls a running service's admin endpoint, authenticated with the admin file's token.
// Safe for concurrent use. Every call fails with ErrUnreachable when the endpoint does not
// answer (the service is not running, or another one owns the address), with a *RequestError
// (ErrBadRequest) when the service refused the request, and with store.ErrNotFound when what
// it names does not exist.
type Client struct {
	info store.AdminInfo
	http *http.Client
}

// NewClient returns a client for the endpoint in info; every call, its whole answer included,
// is bounded by timeout. It does no I/O.
func NewClient(info store.AdminInfo, timeout time.Duration) *Client {
	return &Client{info: info, http: &http.Client{Timeout: timeout}}
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("cannot encode admin request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.info.Addr+path, rd)
	if err != nil {
		return fmt.Errorf("cannot build admin request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.info.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.info.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %w: %v", c.info, ErrUnreachable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&eb)
		switch resp.StatusCode {
		case http.StatusBadRequest:
			return &RequestError{Msg: eb.Error, Known: eb.Known}
		case http.StatusNotFound:
			return fmt.Errorf("%s: %w", eb.Error, store.ErrNotFound)
		}
		return fmt.Errorf("admin endpoint %s answered %s: %s", c.info.Addr, resp.Status, eb.Error)
	}
	if w, ok := out.(io.Writer); ok {
		if _, err := io.Copy(w, resp.Body); err != nil {
			return fmt.Errorf("cannot read admin response: %w", err)
		}
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("cannot decode admin response: %w", err)
	}
	return nil
}

// Query runs req on the service's mirror, the same request `ptsync query` runs offline.
func (c *Client) Query(ctx context.Context, req Request) (Result, error) {
	var res Result
	return res, c.do(ctx, http.MethodPost, "/admin/query", req, &res)
}

// Show fetches the view of a contact by id or email (store.ErrNotFound when neither matches).
func (c *Client) Show(ctx context.Context, ref string) (ContactView, error) {
	var v ContactView
	return v, c.do(ctx, http.MethodPost, "/admin/show", ShowRequest{Contact: ref}, &v)
}

// Check runs the mirror check in the service, which holds the file; problems found are in the
// response, not an error.
func (c *Client) Check(ctx context.Context) (CheckResponse, error) {
	var r CheckResponse
	return r, c.do(ctx, http.MethodPost, "/admin/check", struct{}{}, &r)
}

// Backup streams a consistent copy of the mirror (as of one moment) into w. Danger:
// NewClient's timeout bounds the whole transfer, so a large mirror needs a timeout long
// enough to copy it; a cut transfer leaves w truncated and returns an error.
func (c *Client) Backup(ctx context.Context, w io.Writer) error {
	return c.do(ctx, http.MethodGet, "/admin/backup", nil, w)
}
