// Package ptdsim simulates the PT Distinction REST contract (docs/ptd-rest.md,
// docs/ptd-openapi.yaml) and the Zapier catch hooks of the zapier route.
//
// A Sim holds the whole state of one PTD account in memory: clients, groups, packages, tasks,
// notes, appointments and reminders. It serves the contract over HTTP (Handler, Start) and offers
// a control surface, as a Go API and over HTTP under /_sim/, that edits the account the way a
// coach would in PTD's own UI. Harnesses read it back through snapshot accessors and counters.
//
// Every method of Sim is safe for concurrent use. Snapshots are deep copies: callers may keep
// and modify them freely.
package ptdsim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/mail"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ptdwire"
)

// timeFormat is the contract's timestamp layout: RFC 3339, UTC, milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// MaxPageSize is the largest limit GET /v1/clients accepts.
const MaxPageSize = 500

// DefaultPageSize is the page size GET /v1/clients uses without a limit.
const DefaultPageSize = 100

// Options configures a Sim. The zero value is usable: key "sim-key", wall clock, no logging.
type Options struct {
	// APIKey is the bearer token every /v1/ and /_sim/ request must carry.
	APIKey string
	// Clock supplies "now" for updatedAt stamps. Writes are stamped max(Clock(), last+1ms)
	// so that updatedAt never goes backwards and never repeats across writes.
	Clock func() time.Time
	// Logger receives a debug line per request; nil discards.
	Logger hclog.Logger
	// Seed drives the fault-injection random stream (deterministic per seed).
	Seed uint64
	// Capabilities is what GET /v1/capabilities declares; nil declares everything.
	Capabilities *ptdwire.Capabilities
	// MaxBodyBytes caps request bodies (413 beyond it); 0 means 1 MiB.
	MaxBodyBytes int64
	// IDSpace is put in every id the account makes ("cl_<space>000001"), so the ids of many
	// accounts never collide, as a real service's would not; "" for a single account.
	IDSpace string
}

// Faults are injected into /v1/ requests (never into /_sim/). ErrorRate is the fraction of
// requests answered with ErrorStatus (default 503) before they touch any state; Latency is
// added to every request. RetryAfter, when non-zero, is sent on injected 429 and 503 answers.
type Faults struct {
	ErrorRate   float64
	ErrorStatus int
	Latency     time.Duration
	RetryAfter  time.Duration
	// FutureStampRate is the fraction of client listing answers whose first client shows
	// updatedAt FutureStamp (see futureStampLocked).
	FutureStampRate float64
}

// Stats are the simulator's counters. Requests is keyed by route pattern, e.g.
// "GET /v1/clients/{id}", and counts every request that reached the route, whatever the
// outcome; Writes counts API requests that changed state; CoachWrites counts control-surface
// edits.
type Stats struct {
	Requests      map[string]int64 `json:"requests"`
	TotalRequests int64            `json:"totalRequests"`
	Writes        int64            `json:"writes"`
	CoachWrites   int64            `json:"coachWrites"`
}

// Error is a failed simulator operation: the HTTP status and the ptdwire.Error body the REST
// surface answers with. It unwraps to ErrNotFound, ErrConflict, ErrInvalid or
// ErrPrecondition so Go callers of the control API can test the condition.
type Error struct {
	Status int
	Body   ptdwire.Error
}

// Sentinel conditions that Error unwraps to.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrInvalid      = errors.New("invalid input")
	ErrPrecondition = errors.New("precondition failed")
)

func (e *Error) Error() string {
	return fmt.Sprintf("ptdsim: %d %s: %s", e.Status, e.Body.Code, e.Body.Message)
}

// Unwrap maps the status to a sentinel.
func (e *Error) Unwrap() error {
	switch e.Status {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		return ErrConflict
	case http.StatusPreconditionFailed, http.StatusPreconditionRequired:
		return ErrPrecondition
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return ErrInvalid
	}
	return nil
}

func errf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Body: ptdwire.Error{Code: code, Message: fmt.Sprintf(format, args...)}}
}

type clientRec struct {
	c       ptdwire.Client
	updated time.Time // the exact stamp behind c.UpdatedAt, for cursor ordering
}

type queuedFault struct {
	status     int
	retryAfter time.Duration
}

