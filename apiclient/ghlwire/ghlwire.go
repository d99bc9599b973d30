// Package ghlwire holds the JSON shapes of the HighLevel Contacts API v2 as the official
// OpenAPI spec (apps/contacts.json, apps/oauth.json) and the observed quirks define them.
//
// Both the client (apiclient/ghl) and the simulator (sim/ghlsim) use these types, so the two
// cannot drift apart. The types are plain data: no behaviour beyond small helpers, no I/O.
// Decoding is lenient: unknown fields are ignored here and callers keep the raw bytes when
// they need them (the real API returns fields the spec lacks).
package ghlwire

import "encoding/json"

// APIVersion is the value of the Version header every contacts operation requires.
const APIVersion = "2021-07-28"

// Header names used on the wire.
const (
	HeaderVersion       = "Version"
	HeaderAuthorization = "Authorization"

	// Rate-limit headers, spelled exactly as HighLevel documents them.
	HeaderRateLimitDaily          = "X-RateLimit-Limit-Daily"
	HeaderRateLimitDailyRemaining = "X-RateLimit-Daily-Remaining"
	HeaderRateLimitIntervalMillis = "X-RateLimit-Interval-Milliseconds"
	HeaderRateLimitMax            = "X-RateLimit-Max"
	HeaderRateLimitRemaining      = "X-RateLimit-Remaining"
	// HeaderRateLimitDailyReset is undocumented; the official SDK reads it as milliseconds
	// until the daily window resets.
	HeaderRateLimitDailyReset = "X-RateLimit-Daily-Reset"

	// HeaderSignature carries the Ed25519 signature (base64) of a webhook's raw body; HighLevel
	// sends only this one since 2026-07-01.
	HeaderSignature = "X-GHL-Signature"
	// HeaderLegacySignature carries the legacy RSA signature (base64 PKCS#1 v1.5 over SHA-256 of
	// the raw body) that HighLevel's WebhookAuthentication.md documents.
	HeaderLegacySignature = "X-WH-Signature"
)

// Scopes the contacts API distinguishes.
const (
	ScopeContactsReadonly = "contacts.readonly"
	ScopeContactsWrite    = "contacts.write"
)

// Error messages HighLevel returns verbatim; the simulator sends them and the client
// recognises them.
const (
	MsgInvalidToken       = "Invalid token: access token is invalid"
	MsgScopeNotAuthorized = "The token is not authorized for this scope."
	MsgDuplicateContact   = "This location does not allow duplicated contacts."
	// MsgInvalidRefreshToken is the message of the 400 invalid_grant answer to a reused,
	// revoked or unknown refresh token.
	MsgInvalidRefreshToken = "Invalid grant: refresh token is invalid"
	// MsgTooManyRequests is the message of a 429.
	MsgTooManyRequests = "Too many requests"
)

// OAuth error codes (RFC 6749 section 5.2) carried in ErrorBody.Error by POST /oauth/token,
// so golang.org/x/oauth2 recognises them.
const (
	OAuthErrInvalidGrant  = "invalid_grant"
	OAuthErrInvalidClient = "invalid_client"
)

// ErrorBody is the common error DTO. Message is a string for 400/401 and an array of
// strings for 422; it is kept raw so both decode.
type ErrorBody struct {
	StatusCode int             `json:"statusCode"`
	Message    json.RawMessage `json:"message"`
	Error      string          `json:"error,omitempty"`
	// Meta is present on the duplicate-contact 400.
	Meta *DuplicateMeta `json:"meta,omitempty"`
	// TraceID is not in the spec's DTO but the API returns it with every response.
	TraceID string `json:"traceId,omitempty"`
	// ErrorDescription is the RFC 6749 field POST /oauth/token adds to its errors.
	ErrorDescription string `json:"error_description,omitempty"`
}

// Messages returns Message as a list whether the server sent a string or an array.
func (e ErrorBody) Messages() []string {
	if len(e.Message) == 0 {
		return nil
	}
	var one string
	if err := json.Unmarshal(e.Message, &one); err == nil {
		return []string{one}
	}
	var many []string
	if err := json.Unmarshal(e.Message, &many); err == nil {
		return many
	}
	return []string{string(e.Message)}
}

// DuplicateMeta names the existing contact that a create collided with.
type DuplicateMeta struct {
	ContactID     string `json:"contactId"`
	ContactName   string `json:"contactName,omitempty"`
	MatchingField string `json:"matchingField"`
}

