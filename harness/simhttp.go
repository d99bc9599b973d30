package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptdwire"
	"ptsync/harness/convergence"
	"ptsync/sim/ghlsim"
)

// ErrSimRefused is returned (wrapped in *SimError) when a simulator answers a control request
// with a non-2xx status.
var ErrSimRefused = errors.New("simulator refused the request")

// SimError is a refused control request: which one, the status and the body's start.
type SimError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *SimError) Error() string {
	return fmt.Sprintf("cannot %s %s: status %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// Unwrap makes errors.Is(err, ErrSimRefused) true.
func (e *SimError) Unwrap() error { return ErrSimRefused }

// simHTTP is a JSON client for one simulator. Requests time out after 10 s; the control
// surfaces bypass faults, the PTD /v1/ reads used for snapshots do not (take snapshots with
// faults off).
type simHTTP struct {
	base   string
	bearer string
	hc     *http.Client
}

func newSimHTTP(base, bearer string) *simHTTP {
	return &simHTTP{base: base, bearer: bearer, hc: &http.Client{Timeout: 10 * time.Second}}
}

func (c *simHTTP) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("cannot encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("cannot build %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("cannot %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("cannot read %s %s: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		if len(b) > 300 {
			b = b[:300]
		}
		return &SimError{Method: method, Path: path, Status: res.StatusCode, Body: string(b)}
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("cannot decode %s %s: %w", method, path, err)
		}
	}
	return nil
}

// GHLControl drives the HighLevel simulator's /_sim/ surface (unauthenticated, loopback).
type GHLControl struct{ c *simHTTP }

// NewGHLControl returns a client for the simulator at base (e.g. http://127.0.0.1:8910).
func NewGHLControl(base string) *GHLControl { return &GHLControl{c: newSimHTTP(base, "")} }

// UpdateContact edits a contact as a HighLevel user would; dateUpdated moves.
func (g *GHLControl) UpdateContact(ctx context.Context, id string, in ghlwire.ContactInput) (ghlwire.Contact, error) {
	var out ghlwire.ContactResponse
	err := g.c.do(ctx, "PUT", "/_sim/contacts/"+url.PathEscape(id), in, &out)
	return out.Contact, err
}

// CreateContact creates a contact (the duplicate rule applies).
func (g *GHLControl) CreateContact(ctx context.Context, in ghlwire.ContactInput) (ghlwire.Contact, error) {
	var out ghlwire.ContactResponse
	err := g.c.do(ctx, "POST", "/_sim/contacts", in, &out)
	return out.Contact, err
}

// Tags adds (add) or removes tags and returns the contact's tags.
func (g *GHLControl) Tags(ctx context.Context, id string, add bool, tags ...string) ([]string, error) {
	var out ghlwire.TagsResponse
	method := "POST"
	if !add {
		method = "DELETE"
	}
	err := g.c.do(ctx, method, "/_sim/contacts/"+url.PathEscape(id)+"/tags", ghlwire.TagsInput{Tags: tags}, &out)
	return out.Tags, err
}

// CreateTask adds a task to a contact.
func (g *GHLControl) CreateTask(ctx context.Context, contactID string, in ghlwire.TaskInput) (ghlwire.Task, error) {
	var out ghlwire.TaskResponse
	err := g.c.do(ctx, "POST", "/_sim/contacts/"+url.PathEscape(contactID)+"/tasks", in, &out)
	return out.Task, err
}

// Journal reads the simulator's journal of contact reads and updates.
func (g *GHLControl) Journal(ctx context.Context) ([]ghlsim.JournalEntry, error) {
	var out []ghlsim.JournalEntry
	err := g.c.do(ctx, "GET", "/_sim/journal", nil, &out)
	return out, err
}

// Counters reads the simulator's counters.
func (g *GHLControl) Counters(ctx context.Context) (ghlsim.Counters, error) {
	var out ghlsim.Counters
	err := g.c.do(ctx, "GET", "/_sim/counters", nil, &out)
	return out, err
}

// GHLFaults is the body of POST /_sim/faults (durations as Go strings).
type GHLFaults struct {
	ErrorRate     float64 `json:"errorRate"`
	ResetRate     float64 `json:"resetRate"`
	MalformedRate float64 `json:"malformedRate"`
	LatencyMin    string  `json:"latencyMin,omitempty"`
	LatencyMax    string  `json:"latencyMax,omitempty"`
	// FutureTimestampRate restamps the first contact of that share of search answers
	// 2030-01-01 (ghlsim.Faults.FutureTimestampRate).
	FutureTimestampRate float64 `json:"futureTimestampRate,omitempty"`
}

// SetFaults replaces the random faults; the zero value turns them off.
func (g *GHLControl) SetFaults(ctx context.Context, f GHLFaults) error {
	return g.c.do(ctx, "POST", "/_sim/faults", f, nil)
}

// SetListingFault makes every contact listing and search answer 200 with nothing ("empty"),
// or GET /contacts/ stop after its first page ("first_page"); "" turns it off.
func (g *GHLControl) SetListingFault(ctx context.Context, mode string) error {
	return g.c.do(ctx, "POST", "/_sim/listing-fault?mode="+url.QueryEscape(mode), nil, nil)
}

// SetLimits replaces the simulated rate limits.
func (g *GHLControl) SetLimits(ctx context.Context, burst int, interval time.Duration, daily int, dailyInterval time.Duration) error {
	in := map[string]any{"burstMax": burst, "burstInterval": interval.String(), "dailyMax": daily, "dailyInterval": dailyInterval.String()}
	return g.c.do(ctx, "POST", "/_sim/limits", in, nil)
}

// ExpireEvery makes each OAuth access token die after n API calls (0: off).
func (g *GHLControl) ExpireEvery(ctx context.Context, n int) error {
	return g.c.do(ctx, "POST", fmt.Sprintf("/_sim/expire-every?n=%d", n), nil, nil)
}

// IssueToken creates a new OAuth installation (access and refresh token), as `ptsync auth`
// would obtain after the operator re-installs the app.
func (g *GHLControl) IssueToken(ctx context.Context) (ghlwire.TokenResponse, error) {
	var out ghlwire.TokenResponse
	err := g.c.do(ctx, "POST", "/_sim/tokens", nil, &out)
	return out, err
}

// RevokeRefreshTokens spends every refresh token (tests of the token-gap path).
func (g *GHLControl) RevokeRefreshTokens(ctx context.Context) error {
	return g.c.do(ctx, "POST", "/_sim/revoke-refresh-tokens", nil, nil)
}

// Snapshot reads every contact with its tasks and notes. Between two reads the simulator may
// change; take it when nothing writes.
func (g *GHLControl) Snapshot(ctx context.Context) (*GHLSnapshot, error) {
	var cs []ghlwire.Contact
	if err := g.c.do(ctx, "GET", "/_sim/contacts", nil, &cs); err != nil {
		return nil, err
	}
	s := &GHLSnapshot{contacts: cs, byID: map[string]int{}, tasks: map[string][]ghlwire.Task{}, notes: map[string][]ghlwire.Note{}}
	for i, c := range cs {
		s.byID[c.ID] = i
		var one struct {
			Tasks []ghlwire.Task `json:"tasks"`
			Notes []ghlwire.Note `json:"notes"`
		}
		if err := g.c.do(ctx, "GET", "/_sim/contacts/"+url.PathEscape(c.ID), nil, &one); err != nil {
			return nil, err
		}
		s.tasks[c.ID], s.notes[c.ID] = one.Tasks, one.Notes
	}
	return s, nil
}

// GHLSnapshot is the HighLevel simulator's data at one moment; it satisfies
// convergence.GHLView. Safe for concurrent reads.
type GHLSnapshot struct {
	contacts []ghlwire.Contact
	byID     map[string]int
	tasks    map[string][]ghlwire.Task
	notes    map[string][]ghlwire.Note
}

var _ convergence.GHLView = (*GHLSnapshot)(nil)

// Contacts returns every contact.
func (s *GHLSnapshot) Contacts() []ghlwire.Contact { return s.contacts }

// Contact returns one contact.
func (s *GHLSnapshot) Contact(id string) (ghlwire.Contact, bool) {
	i, ok := s.byID[id]
	if !ok {
		return ghlwire.Contact{}, false
	}
	return s.contacts[i], true
}

// Tasks returns a contact's tasks.
func (s *GHLSnapshot) Tasks(contactID string) []ghlwire.Task { return s.tasks[contactID] }

// Notes returns a contact's notes.
func (s *GHLSnapshot) Notes(contactID string) []ghlwire.Note { return s.notes[contactID] }

// PTDControl drives the PT Distinction simulator's /_sim/ surface (bearer API key).
type PTDControl struct{ c *simHTTP }

// NewPTDControl returns a client for the simulator at base with its API key.
func NewPTDControl(base, apiKey string) *PTDControl { return &PTDControl{c: newSimHTTP(base, apiKey)} }

// EditClient changes a client as a coach would; updatedAt moves.
func (p *PTDControl) EditClient(ctx context.Context, id string, in ptdwire.ClientInput) (ptdwire.Client, error) {
	var out ptdwire.Client
	err := p.c.do(ctx, "PATCH", "/_sim/clients/"+url.PathEscape(id), in, &out)
	return out, err
}

// CreateClient adds a client (an existing email is refused).
func (p *PTDControl) CreateClient(ctx context.Context, in ptdwire.ClientInput) (ptdwire.Client, error) {
	var out ptdwire.Client
	err := p.c.do(ctx, "POST", "/_sim/clients", in, &out)
	return out, err
}

// Tags adds or removes tags on a client.
func (p *PTDControl) Tags(ctx context.Context, id string, add bool, tags ...string) (ptdwire.Client, error) {
	var out ptdwire.Client
	method := "POST"
	if !add {
		method = "DELETE"
	}
	err := p.c.do(ctx, method, "/_sim/clients/"+url.PathEscape(id)+"/tags", ptdwire.TagsInput{Tags: tags}, &out)
	return out, err
}

// CreateTask adds a task for a client.
func (p *PTDControl) CreateTask(ctx context.Context, clientID string, in ptdwire.TaskInput) (ptdwire.Task, error) {
	var out ptdwire.Task
	err := p.c.do(ctx, "POST", "/_sim/clients/"+url.PathEscape(clientID)+"/tasks", in, &out)
	return out, err
}

// PTDFaults is the body of PUT /_sim/faults.
type PTDFaults struct {
	ErrorRate         float64 `json:"errorRate"`
	ErrorStatus       int     `json:"errorStatus,omitempty"`
	LatencyMs         int64   `json:"latencyMs,omitempty"`
	RetryAfterSeconds int64   `json:"retryAfterSeconds,omitempty"`
	// FutureStampRate restamps the first client of that share of listing answers 2030-01-01
	// (ptdsim.Faults.FutureStampRate).
	FutureStampRate float64 `json:"futureStampRate,omitempty"`
}

// SetFaults replaces the injected faults; the zero value turns them off.
func (p *PTDControl) SetFaults(ctx context.Context, f PTDFaults) error {
	return p.c.do(ctx, "PUT", "/_sim/faults", f, nil)
}

// SetListingFault makes the client listing answer 200 with no clients ("empty"); "" turns
// it off.
func (p *PTDControl) SetListingFault(ctx context.Context, mode string) error {
	return p.c.do(ctx, "PUT", "/_sim/listing-fault?mode="+url.QueryEscape(mode), nil, nil)
}

// PTDStats are the PTD simulator's counters.
type PTDStats struct {
	TotalRequests int64 `json:"totalRequests"`
	Writes        int64 `json:"writes"`
	CoachWrites   int64 `json:"coachWrites"`
}

// Stats reads the counters.
func (p *PTDControl) Stats(ctx context.Context) (PTDStats, error) {
	var out PTDStats
	err := p.c.do(ctx, "GET", "/_sim/stats", nil, &out)
	return out, err
}

// Clients lists every client (control surface, no faults).
func (p *PTDControl) Clients(ctx context.Context) ([]ptdwire.Client, error) {
	var page ptdwire.ClientPage
	err := p.c.do(ctx, "GET", "/_sim/clients", nil, &page)
	return page.Clients, err
}

// Snapshot reads every client with its tasks and notes (the children through /v1/: turn
// faults off first).
func (p *PTDControl) Snapshot(ctx context.Context) (*PTDSnapshot, error) {
	cs, err := p.Clients(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].ID < cs[j].ID })
	s := &PTDSnapshot{clients: cs, byID: map[string]int{}, tasks: map[string][]ptdwire.Task{}, notes: map[string][]ptdwire.Note{}}
	for i, c := range cs {
		s.byID[c.ID] = i
		var tl ptdwire.TaskList
		if err := p.c.do(ctx, "GET", "/v1/clients/"+url.PathEscape(c.ID)+"/tasks", nil, &tl); err != nil {
			return nil, err
		}
		var nl ptdwire.NoteList
		if err := p.c.do(ctx, "GET", "/v1/clients/"+url.PathEscape(c.ID)+"/notes", nil, &nl); err != nil {
			return nil, err
		}
		s.tasks[c.ID], s.notes[c.ID] = tl.Tasks, nl.Notes
	}
	return s, nil
}

// PTDSnapshot is the PTD simulator's data at one moment; it satisfies convergence.PTDView.
type PTDSnapshot struct {
	clients []ptdwire.Client
	byID    map[string]int
	tasks   map[string][]ptdwire.Task
	notes   map[string][]ptdwire.Note
}

var _ convergence.PTDView = (*PTDSnapshot)(nil)

// Clients returns every client, ordered by id.
func (s *PTDSnapshot) Clients() []ptdwire.Client { return s.clients }

// Client returns one client.
func (s *PTDSnapshot) Client(id string) (ptdwire.Client, bool) {
	i, ok := s.byID[id]
	if !ok {
		return ptdwire.Client{}, false
	}
	return s.clients[i], true
}

// Tasks returns a client's tasks.
func (s *PTDSnapshot) Tasks(clientID string) []ptdwire.Task { return s.tasks[clientID] }

// Notes returns a client's notes.
func (s *PTDSnapshot) Notes(clientID string) []ptdwire.Note { return s.notes[clientID] }