// Sim is an in-memory PT Distinction account behind the REST contract. Create it with New.
type Sim struct {
	opts   Options
	log    hclog.Logger
	caps   ptdwire.Capabilities
	mux    *http.ServeMux
	apiKey string

	mu        sync.Mutex
	rng       *rand.Rand
	faults    Faults
	queued    []queuedFault
	lastStamp time.Time
	stampFrom time.Time // while Seed runs with SeedOptions.At: the clock writes are stamped by
	version   uint64
	seq       uint64

	clients     map[string]*clientRec
	byEmail     map[string]string // normalized email -> client id
	order       []*clientRec      // sorted by (updated, id) when !orderDirty
	orderDirty  bool
	groups      []ptdwire.Group
	packages    []ptdwire.Package
	tasks       map[string]*ptdwire.Task
	notes       map[string]*ptdwire.Note
	appts       map[string]*ptdwire.Appointment // by externalId
	reminders   map[string]*ptdwire.Reminder    // by idempotency key
	reminderIDs []string                        // idempotency keys in creation order

	// removed holds clients a coach deleted (RemoveClient), listingFault the listing's lie
	// (removal.go).
	removed      map[string]*clientRec
	listingFault ListingFault

	requests      map[string]int64
	totalRequests int64
	writes        int64
	coachWrites   int64
}

// New returns an empty Sim (no clients, groups or packages).
func New(opts Options) *Sim {
	if opts.APIKey == "" {
		opts.APIKey = "sim-key"
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	caps := ptdwire.Capabilities{Clients: true, Groups: true, Packages: true, Access: true, Tags: true,
		Tasks: true, Notes: true, Appointments: true, Reminders: true, UpdateEvents: true}
	if opts.Capabilities != nil {
		caps = *opts.Capabilities
	}
	s := &Sim{
		opts:      opts,
		log:       log,
		caps:      caps,
		apiKey:    opts.APIKey,
		rng:       rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5eed)),
		clients:   make(map[string]*clientRec),
		byEmail:   make(map[string]string),
		tasks:     make(map[string]*ptdwire.Task),
		notes:     make(map[string]*ptdwire.Note),
		appts:     make(map[string]*ptdwire.Appointment),
		reminders: make(map[string]*ptdwire.Reminder),
		requests:  make(map[string]int64),
	}
	s.mux = s.routes()
	return s
}

// APIKey returns the bearer token the simulator expects.
func (s *Sim) APIKey() string { return s.apiKey }

// NormalizeEmail is the contract's email key: trimmed and lower-cased.
func NormalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// ---- state helpers; all *Locked functions require s.mu ----

// stampLocked returns the next write time: never before the previous one, never equal.
func (s *Sim) stampLocked() time.Time {
	now := s.opts.Clock().UTC().Truncate(time.Millisecond)
	if !s.stampFrom.IsZero() {
		now = s.stampFrom
	}
	if !now.After(s.lastStamp) {
		now = s.lastStamp.Add(time.Millisecond)
	}
	s.lastStamp = now
	return now
}

func (s *Sim) nextID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s_%s%06d", prefix, s.opts.IDSpace, s.seq)
}

func (s *Sim) touchLocked(r *clientRec, at time.Time) {
	s.version++
	r.updated = at
	r.c.UpdatedAt = at.Format(timeFormat)
	r.c.ETag = fmt.Sprintf(`"v%d"`, s.version)
	s.orderDirty = true
}

func (s *Sim) clientLocked(id string) (*clientRec, *Error) {
	r, ok := s.clients[id]
	if !ok {
		return nil, errf(http.StatusNotFound, ptdwire.CodeNotFound, "client %q not found", id)
	}
	return r, nil
}

func validEmail(e string) bool {
	if e == "" || len(e) > 254 || strings.ContainsAny(e, " \t\r\n") {
		return false
	}
	a, err := mail.ParseAddress(e)
	return err == nil && a.Address == e && strings.Contains(e, "@")
}

func validTime(field, v string, required bool) *Error {
	if v == "" {
		if required {
			return errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "%s is required", field)
		}
		return nil
	}
	if _, err := time.Parse(time.RFC3339, v); err != nil {
		return errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "%s %q is not an RFC 3339 time", field, v)
	}
	return nil
}

func normTime(v string) string {
	if v == "" {
		return ""
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return v
	}
	return t.UTC().Format(timeFormat)
}

