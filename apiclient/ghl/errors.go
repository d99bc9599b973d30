package ghl

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"ptsync/apiclient/ghlwire"
)

// Sentinel errors. Callers test them with errors.Is; the concrete error (*APIError, *OpError,
// *TokenRevokedError, *RepeatedCursorError) carries the operation name and the details.
var (
	// ErrNotFound: HighLevel answered 404.
	ErrNotFound = errors.New("not found")
	// ErrValidation: HighLevel answered 400 or 422; APIError.Messages holds its messages.
	ErrValidation = errors.New("rejected as invalid")
	// ErrUnauthorized: HighLevel answered 401 (or 403) and a refresh did not help.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrScope: 401 "The token is not authorized for this scope."; re-authorize with the scope.
	ErrScope = errors.New("token not authorized for this scope")
	// ErrDuplicate: create refused because the location forbids duplicates;
	// APIError.Duplicate names the existing contact.
	ErrDuplicate = errors.New("duplicate contact")
	// ErrRateLimited: HighLevel answered 429 (burst or daily); APIError.RateLimit has the headers.
	ErrRateLimited = errors.New("rate limited")
	// ErrDailyLimit: the daily budget (HighLevel's or the configured share of it) is spent;
	// calls stop until the reset. Errors matching it also match ErrRateLimited.
	ErrDailyLimit = errors.New("daily request budget spent")
	// ErrServer: HighLevel answered 5xx (after retries, for idempotent calls).
	ErrServer = errors.New("server error")
	// ErrDecode: the body was malformed JSON, truncated, or not JSON at all.
	ErrDecode = errors.New("cannot decode response")
	// ErrBodyTooLarge: the body exceeded Options.MaxBodyBytes.
	ErrBodyTooLarge = errors.New("response body too large")
	// ErrReadOnly: the token grants contacts.readonly only; no write was sent.
	ErrReadOnly = errors.New("read-only: the token grants contacts.readonly only; writes to HighLevel are disabled")
	// ErrOutcomeUnknown: a non-idempotent request may have reached HighLevel but no answer was
	// received (timeout, reset, 5xx); look the record up before trying again.
	ErrOutcomeUnknown = errors.New("outcome unknown: the request may have been applied; look it up before retrying")
	// ErrRepeatedCursor: a listing returned a cursor it had returned before; iteration stops.
	ErrRepeatedCursor = errors.New("repeated pagination cursor")
	// ErrInvalidGrant: the refresh token was refused (invalid_grant). Final: no further refresh
	// is attempted; the operator must run `ptsync auth`.
	ErrInvalidGrant = errors.New("refresh token refused (invalid_grant)")
	// ErrTokenRevoked is an alias of ErrInvalidGrant.
	ErrTokenRevoked = ErrInvalidGrant
	// ErrClientRejected: the token endpoint refused ptsync's client credentials
	// (invalid_client, unauthorized_client): the client id or secret is wrong or the app was
	// removed. Not transient: the source asks again only after a growing backoff.
	ErrClientRejected = errors.New("client credentials rejected")
	// ErrNoToken: the token store holds no token for the location; run `ptsync auth`.
	ErrNoToken = errors.New("no stored token")
	// ErrBreakerOpen: the circuit breaker for the upstream is open; the call was not sent.
	ErrBreakerOpen = errors.New("circuit breaker open")
	// ErrTransport: the request failed below HTTP (dial, reset, timeout) after retries.
	ErrTransport = errors.New("transport error")
)

// APIError is an error answer from HighLevel. It matches the sentinel for its status with
// errors.Is (404 ErrNotFound, 400/422 ErrValidation, 400+duplicate ErrDuplicate, 401
// ErrUnauthorized or ErrScope, 429 ErrRateLimited/ErrDailyLimit, 5xx ErrServer, and
// ErrOutcomeUnknown when a non-idempotent call got a 5xx).
type APIError struct {
	Op       string   // operationId, e.g. "get-contact"
	Status   int      // HTTP status
	Messages []string // the body's message (string or array), verbatim
	Kind     string   // the body's "error" field, if any
	TraceID  string   // the body's traceId, if any
	// Duplicate names the existing contact on a duplicate-create 400.
	Duplicate *ghlwire.DuplicateMeta
	// RateLimit holds the X-RateLimit-* headers on a 429.
	RateLimit *RateLimitInfo
	// OutcomeUnknown is set when a non-idempotent call got a 5xx: it may have been applied.
	OutcomeUnknown bool
}

