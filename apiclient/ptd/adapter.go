// Package ptd is the PT Distinction side of ptsync: one Adapter interface with declared
// capabilities, and the drivers behind it, each described by a Driver (its name in
// config.hcl, how to open it, what it declares without I/O, what it receives) that its own
// file registers (driverFiles), so Drivers lists every driver without a list to edit. Opening the configured driver (Open, or Registry.Open on a registry a test has
// extended) and DeclaredCapabilities are all the service and `ptsync plan` call; events PT
// Distinction pushes reach the replicator as driver-neutral Event values.
//
//   - REST speaks the contract this project defines in docs/ptd-rest.md for a PTD partner API
//     or an in-house bridge: cursor listing, ETag/If-Match updates, tasks, notes, groups,
//     packages, appointments and reminders.
//   - Zapier speaks the route PTD offers today: POSTs to Zapier catch hooks that run PTD's
//     actions (add client, add to group, assign package, print only, reminder), and an inbound
//     TriggerHandler for PTD's Zapier triggers.
//
// PTD has no public API, so drivers differ widely in what they can do. Callers check
// Capabilities (or Require) before calling; a call a driver cannot serve returns an error
// wrapping ErrUnsupported and naming the capability, without any I/O, so the replicator can
// skip it and count it once instead of faking it.
package ptd

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"time"

	"ptsync/apiclient/ptdwire"
	"ptsync/internal/secret"
)

// Capability is one thing a PTD driver may be able to do.
type Capability uint8

// Capabilities a driver can declare. The REST driver takes them from GET /v1/capabilities;
// the Zapier driver from the catch hooks it was configured with.
const (
	CapClientRead   Capability = iota // list (cursor), get and find clients by email
	CapClientCreate                   // create clients
	CapClientUpdate                   // patch client fields with If-Match
	CapTags                           // add/remove tags as deltas
	CapGroups                         // add clients to groups
	CapGroupRemove                    // remove clients from groups
	CapPackages                       // assign packages
	CapCatalog                        // list groups and packages
	CapAccess                         // set access to online or print_only
	CapPrintOnly                      // set access to print_only only (implied by CapAccess)
	CapTasks                          // task CRUD
	CapNotes                          // note CRUD
	CapAppointments                   // appointment upsert and listing
	CapReminders                      // reminders with idempotency keys
	CapUpdateEvents                   // the driver reports changes made in PTD (cursor listing)
	numCaps
)

// capNames are the capabilities' stable names, in declaration order.
func capNames() [numCaps]string {
	return [numCaps]string{"clients.read", "clients.create", "clients.update", "tags", "groups",
		"groups.remove", "packages", "catalog", "access", "access.print_only", "tasks", "notes",
		"appointments", "reminders", "update_events"}
}

// AllCapabilities lists every capability a driver can declare, in declaration order.
func AllCapabilities() []Capability {
	out := make([]Capability, numCaps)
	for i := range out {
		out[i] = Capability(i)
	}
	return out
}

// String returns the capability's stable name, used in logs, metrics and errors.
func (c Capability) String() string {
	if c < numCaps {
		return capNames()[c]
	}
	return fmt.Sprintf("capability(%d)", uint8(c))
}

// Capabilities is an immutable set of Capability values; the zero value is empty.
type Capabilities struct{ bits uint32 }

// NewCapabilities returns the set of cs.
func NewCapabilities(cs ...Capability) Capabilities {
	var s Capabilities
	for _, c := range cs {
		s.bits |= 1 << c
	}
	return s
}

// Has reports whether c is in the set. CapAccess implies CapPrintOnly.
func (s Capabilities) Has(c Capability) bool {
	if c == CapPrintOnly && s.bits&(1<<CapAccess) != 0 {
		return true
	}
	return c < numCaps && s.bits&(1<<c) != 0
}

// List returns the capabilities in the set, in declaration order.
func (s Capabilities) List() []Capability {
	out := make([]Capability, 0, bits.OnesCount32(s.bits))
	for c := range numCaps {
		if s.bits&(1<<c) != 0 {
			out = append(out, c)
		}
	}
	return out
}

// String lists the names, comma-separated.
func (s Capabilities) String() string {
	names := make([]string, 0, numCaps)
	for _, c := range s.List() {
		names = append(names, c.String())
	}
	return strings.Join(names, ",")
}