// applyClientInputLocked validates in and applies it to c. create demands email and firstName.
func (s *Sim) applyClientInputLocked(c *ptdwire.Client, in ptdwire.ClientInput, create bool) *Error {
	if in.Email != nil {
		e := NormalizeEmail(*in.Email)
		if !validEmail(e) {
			return errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "email %q is not a valid address", *in.Email)
		}
		if id, ok := s.byEmail[e]; ok && id != c.ID {
			return &Error{Status: http.StatusConflict, Body: ptdwire.Error{Code: ptdwire.CodeEmailExists,
				Message: fmt.Sprintf("a client with email %q already exists", e), ExistingID: id}}
		}
	} else if create {
		return errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "email is required")
	}
	if in.FirstName != nil && strings.TrimSpace(*in.FirstName) == "" || in.FirstName == nil && create {
		return errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "firstName is required and cannot be empty")
	}
	if in.Access != nil && *in.Access != ptdwire.AccessOnline && *in.Access != ptdwire.AccessPrintOnly {
		return errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "access %q is not one of online, print_only", *in.Access)
	}
	if in.Timezone != nil && *in.Timezone != "" {
		if _, err := time.LoadLocation(*in.Timezone); err != nil {
			return errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "timezone %q is not an IANA zone name", *in.Timezone)
		}
	}
	if in.Email != nil {
		e := NormalizeEmail(*in.Email)
		if old := NormalizeEmail(c.Email); old != "" && old != e {
			delete(s.byEmail, old)
		}
		c.Email = e
		if c.ID != "" {
			s.byEmail[e] = c.ID
		}
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&c.FirstName, in.FirstName)
	set(&c.LastName, in.LastName)
	set(&c.Phone, in.Phone)
	set(&c.Gender, in.Gender)
	set(&c.Timezone, in.Timezone)
	set(&c.Access, in.Access)
	if c.Access == "" {
		c.Access = ptdwire.AccessOnline
	}
	return nil
}

func (s *Sim) createClientLocked(in ptdwire.ClientInput, at time.Time) (ptdwire.Client, *Error) {
	c := ptdwire.Client{Groups: []string{}, Packages: []string{}, Tags: []string{}}
	if err := s.applyClientInputLocked(&c, in, true); err != nil {
		return ptdwire.Client{}, err
	}
	c.ID = s.nextID("cl")
	s.byEmail[c.Email] = c.ID
	if at.IsZero() {
		at = s.stampLocked()
	}
	c.CreatedAt = at.Format(timeFormat)
	r := &clientRec{c: c}
	s.clients[c.ID] = r
	s.order = append(s.order, r)
	s.touchLocked(r, at)
	return copyClient(r.c), nil
}

func (s *Sim) updateClientLocked(id, ifMatch string, checkETag bool, in ptdwire.ClientInput) (ptdwire.Client, *Error) {
	r, err := s.clientLocked(id)
	if err != nil {
		return ptdwire.Client{}, err
	}
	if checkETag && ifMatch != r.c.ETag {
		return ptdwire.Client{}, errf(http.StatusPreconditionFailed, ptdwire.CodePreconditionFailed,
			"client %q changed since etag %s (now %s): re-read and retry", id, ifMatch, r.c.ETag)
	}
	c := copyClient(r.c)
	if err := s.applyClientInputLocked(&c, in, false); err != nil {
		return ptdwire.Client{}, err
	}
	r.c = c
	s.touchLocked(r, s.stampLocked())
	return copyClient(r.c), nil
}

// tagsLocked adds or removes tags (trimmed, compared case-insensitively). It stamps the client
// only when membership actually changed, so a repeated delta is a true no-op.
func (s *Sim) tagsLocked(id string, tags []string, add bool) (ptdwire.Client, bool, *Error) {
	r, err := s.clientLocked(id)
	if err != nil {
		return ptdwire.Client{}, false, err
	}
	if len(tags) == 0 {
		return ptdwire.Client{}, false, errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "tags must list at least one tag")
	}
	changed := false
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" {
			return ptdwire.Client{}, false, errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "tags cannot contain an empty tag")
		}
		i := slices.IndexFunc(r.c.Tags, func(x string) bool { return strings.EqualFold(x, t) })
		switch {
		case add && i < 0:
			r.c.Tags = append(r.c.Tags, t)
			changed = true
		case !add && i >= 0:
			r.c.Tags = slices.Delete(r.c.Tags, i, i+1)
			changed = true
		}
	}
	if changed {
		s.touchLocked(r, s.stampLocked())
	}
	return copyClient(r.c), changed, nil
}

func (s *Sim) membershipLocked(id, ref string, packages, add bool) (ptdwire.Client, bool, *Error) {
	r, err := s.clientLocked(id)
	if err != nil {
		return ptdwire.Client{}, false, err
	}
	kind, list := "group", &r.c.Groups
	known := slices.ContainsFunc(s.groups, func(g ptdwire.Group) bool { return g.ID == ref })
	if packages {
		kind, list = "package", &r.c.Packages
		known = slices.ContainsFunc(s.packages, func(p ptdwire.Package) bool { return p.ID == ref })
	}
	if !known {
		return ptdwire.Client{}, false, errf(http.StatusNotFound, ptdwire.CodeNotFound, "%s %q not found", kind, ref)
	}
	i := slices.Index(*list, ref)
	changed := false
	switch {
	case add && i < 0:
		*list = append(*list, ref)
		changed = true
	case !add && i >= 0:
		*list = slices.Delete(*list, i, i+1)
		changed = true
	}
	if changed {
		s.touchLocked(r, s.stampLocked())
	}
	return copyClient(r.c), changed, nil
}

