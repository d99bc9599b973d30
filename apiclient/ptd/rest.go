package ptd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ptdwire"
	"ptsync/config"
)

// RESTOptions configures the rest driver. BaseURL and APIKey are required.
type RESTOptions struct {
	// BaseURL is the contract's root, e.g. https://bridge.example.com (the driver adds /v1/...).
	BaseURL string
	APIKey  Secret
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	Logger     hclog.Logger
	Clock      func() time.Time
	// Observer receives every request attempt and retry (see Operations for the operation
	// labels); nil discards them.
	Observer Observer
	// MaxRetries is how many times a retryable failure is retried (default 4; -1 disables).
	MaxRetries int
	// BaseBackoff and MaxBackoff bound the full-jitter exponential backoff (250 ms, 30 s).
	BaseBackoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After the driver waits; a longer one fails at once
	// with ErrRateLimited so the scheduler can decide (default 2 min).
	MaxRetryAfter time.Duration
	// MaxBodyBytes caps response bodies (default 8 MiB).
	MaxBodyBytes int64
	// Capabilities, when set, is used instead of asking GET /v1/capabilities in Open.
	Capabilities *Capabilities
	// Sleep waits between attempts; tests replace it. It must return ctx.Err() when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
}

// REST is the driver for the REST contract of docs/ptd-rest.md. It is safe for concurrent use.
//
// Retries: a 429 is always retried (the server did nothing), honouring Retry-After; 5xx and
// transport errors are retried only for idempotent calls (GET, PUT, DELETE, tag deltas,
// conditional PATCH, reminders with their idempotency key), never for creates of clients,
// tasks or notes, whose unknown outcome the caller resolves by looking up first. A retried
// conditional PATCH may answer 412 when the first attempt did land; callers re-read on 412.
type REST struct {
	base  *url.URL
	key   Secret
	hc    *http.Client
	log   hclog.Logger
	clock func() time.Time
	retryPolicy
	maxRA   time.Duration
	maxBody int64

	obs Observer

	fixed bool // capabilities came from RESTOptions

	mu   sync.RWMutex
	caps Capabilities
}

var (
	_ Adapter         = (*REST)(nil)
	_ OperationLister = (*REST)(nil)
)

// allREST is everything the REST contract can offer.
func allREST() Capabilities {
	return NewCapabilities(CapClientRead, CapClientCreate, CapClientUpdate, CapTags, CapGroups,
		CapGroupRemove, CapPackages, CapCatalog, CapAccess, CapTasks, CapNotes, CapAppointments,
		CapReminders, CapUpdateEvents)
}

// REST registers the rest driver (see driverFiles): built from config's rest block
// (config/ptd_rest.go), declaring everything the contract defines until Open has asked the
// server.
func (driverFiles) REST() Driver {
	return Driver{Name: config.DriverREST, Open: openREST, Declared: func(config.PTD) Capabilities { return allREST() }}
}

func openREST(ctx context.Context, cfg config.PTD, deps Deps) (Adapter, error) {
	c := cfg.REST()
	if c == nil {
		return nil, fmt.Errorf("cannot create ptd rest driver: %w: no rest block", ErrInvalidInput)
	}
	r, err := NewREST(RESTOptions{BaseURL: c.BaseURL, APIKey: c.APIKey, HTTPClient: &http.Client{Timeout: c.Timeout},
		Logger: deps.Logger, Clock: deps.Clock, Observer: deps.Observer})
	if err != nil {
		return nil, err
	}
	if err := r.Open(ctx); err != nil {
		// PTD being down at start must not stop HighLevel ingestion: the jobs retry later.
		r.log.Warn("cannot reach pt distinction at start; its jobs will retry", "error", err)
	}
	return r, nil
}