// FromWire maps the contract's GET /v1/capabilities body to a set. The wire "clients" flag
// grants read, create and update; "groups" grants adding and removing.
func FromWire(w ptdwire.Capabilities) Capabilities {
	var cs []Capability
	add := func(ok bool, c ...Capability) {
		if ok {
			cs = append(cs, c...)
		}
	}
	add(w.Clients, CapClientRead, CapClientCreate, CapClientUpdate)
	add(w.Tags, CapTags)
	add(w.Groups, CapGroups, CapGroupRemove, CapCatalog)
	add(w.Packages, CapPackages, CapCatalog)
	add(w.Access, CapAccess)
	add(w.Tasks, CapTasks)
	add(w.Notes, CapNotes)
	add(w.Appointments, CapAppointments)
	add(w.Reminders, CapReminders)
	add(w.UpdateEvents, CapUpdateEvents)
	return NewCapabilities(cs...)
}

// Require returns nil when a declares c, otherwise an *UnsupportedError (errors.Is
// ErrUnsupported). It does no I/O.
func Require(a interface{ Capabilities() Capabilities }, c Capability) error {
	if a.Capabilities().Has(c) {
		return nil
	}
	return &UnsupportedError{Cap: c}
}

// Adapter is the PT Distinction side as the replicator sees it. Implementations are safe for
// concurrent use. Every method that needs a capability the driver lacks returns an error
// wrapping ErrUnsupported at once, without I/O.
//
// Errors from the remote side are *APIError values that unwrap to the sentinels below
// (ErrNotFound, ErrExists, ErrPreconditionFailed, ...). Client ids are opaque strings; in the
// Zapier driver a client's id is its normalized email, the only key that route has.
type Adapter interface {
	// Capabilities returns what the driver can do; it never does I/O.
	Capabilities() Capabilities

	// ListClientsPage returns clients changed strictly after cursor ("" = from the start),
	// ordered by (updatedAt, id); NextCursor is "" on the last page. limit is 1..500. The
	// page's Date is the server's clock when it answered, zero when the driver cannot tell.
	ListClientsPage(ctx context.Context, cursor string, limit int) (ptdwire.ClientPage, error)
	// GetClient returns one client with its current ETag.
	GetClient(ctx context.Context, id string) (ptdwire.Client, error)
	// FindClientByEmail returns the client whose normalized email equals email's, or nil, nil
	// when there is none: the look-up before retrying a create whose outcome is unknown.
	FindClientByEmail(ctx context.Context, email string) (*ptdwire.Client, error)
	// CreateClient creates a client. A taken email yields an error wrapping ErrExists whose
	// *APIError carries ExistingID. Not retried on an unknown outcome: look up first.
	CreateClient(ctx context.Context, in ptdwire.ClientInput) (ptdwire.Client, error)
	// UpdateClient patches a client if its ETag still equals etag; a lost race yields
	// ErrPreconditionFailed (re-read, re-merge, retry).
	UpdateClient(ctx context.Context, id, etag string, in ptdwire.ClientInput) (ptdwire.Client, error)

	// AddTags and RemoveTags apply tag deltas; repeating one is harmless.
	AddTags(ctx context.Context, id string, tags []string) (ptdwire.Client, error)
	RemoveTags(ctx context.Context, id string, tags []string) (ptdwire.Client, error)
	// ListGroups and ListPackages return PTD's catalogue.
	ListGroups(ctx context.Context) ([]ptdwire.Group, error)
	ListPackages(ctx context.Context) ([]ptdwire.Package, error)
	// AddToGroup, RemoveFromGroup and AssignPackage are idempotent membership changes.
	// The Zapier driver passes the group or package reference through as configured.
	AddToGroup(ctx context.Context, clientID, groupID string) error
	RemoveFromGroup(ctx context.Context, clientID, groupID string) error
	AssignPackage(ctx context.Context, clientID, packageID string) error
	// SetAccess sets ptdwire.AccessOnline or ptdwire.AccessPrintOnly (idempotent).
	SetAccess(ctx context.Context, clientID, access string) error

	// Tasks. DeleteTask of a task already gone succeeds.
	ListTasks(ctx context.Context, clientID string) ([]ptdwire.Task, error)
	CreateTask(ctx context.Context, clientID string, in ptdwire.TaskInput) (ptdwire.Task, error)
	UpdateTask(ctx context.Context, taskID string, in ptdwire.TaskInput) (ptdwire.Task, error)
	DeleteTask(ctx context.Context, taskID string) error
	// Notes. DeleteNote of a note already gone succeeds.
	ListNotes(ctx context.Context, clientID string) ([]ptdwire.Note, error)
	CreateNote(ctx context.Context, clientID string, in ptdwire.NoteInput) (ptdwire.Note, error)
	UpdateNote(ctx context.Context, noteID string, in ptdwire.NoteInput) (ptdwire.Note, error)
	DeleteNote(ctx context.Context, noteID string) error

	// UpsertAppointment creates or replaces the appointment keyed by a.ExternalID (the
	// HighLevel id); repeating it is harmless.
	UpsertAppointment(ctx context.Context, clientID string, a ptdwire.Appointment) (ptdwire.Appointment, error)
	ListAppointments(ctx context.Context, clientID string) ([]ptdwire.Appointment, error)
	// SendReminder sends r once per r.IdempotencyKey (required): a repeat returns the original.
	SendReminder(ctx context.Context, r ptdwire.Reminder) (ptdwire.Reminder, error)
}