func (s *Sim) createTaskLocked(clientID string, in ptdwire.TaskInput) (ptdwire.Task, *Error) {
	if _, err := s.clientLocked(clientID); err != nil {
		return ptdwire.Task{}, err
	}
	if in.Title == nil || strings.TrimSpace(*in.Title) == "" {
		return ptdwire.Task{}, errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "title is required")
	}
	t := ptdwire.Task{ID: s.nextID("tk"), ClientID: clientID}
	if err := applyTask(&t, in); err != nil {
		return ptdwire.Task{}, err
	}
	now := s.stampLocked().Format(timeFormat)
	t.CreatedAt, t.UpdatedAt = now, now
	s.tasks[t.ID] = &t
	return t, nil
}

func applyTask(t *ptdwire.Task, in ptdwire.TaskInput) *Error {
	if in.Title != nil && strings.TrimSpace(*in.Title) == "" {
		return errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "title cannot be empty")
	}
	if in.DueAt != nil {
		if err := validTime("dueAt", *in.DueAt, false); err != nil {
			return err
		}
		t.DueAt = normTime(*in.DueAt)
	}
	if in.Title != nil {
		t.Title = strings.TrimSpace(*in.Title)
	}
	if in.Body != nil {
		t.Body = *in.Body
	}
	if in.Completed != nil {
		t.Completed = *in.Completed
	}
	return nil
}

func (s *Sim) updateTaskLocked(id string, in ptdwire.TaskInput) (ptdwire.Task, *Error) {
	t, ok := s.tasks[id]
	if !ok {
		return ptdwire.Task{}, errf(http.StatusNotFound, ptdwire.CodeNotFound, "task %q not found", id)
	}
	next := *t
	if err := applyTask(&next, in); err != nil {
		return ptdwire.Task{}, err
	}
	next.UpdatedAt = s.stampLocked().Format(timeFormat)
	*t = next
	return next, nil
}

func (s *Sim) deleteTaskLocked(id string) *Error {
	if _, ok := s.tasks[id]; !ok {
		return errf(http.StatusNotFound, ptdwire.CodeNotFound, "task %q not found", id)
	}
	delete(s.tasks, id)
	return nil
}

func (s *Sim) createNoteLocked(clientID string, in ptdwire.NoteInput) (ptdwire.Note, *Error) {
	if _, err := s.clientLocked(clientID); err != nil {
		return ptdwire.Note{}, err
	}
	if in.Body == nil || strings.TrimSpace(*in.Body) == "" {
		return ptdwire.Note{}, errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "body is required")
	}
	now := s.stampLocked().Format(timeFormat)
	n := ptdwire.Note{ID: s.nextID("nt"), ClientID: clientID, Body: *in.Body, CreatedAt: now, UpdatedAt: now}
	s.notes[n.ID] = &n
	return n, nil
}

func (s *Sim) updateNoteLocked(id string, in ptdwire.NoteInput) (ptdwire.Note, *Error) {
	n, ok := s.notes[id]
	if !ok {
		return ptdwire.Note{}, errf(http.StatusNotFound, ptdwire.CodeNotFound, "note %q not found", id)
	}
	if in.Body != nil {
		if strings.TrimSpace(*in.Body) == "" {
			return ptdwire.Note{}, errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "body cannot be empty")
		}
		n.Body = *in.Body
	}
	n.UpdatedAt = s.stampLocked().Format(timeFormat)
	return *n, nil
}

func (s *Sim) deleteNoteLocked(id string) *Error {
	if _, ok := s.notes[id]; !ok {
		return errf(http.StatusNotFound, ptdwire.CodeNotFound, "note %q not found", id)
	}
	delete(s.notes, id)
	return nil
}