// Error implements error.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cannot %s: highlevel answered %d", e.Op, e.Status)
	if len(e.Messages) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(e.Messages, ", "))
	}
	if e.Duplicate != nil {
		fmt.Fprintf(&b, " (existing contact %s matched on %s)", e.Duplicate.ContactID, e.Duplicate.MatchingField)
	}
	if e.RateLimit != nil {
		fmt.Fprintf(&b, " (%s limit)", e.RateLimit.Scope)
	}
	if e.OutcomeUnknown {
		b.WriteString("; outcome unknown: look the record up before retrying")
	}
	if e.TraceID != "" {
		fmt.Fprintf(&b, " [trace %s]", e.TraceID)
	}
	return b.String()
}

// Is maps the status to the package's sentinels: 404 ErrNotFound; 400 naming an existing
// contact ErrDuplicate, other 400 and 422 ErrValidation; 401 for a missing scope ErrScope,
// other 401 and 403 ErrUnauthorized; 429 ErrRateLimited (and ErrDailyLimit for the daily
// window); 5xx ErrServer; and ErrOutcomeUnknown when the server may have applied the call.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrDuplicate:
		return e.isDuplicate()
	case ErrValidation:
		return (e.Status == http.StatusBadRequest || e.Status == http.StatusUnprocessableEntity) && !e.isDuplicate()
	case ErrScope:
		return e.isScope()
	case ErrUnauthorized:
		return (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden) && !e.isScope()
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrDailyLimit:
		return e.Status == http.StatusTooManyRequests && e.RateLimit != nil && e.RateLimit.Scope == ScopeDaily
	case ErrServer:
		return e.Status >= 500
	case ErrOutcomeUnknown:
		return e.OutcomeUnknown
	}
	return false
}

func (e *APIError) isDuplicate() bool {
	if e.Status != http.StatusBadRequest {
		return false
	}
	if e.Duplicate != nil {
		return true
	}
	for _, m := range e.Messages {
		if m == ghlwire.MsgDuplicateContact {
			return true
		}
	}
	return false
}

func (e *APIError) isScope() bool {
	if e.Status != http.StatusUnauthorized && e.Status != http.StatusForbidden {
		return false
	}
	for _, m := range e.Messages {
		if strings.Contains(strings.ToLower(m), "not authorized for this scope") {
			return true
		}
	}
	return false
}

// OpError is a failure the client detected itself (read-only token, undecodable body, a
// transport failure, an open breaker...). Kind is the sentinel (ErrDecode, ErrReadOnly, ...),
// Cause the underlying error if any; errors.Is sees both.
type OpError struct {
	Op     string // operationId
	Kind   error  // one of the package's sentinels
	Detail string // what exactly, for the operator (never contains a secret)
	Cause  error  // underlying error, may be nil
}