// NewREST validates o and returns a driver. Until Open narrows them, its capabilities are
// o.Capabilities or, when nil, everything the contract defines.
func NewREST(o RESTOptions) (*REST, error) {
	u, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("cannot create ptd rest driver: base url %q must be an absolute http(s) URL", o.BaseURL)
	}
	if o.APIKey.IsZero() {
		return nil, fmt.Errorf("cannot create ptd rest driver: %w: api key is empty", ErrInvalidInput)
	}
	r := &REST{base: u, key: o.APIKey, hc: orDefaultHTTP(o.HTTPClient), log: orNullLogger(o.Logger), clock: o.Clock,
		maxRA: o.MaxRetryAfter, maxBody: o.MaxBodyBytes, caps: allREST(), obs: orNopObserver(o.Observer),
		retryPolicy: newRetryPolicy(o.Sleep, o.MaxRetries, o.BaseBackoff, o.MaxBackoff, 250*time.Millisecond)}
	if r.clock == nil {
		r.clock = time.Now
	}
	if r.maxRA <= 0 {
		r.maxRA = 2 * time.Minute
	}
	if r.maxBody <= 0 {
		r.maxBody = 8 << 20
	}
	if o.Capabilities != nil {
		r.caps, r.fixed = *o.Capabilities, true
	}
	return r, nil
}

// Operations lists the operation labels the driver reports to its Observer, one per call of
// the contract, so that the service can declare them at start.
func (r *REST) Operations() []string {
	out := make([]string, len(restOps()))
	for i, op := range restOps() {
		out[i] = operationLabel(op)
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Open asks GET /v1/capabilities and narrows Capabilities to what the server declares,
// unless RESTOptions.Capabilities was given. Safe to call again to refresh.
func (r *REST) Open(ctx context.Context) error {
	if r.fixedCaps() {
		return nil
	}
	var w ptdwire.Capabilities
	if _, err := r.do(ctx, call{op: "read capabilities", method: http.MethodGet, path: "/v1/capabilities", idempotent: true, out: &w}); err != nil {
		return err
	}
	r.mu.Lock()
	r.caps = FromWire(w)
	r.mu.Unlock()
	r.log.Debug("ptd capabilities", "capabilities", FromWire(w).String())
	return nil
}

func (r *REST) fixedCaps() bool { return r.fixed }

// Close releases idle connections. Safe to call more than once and after a failed Open.
func (r *REST) Close(context.Context) error {
	r.hc.CloseIdleConnections()
	return nil
}

// Capabilities returns the current set (see NewREST and Open).
func (r *REST) Capabilities() Capabilities {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.caps
}

type call struct {
	op         string
	method     string
	path       string
	query      url.Values
	body       any
	ifMatch    string
	idempotent bool
	out        any
}

// do runs one contract call with retries. It returns the final response headers.
func (r *REST) do(ctx context.Context, c call) (http.Header, error) {
	var payload []byte
	if c.body != nil {
		b, err := json.Marshal(c.body)
		if err != nil {
			return nil, fmt.Errorf("cannot %s: cannot encode request: %w", c.op, err)
		}
		payload = b
	}
	target := r.base.String() + c.path // ids in c.path are already path-escaped
	if len(c.query) > 0 {
		target += "?" + c.query.Encode()
	}
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, c.method, target, bytes.NewReader(payload))
		if err != nil {
			return nil, fmt.Errorf("cannot %s: cannot build request: %w", c.op, err)
		}
		req.Header.Set("Authorization", "Bearer "+r.key.Reveal())
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "ptsync")
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.ifMatch != "" {
			req.Header.Set("If-Match", c.ifMatch)
		}
		start := r.clock()
		resp, err := r.hc.Do(req)
		if err != nil {
			r.obs.ObserveRequest(operationLabel(c.op), 0, r.clock().Sub(start))
			if ctx.Err() != nil {
				return nil, fmt.Errorf("cannot %s: %w", c.op, ctx.Err())
			}
			if c.idempotent && attempt <= r.retries {
				if werr := r.wait(ctx, c.op, attempt, 0, transportReason(err), err); werr != nil {
					return nil, werr
				}
				continue
			}
			return nil, fmt.Errorf("cannot %s: %w", c.op, err)
		}
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, r.maxBody+1))
		resp.Body.Close()
		r.obs.ObserveRequest(operationLabel(c.op), resp.StatusCode, r.clock().Sub(start))
		if rerr == nil && int64(len(body)) > r.maxBody {
			rerr = fmt.Errorf("response body exceeds %d bytes", r.maxBody)
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			if rerr != nil {
				return nil, fmt.Errorf("cannot %s: %w: %w", c.op, ErrServer, rerr)
			}
			if c.out != nil {
				if err := json.Unmarshal(body, c.out); err != nil {
					return nil, fmt.Errorf("cannot %s: %w: malformed response body: %w", c.op, ErrServer, err)
				}
			}
			return resp.Header, nil
		}
		ra, hasRA := r.retryAfter(resp.Header.Get("Retry-After"))
		retryable := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 && c.idempotent
		if retryable && attempt <= r.retries {
			if !hasRA || ra <= r.maxRA {
				if werr := r.wait(ctx, c.op, attempt, ra, statusReason(resp.StatusCode), nil); werr != nil {
					return nil, werr
				}
				continue
			}
		}
		ae := &APIError{Op: c.op, Status: resp.StatusCode, Attempts: attempt, RetryAfter: ra}
		var we ptdwire.Error
		if json.Unmarshal(body, &we) == nil {
			ae.Code, ae.Message, ae.ExistingID = we.Code, we.Message, we.ExistingID
		}
		return nil, ae
	}
}