// CustomField is a contact's custom field value as returned by GET.
type CustomField struct {
	ID    string `json:"id"`
	Value any    `json:"value,omitempty"`
}

// CustomFieldInput is a custom field as sent on create and update.
type CustomFieldInput struct {
	ID         string `json:"id"`
	Key        string `json:"key,omitempty"`
	FieldValue any    `json:"field_value,omitempty"`
}

// DndChannel is one channel of dndSettings.
type DndChannel struct {
	Status  string `json:"status"` // active | inactive | permanent
	Message string `json:"message,omitempty"`
	Code    string `json:"code,omitempty"`
}

// Contact is the contact object (GetContectByIdSchema, sic) with the fields the sync uses.
// Dates are ISO-8601 strings as sent ("2021-07-02T05:18:26.704Z").
type Contact struct {
	// Raw is the object exactly as received, filled in by the client (never sent).
	Raw                json.RawMessage       `json:"-"`
	ID                 string                `json:"id"`
	LocationID         string                `json:"locationId,omitempty"`
	Name               string                `json:"name,omitempty"`
	FirstName          string                `json:"firstName,omitempty"`
	LastName           string                `json:"lastName,omitempty"`
	FirstNameLowerCase string                `json:"firstNameLowerCase,omitempty"`
	LastNameLowerCase  string                `json:"lastNameLowerCase,omitempty"`
	FullNameLowerCase  string                `json:"fullNameLowerCase,omitempty"`
	Email              string                `json:"email,omitempty"`
	EmailLowerCase     string                `json:"emailLowerCase,omitempty"`
	Phone              string                `json:"phone,omitempty"`
	CompanyName        string                `json:"companyName,omitempty"`
	Timezone           string                `json:"timezone,omitempty"`
	Dnd                bool                  `json:"dnd,omitempty"`
	DndSettings        map[string]DndChannel `json:"dndSettings,omitempty"`
	Type               string                `json:"type,omitempty"`
	Source             string                `json:"source,omitempty"`
	AssignedTo         string                `json:"assignedTo,omitempty"`
	Address1           string                `json:"address1,omitempty"`
	City               string                `json:"city,omitempty"`
	State              string                `json:"state,omitempty"`
	Country            string                `json:"country,omitempty"`
	PostalCode         string                `json:"postalCode,omitempty"`
	Website            string                `json:"website,omitempty"`
	Tags               []string              `json:"tags"`
	DateOfBirth        string                `json:"dateOfBirth,omitempty"`
	DateAdded          string                `json:"dateAdded,omitempty"`
	DateUpdated        string                `json:"dateUpdated,omitempty"`
	LastActivity       string                `json:"lastActivity,omitempty"`
	CustomFields       []CustomField         `json:"customFields,omitempty"`
	BusinessID         string                `json:"businessId,omitempty"`
	// SearchAfter is set only on contacts returned by POST /contacts/search: the cursor to
	// pass as the next request's searchAfter to continue after this row.
	SearchAfter []any `json:"searchAfter,omitempty"`
}

// ContactInput is the body of POST /contacts/, POST /contacts/upsert and PUT /contacts/{id}.
// Pointers distinguish "leave alone" (nil) from "set to empty". On PUT, Tags replaces every
// tag: the sync never sets it there and uses the tag endpoints instead.
type ContactInput struct {
	LocationID   string             `json:"locationId,omitempty"`
	FirstName    *string            `json:"firstName,omitempty"`
	LastName     *string            `json:"lastName,omitempty"`
	Name         *string            `json:"name,omitempty"`
	Email        *string            `json:"email,omitempty"`
	Phone        *string            `json:"phone,omitempty"`
	Gender       *string            `json:"gender,omitempty"`
	Address1     *string            `json:"address1,omitempty"`
	City         *string            `json:"city,omitempty"`
	State        *string            `json:"state,omitempty"`
	PostalCode   *string            `json:"postalCode,omitempty"`
	Website      *string            `json:"website,omitempty"`
	Timezone     *string            `json:"timezone,omitempty"`
	Dnd          *bool              `json:"dnd,omitempty"`
	Tags         []string           `json:"tags,omitempty"`
	Source       *string            `json:"source,omitempty"`
	DateOfBirth  *string            `json:"dateOfBirth,omitempty"`
	Country      *string            `json:"country,omitempty"`
	CompanyName  *string            `json:"companyName,omitempty"`
	AssignedTo   *string            `json:"assignedTo,omitempty"`
	CustomFields []CustomFieldInput `json:"customFields,omitempty"`
	// CreateNewIfDuplicateAllowed is only meaningful on upsert.
	CreateNewIfDuplicateAllowed *bool `json:"createNewIfDuplicateAllowed,omitempty"`
}

