// Package ghl is the HighLevel (LeadConnector) Contacts API v2 client used by ptsync.
//
// It offers one typed method per operation (named after the spec's operationIds in the
// metrics: get-contact, search-contacts-advanced, create-task, ...), page-level iteration for
// both listing styles (GET /contacts/ with startAfter+startAfterId, POST /contacts/search with
// searchAfter) guarded against repeated cursors, an OAuth 2.0 token source that serializes
// refreshes and persists rotated refresh tokens durably before use, a per-location rate budget
// shaped like HighLevel's (burst per interval, daily cap) corrected from the X-RateLimit-*
// headers, full-jitter retries for idempotent calls, and a circuit breaker per upstream.
//
// A Client is safe for concurrent use by many goroutines. Every method takes a context first
// and returns errors that name the operation: *APIError for answers from HighLevel (matching
// ErrNotFound, ErrValidation, ... with errors.Is), *OpError for conditions found by the client
// itself (ErrReadOnly, ErrDecode, ErrBodyTooLarge, ErrOutcomeUnknown, ErrBreakerOpen, ...).
//
// Secrets (access tokens, refresh tokens, client secrets) are held in Secret values that
// redact themselves in every formatting path; the client never logs a token, an Authorization
// header or a URL that carries a code.
package ghl
