package query

import (
	"context"
	"net/http"
)

// The pieces below let another package (replicator/reconcile: plan, conflicts, outbox,
// history) serve its own admin routes from the same handler and call them with the same
// client, so that the token check, the 1 MiB body limit and the error protocol exist once.

// WithRoute mounts h at pattern (http.ServeMux syntax, e.g. "POST /admin/plan") on the
// Handler, behind the same "Authorization: Bearer <token>" check as the built-in routes. h
// should read its body with DecodeBody and answer with WriteJSON / WriteError.
func WithRoute(pattern string, h http.Handler) HandlerOption {
	return func(hd *handler) { hd.mux.Handle(pattern, h) }
}

// DecodeBody decodes a JSON request body into v as the built-in routes do: at most 1 MiB is
// read and unknown fields are refused. Its errors answer 413 (body over the cap) or 400
// (*RequestError) via WriteError.
func DecodeBody(w http.ResponseWriter, r *http.Request, v any) error { return decode(w, r, v) }

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// WriteError answers err in the admin protocol: a body over the cap 413, *RequestError 400
// (with the known names), store.ErrNotFound 404, anything else 500; the body is
// {"error", "known"}.
func WriteError(w http.ResponseWriter, err error) { writeErr(w, err) }

// Call sends one admin request (body and out JSON; out may be an io.Writer for raw bytes) and
// maps the answer like the built-in calls: 400 → *RequestError, 404 → an error matching
// store.ErrNotFound, an unreachable endpoint → ErrUnreachable. Safe for concurrent use.
func (c *Client) Call(ctx context.Context, method, path string, body, out any) error {
	return c.do(ctx, method, path, body, out)
}