// ContactResponse is {contact} from GET /contacts/{id} and 201 POST /contacts/.
type ContactResponse struct {
	Contact Contact `json:"contact"`
}

// UpdateContactResponse is {succeded, contact} from PUT /contacts/{id}.
type UpdateContactResponse struct {
	Succeded bool    `json:"succeded"` // sic: the API spells it this way
	Contact  Contact `json:"contact"`
}

// UpsertContactResponse is the 200 body of POST /contacts/upsert.
type UpsertContactResponse struct {
	New     bool    `json:"new"`
	Contact Contact `json:"contact"`
	TraceID string  `json:"traceId,omitempty"`
}

// SucceededResponse is {"succeded": true} (sic) from deletes.
type SucceededResponse struct {
	Succeded bool `json:"succeded"`
}

// ListMeta is the meta object of GET /contacts/ (the spec's unreferenced ContactsMetaSchema).
type ListMeta struct {
	Total        int     `json:"total"`
	NextPageURL  *string `json:"nextPageUrl"`
	StartAfterID *string `json:"startAfterId"`
	StartAfter   *int64  `json:"startAfter"`
	CurrentPage  int     `json:"currentPage"`
	NextPage     *int    `json:"nextPage"`
	PrevPage     *int    `json:"prevPage"`
}

// ListContactsResponse is the 200 body of the deprecated GET /contacts/.
type ListContactsResponse struct {
	Contacts []Contact `json:"contacts"`
	Count    int       `json:"count"`
	Meta     *ListMeta `json:"meta,omitempty"`
}

// BusinessContactsResponse is the 200 body of GET /contacts/business/{businessId}.
type BusinessContactsResponse struct {
	Contacts []Contact `json:"contacts"`
	Count    int       `json:"count"`
}

// SearchFilter is one filter of POST /contacts/search, or a group of them when Group is set.
type SearchFilter struct {
	Field    string         `json:"field,omitempty"`
	Operator string         `json:"operator,omitempty"` // eq not_eq contains not_contains exists not_exists range
	Value    any            `json:"value,omitempty"`
	Group    string         `json:"group,omitempty"` // AND | OR
	Filters  []SearchFilter `json:"filters,omitempty"`
}

// SearchSort orders search results.
type SearchSort struct {
	Field     string `json:"field"`
	Direction string `json:"direction"` // asc | desc
}

// SearchRequest is the body of POST /contacts/search. LocationID and PageLimit are required
// (422 otherwise). Page and SearchAfter must not be combined.
type SearchRequest struct {
	LocationID  string         `json:"locationId"`
	PageLimit   int            `json:"pageLimit"`
	Page        int            `json:"page,omitempty"`
	SearchAfter []any          `json:"searchAfter,omitempty"`
	Filters     []SearchFilter `json:"filters,omitempty"`
	Sort        []SearchSort   `json:"sort,omitempty"`
	Query       string         `json:"query,omitempty"`
}

// SearchResponse is the 200 body of POST /contacts/search.
type SearchResponse struct {
	Contacts []Contact `json:"contacts"`
	Total    int       `json:"total"`
	TraceID  string    `json:"traceId,omitempty"`
}

// Task is TaskSchema. DueDate is ISO-8601.
type Task struct {
	// Raw is the object exactly as received, filled in by the client (never sent).
	Raw        json.RawMessage `json:"-"`
	ID         string          `json:"id"`
	Title      string          `json:"title"`
	Body       string          `json:"body,omitempty"`
	AssignedTo string          `json:"assignedTo,omitempty"`
	DueDate    string          `json:"dueDate,omitempty"`
	Completed  bool            `json:"completed"`
	ContactID  string          `json:"contactId"`
}

// TaskInput is the body of create-task (Title, DueDate and Completed required) and
// update-task (all optional).
type TaskInput struct {
	Title      *string `json:"title,omitempty"`
	Body       *string `json:"body,omitempty"`
	DueDate    *string `json:"dueDate,omitempty"`
	Completed  *bool   `json:"completed,omitempty"`
	AssignedTo *string `json:"assignedTo,omitempty"`
}

// TaskCompletedInput is the body of PUT .../tasks/{taskId}/completed.
type TaskCompletedInput struct {
	Completed bool `json:"completed"`
}

// TasksResponse is {tasks}; TaskResponse is {task}.
type TasksResponse struct {
	Tasks []Task `json:"tasks"`
}