// wait sleeps before retry attempt+1: Retry-After when given, else full-jitter backoff. why is
// the retry reason reported to the Observer.
func (r *REST) wait(ctx context.Context, op string, attempt int, retryAfter time.Duration, why string, cause error) error {
	d := r.delay(attempt, retryAfter)
	r.obs.ObserveRetry(operationLabel(op), why)
	r.log.Debug("retrying ptd call", "op", op, "attempt", attempt, "reason", why, "wait", d, "error", cause)
	if err := r.sleep(ctx, d); err != nil {
		return fmt.Errorf("cannot %s: %w", op, err)
	}
	return nil
}

// retryAfter parses a Retry-After header (seconds or an HTTP date).
func (r *REST) retryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(r.clock()), 0), true
	}
	return 0, false
}

func (r *REST) need(op string, c Capability) error {
	if !r.Capabilities().Has(c) {
		return unsupported(op, c)
	}
	return nil
}

// idArg is an argument a call cannot do without, named for needID's error.
type idArg struct{ what, value string }

// precheck fails fast, without I/O, when the driver lacks capability c (need) or one of ids is
// empty (needID), in that order.
func (r *REST) precheck(op string, c Capability, ids ...idArg) error {
	if err := r.need(op, c); err != nil {
		return err
	}
	for _, id := range ids {
		if err := needID(op, id.what, id.value); err != nil {
			return err
		}
	}
	return nil
}

func needID(op, what, id string) error {
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("cannot %s: %w: %s is empty", op, ErrInvalidInput, what)
	}
	return nil
}

func esc(s string) string { return url.PathEscape(s) }