// Sentinel errors callers test with errors.Is.
var (
	// ErrUnsupported: the driver lacks the capability; nothing was sent.
	ErrUnsupported = errors.New("unsupported by this ptd driver")
	// ErrInvalidInput: the call's arguments were refused before any I/O.
	ErrInvalidInput = errors.New("invalid input")
	// ErrUnauthorized: 401, the API key or shared secret is wrong.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound: 404.
	ErrNotFound = errors.New("not found")
	// ErrExists: 409, a client with this email exists (see APIError.ExistingID).
	ErrExists = errors.New("already exists")
	// ErrPreconditionFailed: 412, the ETag no longer matches (a lost race).
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrPreconditionRequired: 428, an update was sent without If-Match.
	ErrPreconditionRequired = errors.New("precondition required")
	// ErrRateLimited: 429 after the retries were spent.
	ErrRateLimited = errors.New("rate limited")
	// ErrBadRequest: 400, 413 or 422, the server refused the input.
	ErrBadRequest = errors.New("bad request")
	// ErrServer: 5xx after the retries were spent, or a malformed response.
	ErrServer = errors.New("server error")
)

// UnsupportedError names the missing capability. It unwraps to ErrUnsupported.
type UnsupportedError struct{ Cap Capability }

// Error names the capability the driver lacks; it carries no secret.
func (e *UnsupportedError) Error() string {
	return "ptd driver cannot " + e.Cap.String() + ": " + ErrUnsupported.Error()
}

// Unwrap returns ErrUnsupported.
func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }

func unsupported(op string, c Capability) error {
	return fmt.Errorf("cannot %s: %w", op, &UnsupportedError{Cap: c})
}

// APIError is a non-2xx answer from the PTD side, named by operation ("update client").
type APIError struct {
	Op         string
	Status     int
	Code       string // ptdwire.Error.Code, when the body had one
	Message    string
	ExistingID string // on 409: the client that holds the email
	// Attempts is how many requests were made, retries included.
	Attempts int
	// RetryAfter is the server's Retry-After on a final 429 or 503 (0 when absent): the
	// driver gave up because it exceeded RESTOptions.MaxRetryAfter or the retries ran out.
	RetryAfter time.Duration
}

// Error reads "cannot <op>: ptd answered <status> [code]: <message> (after n attempts)"; the
// message is PTD's and carries no credential of ptsync's.
func (e *APIError) Error() string {
	msg := fmt.Sprintf("cannot %s: ptd answered %d", e.Op, e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return msg
}

// Unwrap maps the status to a sentinel: 401 and 403 ErrUnauthorized, 404 ErrNotFound, 409
// ErrExists, 412 ErrPreconditionFailed, 428 ErrPreconditionRequired, 429 ErrRateLimited, 5xx
// ErrServer, any other 4xx ErrBadRequest.
func (e *APIError) Unwrap() error {
	switch {
	case e.Status == 401 || e.Status == 403:
		return ErrUnauthorized
	case e.Status == 404:
		return ErrNotFound
	case e.Status == 409:
		return ErrExists
	case e.Status == 412:
		return ErrPreconditionFailed
	case e.Status == 428:
		return ErrPreconditionRequired
	case e.Status == 429:
		return ErrRateLimited
	case e.Status >= 500:
		return ErrServer
	case e.Status >= 400:
		return ErrBadRequest
	}
	return nil
}

// ExistingID returns the id of the client holding the email when err is a 409 from
// CreateClient or UpdateClient.
func ExistingID(err error) (string, bool) {
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == 409 && ae.ExistingID != "" {
		return ae.ExistingID, true
	}
	return "", false
}

// Secret holds an API key, a hook URL or a shared secret: the project's one secret type (see
// package internal/secret). Every printing path yields "[redacted]", only Reveal returns the
// value, and reflection cannot print it, so logging a *REST or a *Zapier does not leak what
// they hold. Build one with secret.New.
type Secret = secret.Secret

// NormalizeEmail is PTD's email key: trimmed and lower-cased.
func NormalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }
