// Package ptdwire holds the JSON shapes of the PT Distinction REST contract that this project
// defines (docs/ptd-rest.md and docs/ptd-openapi.yaml) and of the Zapier catch-hook payloads.
//
// PT Distinction has no public API; the contract is ours, written for a partner API or an
// in-house bridge. Both the rest driver (apiclient/ptd) and the simulator (sim/ptdsim) use these
// types. Times are RFC 3339 in UTC.
package ptdwire

import "time"

// Access levels a PTD client can have.
const (
	AccessOnline    = "online"
	AccessPrintOnly = "print_only"
)

// Client is a PT Distinction client. Email is PTD's unique key (compared lower-cased and
// trimmed). ETag changes on every write to the client (fields, tags, groups, packages, access)
// and is the exact value of the ETag response header, quotes included; updates must send it
// back verbatim in If-Match.
type Client struct {
	ID        string   `json:"id"`
	Email     string   `json:"email"`
	FirstName string   `json:"firstName"`
	LastName  string   `json:"lastName,omitempty"`
	Phone     string   `json:"phone,omitempty"`
	Gender    string   `json:"gender,omitempty"`
	Timezone  string   `json:"timezone,omitempty"`
	Access    string   `json:"access,omitempty"` // online | print_only
	Groups    []string `json:"groups"`           // group ids
	Packages  []string `json:"packages"`         // package ids
	Tags      []string `json:"tags"`             // free labels, the counterpart of HighLevel tags
	CreatedAt string   `json:"createdAt,omitempty"`
	UpdatedAt string   `json:"updatedAt,omitempty"`
	ETag      string   `json:"etag,omitempty"`
}

// ClientInput is the body of POST /v1/clients and PATCH /v1/clients/{id}. Nil fields are left
// alone on PATCH; a pointer to "" clears an optional field (email and firstName cannot be
// cleared). Group, package and tag membership change through their own endpoints.
type ClientInput struct {
	Email     *string `json:"email,omitempty"`
	FirstName *string `json:"firstName,omitempty"`
	LastName  *string `json:"lastName,omitempty"`
	Phone     *string `json:"phone,omitempty"`
	Gender    *string `json:"gender,omitempty"`
	Timezone  *string `json:"timezone,omitempty"`
	Access    *string `json:"access,omitempty"`
	// SendLoginDetails is honoured on create only.
	SendLoginDetails *bool `json:"sendLoginDetails,omitempty"`
}

// ClientPage is the 200 body of GET /v1/clients: clients ordered by (updatedAt, id) ascending,
// strictly after the cursor. NextCursor is empty on the last page.
type ClientPage struct {
	Clients    []Client `json:"clients"`
	NextCursor string   `json:"nextCursor,omitempty"`
	// Date is not in the body: the rest driver sets it from the answer's Date header, the
	// server's clock when it answered (zero when absent), to bound the poll cursor.
	Date time.Time `json:"-"`
}

// Group is a PTD client group.
type Group struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Package is a PTD pre-made package.
type Package struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Task is a coach's task about a client.
type Task struct {
	ID        string `json:"id"`
	ClientID  string `json:"clientId"`
	Title     string `json:"title"`
	Body      string `json:"body,omitempty"`
	DueAt     string `json:"dueAt,omitempty"`
	Completed bool   `json:"completed"`
	CreatedAt string `json:"createdAt,omitempty"`
	UpdatedAt string `json:"updatedAt,omitempty"`
}

// TaskInput creates or patches a task.
type TaskInput struct {
	Title     *string `json:"title,omitempty"`
	Body      *string `json:"body,omitempty"`
	DueAt     *string `json:"dueAt,omitempty"`
	Completed *bool   `json:"completed,omitempty"`
}

// Note is a note on a client.
type Note struct {
	ID        string `json:"id"`
	ClientID  string `json:"clientId"`
	Body      string `json:"body"`
	CreatedAt string `json:"createdAt,omitempty"`
	UpdatedAt string `json:"updatedAt,omitempty"`
}

// NoteInput creates or patches a note.
type NoteInput struct {
	Body *string `json:"body,omitempty"`
}

// Appointment is a session surfaced in PTD's calendar.
type Appointment struct {
	ID         string `json:"id"`
	ClientID   string `json:"clientId"`
	ExternalID string `json:"externalId,omitempty"` // the HighLevel appointment id
	Title      string `json:"title"`
	StartAt    string `json:"startAt"`
	EndAt      string `json:"endAt,omitempty"`
	Status     string `json:"status,omitempty"`
	UpdatedAt  string `json:"updatedAt,omitempty"`
}

// Reminder asks PTD to remind a client about a task. IdempotencyKey makes repeated sends of
// the same reminder a no-op on the server: the repeat answers 200 with the original.
// TaskID and CreatedAt are informational; the server sets ID and CreatedAt.
type Reminder struct {
	ID             string `json:"id,omitempty"`
	ClientID       string `json:"clientId"`
	TaskID         string `json:"taskId,omitempty"`
	Message        string `json:"message"`
	DueAt          string `json:"dueAt"`
	IdempotencyKey string `json:"idempotencyKey"`
	CreatedAt      string `json:"createdAt,omitempty"`
}

// Capabilities is the 200 body of GET /v1/capabilities.
type Capabilities struct {
	Clients      bool `json:"clients"`
	Groups       bool `json:"groups"`
	Packages     bool `json:"packages"`
	Access       bool `json:"access"`
	Tags         bool `json:"tags"`
	Tasks        bool `json:"tasks"`
	Notes        bool `json:"notes"`
	Appointments bool `json:"appointments"`
	Reminders    bool `json:"reminders"`
	UpdateEvents bool `json:"updateEvents"`
}

// Error is the error body of every non-2xx response. ExistingID is set on 409 when a client
// with the same email exists.
type Error struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	ExistingID string `json:"existingId,omitempty"`
}

// ZapierAction is the body ptsync posts to a Zapier catch hook to run a PTD action.
type ZapierAction struct {
	Action           string `json:"action"` // add_client | add_to_group | assign_package | print_only | reminder
	Email            string `json:"email"`
	FirstName        string `json:"first_name,omitempty"`
	LastName         string `json:"last_name,omitempty"`
	Gender           string `json:"gender,omitempty"`
	SendLoginDetails bool   `json:"send_login_details"` // required by PTD's Add Client: false must be sent
	Online           *bool  `json:"online,omitempty"`
	Timezone         string `json:"timezone,omitempty"`
	Group            string `json:"group,omitempty"`
	Package          string `json:"package,omitempty"`
	Message          string `json:"message,omitempty"`
	DueAt            string `json:"due_at,omitempty"`
	IdempotencyKey   string `json:"idempotency_key"`
}

// ZapierTrigger is what a PTD Zapier trigger posts to ptsync's webhook endpoint.
type ZapierTrigger struct {
	// ID identifies the trigger event when the Zap maps one (Zapier's own id); receivers
	// de-duplicate on it when present.
	ID        string `json:"id,omitempty"`
	Trigger   string `json:"trigger"` // client_added | client_added_to_group | package_sign_up
	Email     string `json:"email"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Group     string `json:"group,omitempty"`
	Package   string `json:"package,omitempty"`
	At        string `json:"at,omitempty"`
}

// Zapier action names (ZapierAction.Action), one catch hook each.
const (
	ZapierAddClient     = "add_client"
	ZapierAddToGroup    = "add_to_group"
	ZapierAssignPackage = "assign_package"
	ZapierPrintOnly     = "print_only"
	ZapierReminder      = "reminder"
)

// Zapier trigger names (ZapierTrigger.Trigger).
const (
	TriggerClientAdded        = "client_added"
	TriggerClientAddedToGroup = "client_added_to_group"
	TriggerPackageSignUp      = "package_sign_up"
)

// ZapierHookResponse is what a Zapier catch hook answers to a POST.
type ZapierHookResponse struct {
	Status    string `json:"status"` // "success"
	ID        string `json:"id"`
	RequestID string `json:"request_id,omitempty"`
}

// Error codes of the REST contract (Error.Code).
const (
	CodeUnauthorized         = "unauthorized"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeInvalidRequest       = "invalid_request"
	CodeEmailExists          = "email_exists"
	CodePreconditionFailed   = "precondition_failed"
	CodePreconditionRequired = "precondition_required"
	CodeIdempotencyReused    = "idempotency_key_reused"
	CodeTooLarge             = "request_too_large"
	CodeRateLimited          = "rate_limited"
	CodeInternal             = "internal_error"
	CodeUnavailable          = "unavailable"
)

// TagsInput is the body of POST and DELETE /v1/clients/{id}/tags: a delta, applied idempotently.
type TagsInput struct {
	Tags []string `json:"tags"`
}

// AccessInput is the body of PUT /v1/clients/{id}/access.
type AccessInput struct {
	Access string `json:"access"` // online | print_only
}

// GroupList is the 200 body of GET /v1/groups.
type GroupList struct {
	Groups []Group `json:"groups"`
}

// PackageList is the 200 body of GET /v1/packages.
type PackageList struct {
	Packages []Package `json:"packages"`
}

// TaskList is the 200 body of GET /v1/clients/{id}/tasks.
type TaskList struct {
	Tasks []Task `json:"tasks"`
}

// NoteList is the 200 body of GET /v1/clients/{id}/notes.
type NoteList struct {
	Notes []Note `json:"notes"`
}

// AppointmentList is the 200 body of GET /v1/clients/{id}/appointments.
type AppointmentList struct {
	Appointments []Appointment `json:"appointments"`
}

// AppointmentInput is the body of PUT /v1/clients/{id}/appointments/{externalId}: the whole
// appointment, replacing any previous version with the same externalId.
type AppointmentInput struct {
	Title   string `json:"title"`
	StartAt string `json:"startAt"`
	EndAt   string `json:"endAt,omitempty"`
	Status  string `json:"status,omitempty"`
}