// Error implements error.
func (e *OpError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cannot %s: %v", e.Op, e.Kind)
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap exposes both the sentinel and the cause.
func (e *OpError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

// DailyLimitError is returned before any request is sent while the daily budget is spent.
type DailyLimitError struct {
	Op       string
	Location string
	ResetAt  time.Time // when calls may resume (zero if unknown)
}

// Error implements error.
func (e *DailyLimitError) Error() string {
	s := fmt.Sprintf("cannot %s: %v for location %s", e.Op, ErrDailyLimit, e.Location)
	if !e.ResetAt.IsZero() {
		s += " until " + e.ResetAt.UTC().Format(time.RFC3339)
	}
	return s
}

// Unwrap makes the error match ErrDailyLimit and ErrRateLimited.
func (e *DailyLimitError) Unwrap() []error { return []error{ErrDailyLimit, ErrRateLimited} }

// TokenRevokedError reports that HighLevel refused the refresh token (invalid_grant). It is
// final for the location until an operator re-authorizes.
type TokenRevokedError struct {
	Location string
	Detail   string // the server's error description, never a token
}

// Error implements error.
func (e *TokenRevokedError) Error() string {
	s := fmt.Sprintf("cannot refresh token for location %s: %v", e.Location, ErrInvalidGrant)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s + "; run `ptsync auth` to re-authorize (the mirror keeps serving, writes stop)"
}

// Unwrap makes the error match ErrInvalidGrant (and ErrTokenRevoked).
func (e *TokenRevokedError) Unwrap() error { return ErrInvalidGrant }

// ClientRejectedError reports that the token endpoint refused the client credentials. The
// source does not call the endpoint again before RetryAt.
type ClientRejectedError struct {
	Location string
	Status   int
	Detail   string // the server's error code and description, never a secret
	RetryAt  time.Time
}

// Error implements error.
func (e *ClientRejectedError) Error() string {
	return fmt.Sprintf("cannot refresh token for location %s: %v: token endpoint answered %d: %s; fix ghl.oauth client_id / client_secret and restart (next attempt after %s)",
		e.Location, ErrClientRejected, e.Status, e.Detail, e.RetryAt.UTC().Format(time.RFC3339))
}

// Unwrap makes the error match ErrClientRejected.
func (e *ClientRejectedError) Unwrap() error { return ErrClientRejected }

// RepeatedCursorError ends an iteration whose server returned a cursor seen before.
type RepeatedCursorError struct {
	Op     string // "get-contacts" or "search-contacts-advanced"
	Cursor string // the repeated cursor, printable
}

// Error implements error.
func (e *RepeatedCursorError) Error() string {
	return fmt.Sprintf("cannot %s: %v %s: the server would return the same page again", e.Op, ErrRepeatedCursor, e.Cursor)
}

// Unwrap makes the error match ErrRepeatedCursor.
func (e *RepeatedCursorError) Unwrap() error { return ErrRepeatedCursor }

// Rate-limit scopes of a 429.
const (
	ScopeBurst   = "burst"
	ScopeDaily   = "daily"
	ScopeUnknown = "unknown"
)

// RateLimitInfo is the parsed X-RateLimit-* headers. A field is -1 when its header was absent
// or unparseable.
type RateLimitInfo struct {
	Scope          string        // burst | daily | unknown (meaningful on a 429)
	Max            int           // X-RateLimit-Max
	Remaining      int           // X-RateLimit-Remaining
	Interval       time.Duration // X-RateLimit-Interval-Milliseconds (0 if absent)
	DailyLimit     int           // X-RateLimit-Limit-Daily
	DailyRemaining int           // X-RateLimit-Daily-Remaining
	DailyReset     time.Duration // X-RateLimit-Daily-Reset (undocumented, ms until reset; 0 if absent)
}

// ParseRateLimit reads the X-RateLimit-* headers. ok is false when none is present.
func ParseRateLimit(h http.Header) (info RateLimitInfo, ok bool) {
	num := func(name string) int {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			return -1
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 || n > 1e12 {
			return -1
		}
		ok = true
		return int(n)
	}
	info.Max = num(ghlwire.HeaderRateLimitMax)
	info.Remaining = num(ghlwire.HeaderRateLimitRemaining)
	if ms := num(ghlwire.HeaderRateLimitIntervalMillis); ms > 0 {
		info.Interval = time.Duration(ms) * time.Millisecond
	}
	info.DailyLimit = num(ghlwire.HeaderRateLimitDaily)
	info.DailyRemaining = num(ghlwire.HeaderRateLimitDailyRemaining)
	if ms := num(ghlwire.HeaderRateLimitDailyReset); ms > 0 {
		info.DailyReset = time.Duration(ms) * time.Millisecond
	}
	switch {
	case info.DailyRemaining == 0:
		info.Scope = ScopeDaily
	case info.Remaining >= 0 || info.Interval > 0:
		info.Scope = ScopeBurst
	default:
		info.Scope = ScopeUnknown
	}
	return info, ok
}
