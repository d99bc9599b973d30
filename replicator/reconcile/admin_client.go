package reconcile

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"ptsync/replicator/reconcile/plan"
	"ptsync/store"
	"ptsync/store/query"
)

// AdminClient calls the reconcile admin routes (AdminRoutes) of a running service through a
// query.Client, so requests carry the admin token and errors map as for `ptsync query`: 400 →
// *query.RequestError, 404 → store.ErrNotFound, no answer → query.ErrUnreachable. Safe for
// concurrent use.
type AdminClient struct {
	c *query.Client
}

// NewAdminClient wraps c (built from the "<db>.admin" file with query.NewClient).
func NewAdminClient(c *query.Client) *AdminClient { return &AdminClient{c: c} }

// notFound keeps the server's message (which already says what is missing) while matching
// store.ErrNotFound, without the client's generic ": not found" suffix.
type notFound struct{ msg string }

func (e *notFound) Error() string { return e.msg }
func (e *notFound) Unwrap() error { return store.ErrNotFound }

func (a *AdminClient) call(ctx context.Context, method, path string, body, out any) error {
	err := a.c.Call(ctx, method, path, body, out)
	if err != nil && errors.Is(err, store.ErrNotFound) {
		return &notFound{msg: strings.TrimSuffix(err.Error(), ": "+store.ErrNotFound.Error())}
	}
	return err
}

// Plan asks the service's engine for the plan of the next reconcile (nothing is written).
func (a *AdminClient) Plan(ctx context.Context) (plan.Plan, error) {
	var p plan.Plan
	return p, a.call(ctx, http.MethodPost, AdminPlanPath, struct{}{}, &p)
}

// Conflicts lists the open conflicts (all: resolved ones too).
func (a *AdminClient) Conflicts(ctx context.Context, all bool) ([]store.Conflict, error) {
	var cs []store.Conflict
	return cs, a.call(ctx, http.MethodGet, AdminConflictsPath+boolQuery("all", all), nil, &cs)
}

// ResolveConflict has the service resolve a conflict in its own transaction. An unknown
// link/field pair matches store.ErrNotFound.
func (a *AdminClient) ResolveConflict(ctx context.Context, req ResolveRequest) (store.Conflict, error) {
	var c store.Conflict
	return c, a.call(ctx, http.MethodPost, AdminResolvePath, req, &c)
}

// Outbox lists the outbox (deadOnly: dead-lettered entries only).
func (a *AdminClient) Outbox(ctx context.Context, deadOnly bool) ([]store.OutboxEntry, error) {
	var es []store.OutboxEntry
	return es, a.call(ctx, http.MethodGet, AdminOutboxPath+boolQuery("dead", deadOnly), nil, &es)
}

// RetryOutbox has the service make entries due now (RetryOutbox in its transaction).
func (a *AdminClient) RetryOutbox(ctx context.Context, req OutboxRequest) (OutboxResult, error) {
	var r OutboxResult
	return r, a.call(ctx, http.MethodPost, AdminRetryPath, req, &r)
}

// DropOutbox has the service drop an entry (DropOutbox in its transaction).
func (a *AdminClient) DropOutbox(ctx context.Context, req OutboxRequest) (OutboxResult, error) {
	var r OutboxResult
	return r, a.call(ctx, http.MethodPost, AdminDropPath, req, &r)
}

// History fetches the history of the link ref names (LinkHistory).
func (a *AdminClient) History(ctx context.Context, ref string) (HistoryView, error) {
	var v HistoryView
	return v, a.call(ctx, http.MethodPost, AdminHistoryPath, HistoryRequest{Ref: ref}, &v)
}

func boolQuery(name string, v bool) string {
	if !v {
		return ""
	}
	return "?" + url.Values{name: {"true"}}.Encode()
}