// TaskResponse is {task}.
type TaskResponse struct {
	Task Task `json:"task"`
}

// Note is GetNoteSchema. Notes have no dateUpdated.
type Note struct {
	// Raw is the object exactly as received, filled in by the client (never sent).
	Raw       json.RawMessage `json:"-"`
	ID        string          `json:"id"`
	Body      string          `json:"body"`
	UserID    string          `json:"userId,omitempty"`
	DateAdded string          `json:"dateAdded,omitempty"`
	ContactID string          `json:"contactId"`
	Title     string          `json:"title,omitempty"`
	Color     string          `json:"color,omitempty"`
	Pinned    bool            `json:"pinned,omitempty"`
}

// NoteInput is NotesDTO (Body required on create) and UpdateNoteDTO.
type NoteInput struct {
	Body   *string `json:"body,omitempty"`
	UserID *string `json:"userId,omitempty"`
	Title  *string `json:"title,omitempty"`
	Color  *string `json:"color,omitempty"`
	Pinned *bool   `json:"pinned,omitempty"`
}

// NotesResponse is {notes}.
type NotesResponse struct {
	Notes []Note `json:"notes"`
}

// NoteResponse is {note}.
type NoteResponse struct {
	Note Note `json:"note"`
}

// Appointment is GetEventSchema. Times are as sent; the spec's examples are
// "2021-07-16 11:00:00", not ISO with a Z, so callers parse both.
type Appointment struct {
	// Raw is the object exactly as received, filled in by the client (never sent).
	Raw               json.RawMessage `json:"-"`
	ID                string          `json:"id"`
	CalendarID        string          `json:"calendarId,omitempty"`
	Status            string          `json:"status,omitempty"`
	Title             string          `json:"title,omitempty"`
	AssignedUserID    string          `json:"assignedUserId,omitempty"`
	Notes             string          `json:"notes,omitempty"`
	StartTime         string          `json:"startTime,omitempty"`
	EndTime           string          `json:"endTime,omitempty"`
	Address           string          `json:"address,omitempty"`
	LocationID        string          `json:"locationId,omitempty"`
	ContactID         string          `json:"contactId,omitempty"`
	GroupID           string          `json:"groupId,omitempty"`
	AppointmentStatus string          `json:"appointmentStatus,omitempty"`
	Users             []string        `json:"users,omitempty"`
	DateAdded         string          `json:"dateAdded,omitempty"`
	DateUpdated       string          `json:"dateUpdated,omitempty"`
}

// AppointmentsResponse is {events} from GET /contacts/{id}/appointments.
type AppointmentsResponse struct {
	Events []Appointment `json:"events"`
}

// TagsInput is TagsDTO, the body of POST and DELETE /contacts/{id}/tags.
type TagsInput struct {
	Tags []string `json:"tags"`
}

// TagsResponse is {tags}: the contact's tags after the change.
type TagsResponse struct {
	Tags []string `json:"tags"`
}

// TokenResponse is the 200 body of POST /oauth/token (GetAccessCodeSuccessfulResponseDto).
type TokenResponse struct {
	AccessToken             string   `json:"access_token"`
	TokenType               string   `json:"token_type"`
	ExpiresIn               int      `json:"expires_in"`
	RefreshToken            string   `json:"refresh_token"`
	Scope                   string   `json:"scope"`
	UserType                string   `json:"userType"`
	LocationID              string   `json:"locationId,omitempty"`
	CompanyID               string   `json:"companyId,omitempty"`
	ApprovedLocations       []string `json:"approvedLocations,omitempty"`
	UserID                  string   `json:"userId"`
	PlanID                  string   `json:"planId,omitempty"`
	IsBulkInstallation      bool     `json:"isBulkInstallation,omitempty"`
	InstallToFutureLocation bool     `json:"installToFutureLocations,omitempty"`
	ApproveAllLocations     bool     `json:"approveAllLocations,omitempty"`
}

// WebhookEvent is the flat envelope of a HighLevel webhook: enough to route and de-duplicate.
// Contact events carry the contact id in ID; task and note events carry ContactID;
// appointment events nest the appointment.
type WebhookEvent struct {
	Type        string       `json:"type"`
	LocationID  string       `json:"locationId"`
	ID          string       `json:"id,omitempty"`
	ContactID   string       `json:"contactId,omitempty"`
	Timestamp   string       `json:"timestamp,omitempty"`
	WebhookID   string       `json:"webhookId,omitempty"`
	Appointment *Appointment `json:"appointment,omitempty"`
}