// ListClientsPage implements Adapter (GET /v1/clients?updatedAfter=&limit=).
func (r *REST) ListClientsPage(ctx context.Context, cursor string, limit int) (ptdwire.ClientPage, error) {
	const op = "list clients"
	var page ptdwire.ClientPage
	if err := r.need(op, CapClientRead); err != nil {
		return page, err
	}
	if limit < 1 || limit > 500 {
		return page, fmt.Errorf("cannot %s: %w: limit %d is outside 1..500", op, ErrInvalidInput, limit)
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if cursor != "" {
		q.Set("updatedAfter", cursor)
	}
	h, err := r.do(ctx, call{op: op, method: http.MethodGet, path: "/v1/clients", query: q, idempotent: true, out: &page})
	if err == nil {
		if t, perr := http.ParseTime(h.Get("Date")); perr == nil {
			page.Date = t.UTC()
		}
	}
	if err == nil && page.NextCursor == cursor && cursor != "" {
		return page, fmt.Errorf("cannot %s: %w: server repeated cursor %q", op, ErrServer, cursor)
	}
	return page, err
}

func (r *REST) clientCall(ctx context.Context, c call) (ptdwire.Client, error) {
	var out ptdwire.Client
	c.out = &out
	h, err := r.do(ctx, c)
	if err != nil {
		return ptdwire.Client{}, err
	}
	if et := h.Get("ETag"); et != "" {
		out.ETag = et
	}
	return out, nil
}

// GetClient implements Adapter (GET /v1/clients/{id}); the result's ETag is the header's.
func (r *REST) GetClient(ctx context.Context, id string) (ptdwire.Client, error) {
	const op = "get client"
	if err := r.precheck(op, CapClientRead, idArg{"client id", id}); err != nil {
		return ptdwire.Client{}, err
	}
	return r.clientCall(ctx, call{op: op, method: http.MethodGet, path: "/v1/clients/" + esc(id), idempotent: true})
}

// FindClientByEmail implements Adapter (GET /v1/clients?email=).
func (r *REST) FindClientByEmail(ctx context.Context, email string) (*ptdwire.Client, error) {
	const op = "find client by email"
	if err := r.need(op, CapClientRead); err != nil {
		return nil, err
	}
	e := NormalizeEmail(email)
	if e == "" {
		return nil, fmt.Errorf("cannot %s: %w: email is empty", op, ErrInvalidInput)
	}
	var page ptdwire.ClientPage
	if _, err := r.do(ctx, call{op: op, method: http.MethodGet, path: "/v1/clients", query: url.Values{"email": {e}},
		idempotent: true, out: &page}); err != nil {
		return nil, err
	}
	for _, c := range page.Clients {
		if NormalizeEmail(c.Email) == e {
			return &c, nil
		}
	}
	return nil, nil
}

// CreateClient implements Adapter (POST /v1/clients). Only a 429 is retried.
func (r *REST) CreateClient(ctx context.Context, in ptdwire.ClientInput) (ptdwire.Client, error) {
	const op = "create client"
	if err := r.need(op, CapClientCreate); err != nil {
		return ptdwire.Client{}, err
	}
	if in.Email == nil || NormalizeEmail(*in.Email) == "" {
		return ptdwire.Client{}, fmt.Errorf("cannot %s: %w: email is required", op, ErrInvalidInput)
	}
	return r.clientCall(ctx, call{op: op, method: http.MethodPost, path: "/v1/clients", body: in})
}

// UpdateClient implements Adapter (PATCH /v1/clients/{id} with If-Match: etag). An empty etag
// is sent without If-Match and the server answers 428 (ErrPreconditionRequired).
func (r *REST) UpdateClient(ctx context.Context, id, etag string, in ptdwire.ClientInput) (ptdwire.Client, error) {
	const op = "update client"
	if err := r.precheck(op, CapClientUpdate, idArg{"client id", id}); err != nil {
		return ptdwire.Client{}, err
	}
	return r.clientCall(ctx, call{op: op, method: http.MethodPatch, path: "/v1/clients/" + esc(id), body: in,
		ifMatch: etag, idempotent: etag != ""})
}

func (r *REST) tags(ctx context.Context, op, method, id string, tags []string) (ptdwire.Client, error) {
	if err := r.precheck(op, CapTags, idArg{"client id", id}); err != nil {
		return ptdwire.Client{}, err
	}
	if len(tags) == 0 {
		return ptdwire.Client{}, fmt.Errorf("cannot %s: %w: no tags given", op, ErrInvalidInput)
	}
	return r.clientCall(ctx, call{op: op, method: method, path: "/v1/clients/" + esc(id) + "/tags",
		body: ptdwire.TagsInput{Tags: tags}, idempotent: true})
}

// AddTags implements Adapter (POST /v1/clients/{id}/tags).
func (r *REST) AddTags(ctx context.Context, id string, tags []string) (ptdwire.Client, error) {
	return r.tags(ctx, "add tags", http.MethodPost, id, tags)
}

// RemoveTags implements Adapter (DELETE /v1/clients/{id}/tags with a body).
func (r *REST) RemoveTags(ctx context.Context, id string, tags []string) (ptdwire.Client, error) {
	return r.tags(ctx, "remove tags", http.MethodDelete, id, tags)
}

// ListGroups implements Adapter (GET /v1/groups).
func (r *REST) ListGroups(ctx context.Context) ([]ptdwire.Group, error) {
	const op = "list groups"
	if err := r.need(op, CapCatalog); err != nil {
		return nil, err
	}
	var out ptdwire.GroupList
	_, err := r.do(ctx, call{op: op, method: http.MethodGet, path: "/v1/groups", idempotent: true, out: &out})
	return out.Groups, err
}

// ListPackages implements Adapter (GET /v1/packages).
func (r *REST) ListPackages(ctx context.Context) ([]ptdwire.Package, error) {
	const op = "list packages"
	if err := r.need(op, CapCatalog); err != nil {
		return nil, err
	}
	var out ptdwire.PackageList
	_, err := r.do(ctx, call{op: op, method: http.MethodGet, path: "/v1/packages", idempotent: true, out: &out})
	return out.Packages, err
}

func (r *REST) membership(ctx context.Context, op string, c Capability, method, clientID, kind, ref string) error {
	if err := r.precheck(op, c, idArg{"client id", clientID}, idArg{kind + " id", ref}); err != nil {
		return err
	}
	_, err := r.do(ctx, call{op: op, method: method, path: "/v1/clients/" + esc(clientID) + "/" + kind + "s/" + esc(ref), idempotent: true})
	return err
}

// AddToGroup implements Adapter (PUT /v1/clients/{id}/groups/{groupId}).
func (r *REST) AddToGroup(ctx context.Context, clientID, groupID string) error {
	return r.membership(ctx, "add client to group", CapGroups, http.MethodPut, clientID, "group", groupID)
}

// RemoveFromGroup implements Adapter (DELETE /v1/clients/{id}/groups/{groupId}).
func (r *REST) RemoveFromGroup(ctx context.Context, clientID, groupID string) error {
	return r.membership(ctx, "remove client from group", CapGroupRemove, http.MethodDelete, clientID, "group", groupID)
}

// AssignPackage implements Adapter (PUT /v1/clients/{id}/packages/{packageId}).
func (r *REST) AssignPackage(ctx context.Context, clientID, packageID string) error {
	return r.membership(ctx, "assign package", CapPackages, http.MethodPut, clientID, "package", packageID)
}

func accessCap(op, access string) (Capability, error) {
	switch access {
	case ptdwire.AccessPrintOnly:
		return CapPrintOnly, nil
	case ptdwire.AccessOnline:
		return CapAccess, nil
	}
	return 0, fmt.Errorf("cannot %s: %w: access %q is not one of online, print_only", op, ErrInvalidInput, access)
}

// SetAccess implements Adapter (PUT /v1/clients/{id}/access).
func (r *REST) SetAccess(ctx context.Context, clientID, access string) error {
	const op = "set access"
	c, err := accessCap(op, access)
	if err != nil {
		return err
	}
	if err := r.precheck(op, c, idArg{"client id", clientID}); err != nil {
		return err
	}
	_, err = r.do(ctx, call{op: op, method: http.MethodPut, path: "/v1/clients/" + esc(clientID) + "/access",
		body: ptdwire.AccessInput{Access: access}, idempotent: true})
	return err
}

// ListTasks implements Adapter (GET /v1/clients/{id}/tasks).
func (r *REST) ListTasks(ctx context.Context, clientID string) ([]ptdwire.Task, error) {
	const op = "list tasks"
	if err := r.precheck(op, CapTasks, idArg{"client id", clientID}); err != nil {
		return nil, err
	}
	var out ptdwire.TaskList
	_, err := r.do(ctx, call{op: op, method: http.MethodGet, path: "/v1/clients/" + esc(clientID) + "/tasks", idempotent: true, out: &out})
	return out.Tasks, err
}

// CreateTask implements Adapter (POST /v1/clients/{id}/tasks). Only a 429 is retried.
func (r *REST) CreateTask(ctx context.Context, clientID string, in ptdwire.TaskInput) (ptdwire.Task, error) {
	const op = "create task"
	var out ptdwire.Task
	if err := r.precheck(op, CapTasks, idArg{"client id", clientID}); err != nil {
		return out, err
	}
	_, err := r.do(ctx, call{op: op, method: http.MethodPost, path: "/v1/clients/" + esc(clientID) + "/tasks", body: in, out: &out})
	return out, err
}

// UpdateTask implements Adapter (PATCH /v1/tasks/{id}).
func (r *REST) UpdateTask(ctx context.Context, taskID string, in ptdwire.TaskInput) (ptdwire.Task, error) {
	const op = "update task"
	var out ptdwire.Task
	if err := r.precheck(op, CapTasks, idArg{"task id", taskID}); err != nil {
		return out, err
	}
	_, err := r.do(ctx, call{op: op, method: http.MethodPatch, path: "/v1/tasks/" + esc(taskID), body: in, idempotent: true, out: &out})
	return out, err
}

func (r *REST) deleteChild(ctx context.Context, op string, c Capability, kind, id string) error {
	if err := r.precheck(op, c, idArg{kind + " id", id}); err != nil {
		return err
	}
	_, err := r.do(ctx, call{op: op, method: http.MethodDelete, path: "/v1/" + kind + "s/" + esc(id), idempotent: true})
	if errors.Is(err, ErrNotFound) {
		return nil // already gone: the goal of a delete is met
	}
	return err
}

// DeleteTask implements Adapter (DELETE /v1/tasks/{id}); a 404 counts as done.
func (r *REST) DeleteTask(ctx context.Context, taskID string) error {
	return r.deleteChild(ctx, "delete task", CapTasks, "task", taskID)
}

// ListNotes implements Adapter (GET /v1/clients/{id}/notes).
func (r *REST) ListNotes(ctx context.Context, clientID string) ([]ptdwire.Note, error) {
	const op = "list notes"
	if err := r.precheck(op, CapNotes, idArg{"client id", clientID}); err != nil {
		return nil, err
	}
	var out ptdwire.NoteList
	_, err := r.do(ctx, call{op: op, method: http.MethodGet, path: "/v1/clients/" + esc(clientID) + "/notes", idempotent: true, out: &out})
	return out.Notes, err
}

// CreateNote implements Adapter (POST /v1/clients/{id}/notes). Only a 429 is retried.
func (r *REST) CreateNote(ctx context.Context, clientID string, in ptdwire.NoteInput) (ptdwire.Note, error) {
	const op = "create note"
	var out ptdwire.Note
	if err := r.precheck(op, CapNotes, idArg{"client id", clientID}); err != nil {
		return out, err
	}
	_, err := r.do(ctx, call{op: op, method: http.MethodPost, path: "/v1/clients/" + esc(clientID) + "/notes", body: in, out: &out})
	return out, err
}

// UpdateNote implements Adapter (PATCH /v1/notes/{id}).
func (r *REST) UpdateNote(ctx context.Context, noteID string, in ptdwire.NoteInput) (ptdwire.Note, error) {
	const op = "update note"
	var out ptdwire.Note
	if err := r.precheck(op, CapNotes, idArg{"note id", noteID}); err != nil {
		return out, err
	}
	_, err := r.do(ctx, call{op: op, method: http.MethodPatch, path: "/v1/notes/" + esc(noteID), body: in, idempotent: true, out: &out})
	return out, err
}

// DeleteNote implements Adapter (DELETE /v1/notes/{id}); a 404 counts as done.
func (r *REST) DeleteNote(ctx context.Context, noteID string) error {
	return r.deleteChild(ctx, "delete note", CapNotes, "note", noteID)
}

// UpsertAppointment implements Adapter (PUT /v1/clients/{id}/appointments/{externalId}).
func (r *REST) UpsertAppointment(ctx context.Context, clientID string, a ptdwire.Appointment) (ptdwire.Appointment, error) {
	const op = "upsert appointment"
	var out ptdwire.Appointment
	if err := r.precheck(op, CapAppointments, idArg{"client id", clientID}, idArg{"appointment externalId", a.ExternalID}); err != nil {
		return out, err
	}
	in := ptdwire.AppointmentInput{Title: a.Title, StartAt: a.StartAt, EndAt: a.EndAt, Status: a.Status}
	_, err := r.do(ctx, call{op: op, method: http.MethodPut,
		path: "/v1/clients/" + esc(clientID) + "/appointments/" + esc(a.ExternalID), body: in, idempotent: true, out: &out})
	return out, err
}

// ListAppointments implements Adapter (GET /v1/clients/{id}/appointments).
func (r *REST) ListAppointments(ctx context.Context, clientID string) ([]ptdwire.Appointment, error) {
	const op = "list appointments"
	if err := r.precheck(op, CapAppointments, idArg{"client id", clientID}); err != nil {
		return nil, err
	}
	var out ptdwire.AppointmentList
	_, err := r.do(ctx, call{op: op, method: http.MethodGet, path: "/v1/clients/" + esc(clientID) + "/appointments", idempotent: true, out: &out})
	return out.Appointments, err
}

// SendReminder implements Adapter (POST /v1/reminders); retried like an idempotent call
// because the idempotency key makes a repeat harmless.
func (r *REST) SendReminder(ctx context.Context, rem ptdwire.Reminder) (ptdwire.Reminder, error) {
	const op = "send reminder"
	var out ptdwire.Reminder
	if err := r.precheck(op, CapReminders, idArg{"reminder idempotencyKey", rem.IdempotencyKey}, idArg{"reminder clientId", rem.ClientID}); err != nil {
		return out, err
	}
	rem.ID, rem.CreatedAt = "", ""
	_, err := r.do(ctx, call{op: op, method: http.MethodPost, path: "/v1/reminders", body: rem, idempotent: true, out: &out})
	return out, err
}

// retryPolicy is the retry budget and full-jitter exponential backoff both drivers share.
type retryPolicy struct {
	sleep   func(context.Context, time.Duration) error
	retries int
	backoff [2]time.Duration // base, cap
}

// newRetryPolicy applies the drivers' defaults: sleepCtx, 4 retries (a negative count means
// none), base backoff defaultBase, cap 30 s.
func newRetryPolicy(sleep func(context.Context, time.Duration) error, retries int, base, ceil, defaultBase time.Duration) retryPolicy {
	p := retryPolicy{sleep: sleep, retries: retries, backoff: [2]time.Duration{base, ceil}}
	if p.sleep == nil {
		p.sleep = sleepCtx
	}
	if p.retries == 0 {
		p.retries = 4
	} else if p.retries < 0 {
		p.retries = 0
	}
	if p.backoff[0] <= 0 {
		p.backoff[0] = defaultBase
	}
	if p.backoff[1] <= 0 {
		p.backoff[1] = 30 * time.Second
	}
	return p
}

// delay is how long to wait before retry attempt (1-based): d when the server named a wait,
// else a uniformly random wait up to base*2^(attempt-1), capped. Safe for concurrent use.
func (p retryPolicy) delay(attempt int, d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	ceil := p.backoff[0] << min(attempt-1, 20)
	if ceil <= 0 || ceil > p.backoff[1] {
		ceil = p.backoff[1]
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// orDefaultHTTP is hc, or a client with a 30 s timeout when hc is nil.
func orDefaultHTTP(hc *http.Client) *http.Client {
	if hc == nil {
		return &http.Client{Timeout: 30 * time.Second}
	}
	return hc
}

// orNullLogger is log, or a logger that discards when log is nil.
func orNullLogger(log hclog.Logger) hclog.Logger {
	if log == nil {
		return hclog.NewNullLogger()
	}
	return log
}