// upsertAppointmentLocked creates or replaces the appointment keyed by externalID. created
// reports whether it was new; an identical replay changes nothing (not even updatedAt).
func (s *Sim) upsertAppointmentLocked(clientID, externalID string, in ptdwire.AppointmentInput) (ptdwire.Appointment, bool, bool, *Error) {
	if _, err := s.clientLocked(clientID); err != nil {
		return ptdwire.Appointment{}, false, false, err
	}
	if strings.TrimSpace(externalID) == "" {
		return ptdwire.Appointment{}, false, false, errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "externalId is required")
	}
	if strings.TrimSpace(in.Title) == "" {
		return ptdwire.Appointment{}, false, false, errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "title is required")
	}
	if err := validTime("startAt", in.StartAt, true); err != nil {
		return ptdwire.Appointment{}, false, false, err
	}
	if err := validTime("endAt", in.EndAt, false); err != nil {
		return ptdwire.Appointment{}, false, false, err
	}
	want := ptdwire.Appointment{ClientID: clientID, ExternalID: externalID, Title: strings.TrimSpace(in.Title),
		StartAt: normTime(in.StartAt), EndAt: normTime(in.EndAt), Status: in.Status}
	a, ok := s.appts[externalID]
	if ok {
		want.ID, want.UpdatedAt = a.ID, a.UpdatedAt
		if want == *a {
			return *a, false, false, nil
		}
		want.UpdatedAt = s.stampLocked().Format(timeFormat)
		*a = want
		return want, false, true, nil
	}
	want.ID = s.nextID("ap")
	want.UpdatedAt = s.stampLocked().Format(timeFormat)
	s.appts[externalID] = &want
	return want, true, true, nil
}

// reminderLocked records r once per idempotency key. A repeat with the same content returns
// the original and created=false; a repeat with different content is a 422.
func (s *Sim) reminderLocked(r ptdwire.Reminder) (ptdwire.Reminder, bool, *Error) {
	if strings.TrimSpace(r.IdempotencyKey) == "" || len(r.IdempotencyKey) > 255 {
		return ptdwire.Reminder{}, false, errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "idempotencyKey is required (1-255 characters)")
	}
	if old, ok := s.reminders[r.IdempotencyKey]; ok {
		if old.ClientID != r.ClientID || old.Message != r.Message || old.DueAt != normTime(r.DueAt) || old.TaskID != r.TaskID {
			return ptdwire.Reminder{}, false, errf(http.StatusUnprocessableEntity, ptdwire.CodeIdempotencyReused,
				"idempotencyKey %q was already used for a different reminder", r.IdempotencyKey)
		}
		return *old, false, nil
	}
	if _, err := s.clientLocked(r.ClientID); err != nil {
		return ptdwire.Reminder{}, false, err
	}
	if strings.TrimSpace(r.Message) == "" {
		return ptdwire.Reminder{}, false, errf(http.StatusBadRequest, ptdwire.CodeInvalidRequest, "message is required")
	}
	if err := validTime("dueAt", r.DueAt, true); err != nil {
		return ptdwire.Reminder{}, false, err
	}
	r.ID = s.nextID("rm")
	r.DueAt = normTime(r.DueAt)
	r.CreatedAt = s.stampLocked().Format(timeFormat)
	s.reminders[r.IdempotencyKey] = &r
	s.reminderIDs = append(s.reminderIDs, r.IdempotencyKey)
	return r, true, nil
}

// sortedLocked returns clients ordered by (updated, id).
func (s *Sim) sortedLocked() []*clientRec {
	if s.orderDirty {
		sort.Slice(s.order, func(i, j int) bool {
			a, b := s.order[i], s.order[j]
			if !a.updated.Equal(b.updated) {
				return a.updated.Before(b.updated)
			}
			return a.c.ID < b.c.ID
		})
		s.orderDirty = false
	}
	return s.order
}

// pageLocked returns up to limit clients strictly after the cursor position.
func (s *Sim) pageLocked(after cursor, limit int) ptdwire.ClientPage {
	all := s.sortedLocked()
	start := 0
	if after.valid {
		start = sort.Search(len(all), func(i int) bool {
			r := all[i]
			return r.updated.After(after.at) || r.updated.Equal(after.at) && r.c.ID > after.id
		})
	}
	end := min(start+limit, len(all))
	page := ptdwire.ClientPage{Clients: make([]ptdwire.Client, 0, end-start)}
	for _, r := range all[start:end] {
		page.Clients = append(page.Clients, copyClient(r.c))
	}
	if end < len(all) && end > start {
		last := all[end-1]
		page.NextCursor = cursor{valid: true, at: last.updated, id: last.c.ID}.encode()
	}
	return page
}

func copyClient(c ptdwire.Client) ptdwire.Client {
	c.Groups = append([]string{}, c.Groups...)
	c.Packages = append([]string{}, c.Packages...)
	c.Tags = append([]string{}, c.Tags...)
	return c
}
