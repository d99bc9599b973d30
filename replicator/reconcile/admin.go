package reconcile

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"ptsync/diff"
	"ptsync/replicator/reconcile/plan"
	"ptsync/store"
	"ptsync/store/query"
)

// The operator's reconcile commands (ptsync plan, conflicts, outbox, history) run the same code
// whether they open the mirror themselves or ask the running service, which holds the file:
// the functions below take a transaction (the CLI's, or the service's in its admin routes),
// and plan and conflict resolution are Engine methods (an offline engine in the CLI, the
// service's own engine behind the admin routes).
//
// Admin routes (mounted on the service's query.Handler, so the token check and the 1 MiB body
// limit are that handler's):
//
//	POST /admin/plan                                    → 200 Plan
//	GET  /admin/conflicts[?all=true]                    → 200 []store.Conflict
//	POST /admin/conflicts/resolve body ResolveRequest   → 200 store.Conflict
//	GET  /admin/outbox[?dead=true]                      → 200 []store.OutboxEntry
//	POST /admin/outbox/retry      body OutboxRequest    → 200 OutboxResult
//	POST /admin/outbox/drop       body OutboxRequest    → 200 OutboxResult
//	POST /admin/history           body HistoryRequest   → 200 HistoryView
//	GET  /admin/quarantine, POST /admin/quarantine/approve (admin_quarantine.go)
//
// Errors follow the query protocol: 400 bad request, 404 unknown record (or no open conflict),
// 401 token, 503 when the service runs without a reconcile engine, 500 otherwise.
const (
	AdminPlanPath      = "/admin/plan"
	AdminConflictsPath = "/admin/conflicts"
	AdminResolvePath   = "/admin/conflicts/resolve"
	AdminOutboxPath    = "/admin/outbox"
	AdminRetryPath     = "/admin/outbox/retry"
	AdminDropPath      = "/admin/outbox/drop"
	AdminHistoryPath   = "/admin/history"
)

// ErrNoEngine: the service answering the admin request runs without a reconcile engine, so it
// cannot plan or resolve.
var ErrNoEngine = errors.New("the service runs without a reconcile engine")

// ListConflicts returns the open conflicts, resolved ones too when all is set, in link and
// field order; never nil (an empty list prints as []).
func ListConflicts(tx *store.Tx, all bool) ([]store.Conflict, error) {
	cs, err := tx.Conflicts("", all)
	if err != nil {
		return nil, fmt.Errorf("cannot list conflicts: %w", err)
	}
	if cs == nil {
		cs = []store.Conflict{}
	}
	return cs, nil
}

// ListOutbox returns the outbox entries in Seq order, only the dead-lettered ones when
// deadOnly is set; never nil.
func ListOutbox(tx *store.Tx, deadOnly bool) ([]store.OutboxEntry, error) {
	out := []store.OutboxEntry{}
	err := tx.ForEachOutbox(func(o *store.OutboxEntry) error {
		if !deadOnly || o.Dead {
			out = append(out, *o)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot list outbox: %w", err)
	}
	return out, nil
}

// OutboxRequest names the entry an operator retries or drops: Seq, or (retry only) AllDead
// for every dead-lettered entry.
type OutboxRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	AllDead bool   `json:"allDead,omitempty"`
}

// OutboxResult reports an operator action: how many entries were made due now (retry), or
// the entry that was dropped.
type OutboxResult struct {
	Retried int                `json:"retried"`
	Dropped *store.OutboxEntry `json:"dropped,omitempty"`
}

func (r OutboxRequest) check(drop bool) error {
	switch {
	case drop && r.AllDead:
		return &query.RequestError{Msg: "drop takes one entry number, not allDead"}
	case r.AllDead && r.Seq != 0:
		return &query.RequestError{Msg: "give an entry number or allDead, not both"}
	case !r.AllDead && r.Seq == 0:
		return &query.RequestError{Msg: "no outbox entry named (seq or allDead)"}
	}
	return nil
}

// RetryOutbox makes entry req.Seq (or every dead one with req.AllDead) due now with its
// attempts reset, in tx; the next push retries it. A missing entry is an error matching
// store.ErrNotFound and, since tx then rolls back, changes nothing.
func RetryOutbox(tx *store.Tx, req OutboxRequest) (OutboxResult, error) {
	var res OutboxResult
	if err := req.check(false); err != nil {
		return res, err
	}
	seqs := []uint64{req.Seq}
	if req.AllDead {
		dead, err := ListOutbox(tx, true)
		if err != nil {
			return res, err
		}
		seqs = seqs[:0]
		for _, o := range dead {
			seqs = append(seqs, o.Seq)
		}
	}
	for _, s := range seqs {
		if _, err := tx.RetryOutbox(s); err != nil {
			return OutboxResult{}, outboxErr("retry", s, err)
		}
		res.Retried++
	}
	return res, nil
}

// DropOutbox deletes entry req.Seq without applying it, in tx, and returns it. A missing
// entry is an error matching store.ErrNotFound.
func DropOutbox(tx *store.Tx, req OutboxRequest) (OutboxResult, error) {
	if err := req.check(true); err != nil {
		return OutboxResult{}, err
	}
	o, err := tx.DropOutbox(req.Seq)
	if err != nil {
		return OutboxResult{}, outboxErr("drop", req.Seq, err)
	}
	return OutboxResult{Dropped: &o}, nil
}

func outboxErr(verb string, seq uint64, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("cannot %s outbox entry %d: %w", verb, seq, store.ErrNotFound)
	}
	return fmt.Errorf("cannot %s outbox entry %d: %w", verb, seq, err)
}

// HistoryRequest names the record whose history is wanted: a link id, a HighLevel or PTD
// contact id, or an email.
type HistoryRequest struct {
	Ref string `json:"ref"`
}

// HistoryView is a contact link and every recorded decision on it and its children, oldest
// first. (History comes first so the JSON is what `ptsync history --json` always printed.)
type HistoryView struct {
	History []store.HistoryEntry `json:"history"`
	Link    store.Link           `json:"link"`
}

// LinkHistory resolves ref (FindLink) and collects the history of the link and its child
// links in Seq order. An unknown ref is an error matching store.ErrNotFound.
func LinkHistory(tx *store.Tx, ref string) (HistoryView, error) {
	v := HistoryView{History: []store.HistoryEntry{}}
	l, err := FindLink(tx, ref)
	if err != nil {
		return v, err
	}
	v.Link = l
	kids, err := tx.ChildLinks(l.ID)
	if err != nil {
		return v, fmt.Errorf("cannot read child links of %s: %w", l.ID, err)
	}
	for _, x := range append([]store.Link{l}, kids...) {
		hs, err := tx.History(x.ID)
		if err != nil {
			return v, fmt.Errorf("cannot read history of %s: %w", x.ID, err)
		}
		v.History = append(v.History, hs...)
	}
	slices.SortStableFunc(v.History, func(a, b store.HistoryEntry) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	return v, nil
}

// FindLink resolves a link id, a contact id on either side, or an email (normalized) to a
// contact link; store.ErrNotFound when nothing linked matches.
func FindLink(tx *store.Tx, ref string) (store.Link, error) {
	if l, err := tx.GetLink(ref); err == nil {
		return l, nil
	}
	if l, err := tx.LinkByGHL(store.KindContact, ref); err == nil {
		return l, nil
	}
	if l, err := tx.LinkByPTD(store.KindContact, ref); err == nil {
		return l, nil
	}
	if email, _ := diff.Email(ref); email != "" {
		if gs, err := tx.GHLContactsByEmail(email); err == nil {
			for _, g := range gs {
				if l, err := tx.LinkByGHL(store.KindContact, g.ID); err == nil {
					return l, nil
				}
			}
		}
		if ps, err := tx.PTDClientsByEmail(email); err == nil {
			for _, p := range ps {
				if l, err := tx.LinkByPTD(store.KindContact, p.ID); err == nil {
					return l, nil
				}
			}
		}
	}
	return store.Link{}, fmt.Errorf("cannot find %q: %w", ref, store.ErrNotFound)
}

// ResolveRequest is the body of POST /admin/conflicts/resolve (Engine.ResolveConflict).
type ResolveRequest struct {
	Link  string `json:"link"`
	Field string `json:"field"`
	Take  string `json:"take"` // ghl | ptd | value
	Value string `json:"value,omitempty"`
}

// AdminRoutes returns the options that mount the routes above on the service's admin handler
// (query.Handler). eng may be nil (a service without the reconcile side): plan and resolve then
// answer 503. Reads run in their own read transaction; retry and drop run in one write
// transaction of the service's store, under the engine's job lock when there is an engine so
// that they never interleave with a push in flight. Safe for concurrent requests.
func AdminRoutes(db *store.DB, eng *Engine) []query.HandlerOption {
	a := &adminRoutes{db: db, eng: eng}
	return []query.HandlerOption{
		query.WithRoute("POST "+AdminPlanPath, http.HandlerFunc(a.plan)),
		query.WithRoute("GET "+AdminConflictsPath, http.HandlerFunc(a.conflicts)),
		query.WithRoute("POST "+AdminResolvePath, http.HandlerFunc(a.resolve)),
		query.WithRoute("GET "+AdminOutboxPath, http.HandlerFunc(a.outbox)),
		query.WithRoute("POST "+AdminRetryPath, a.outboxAction(RetryOutbox)),
		query.WithRoute("POST "+AdminDropPath, a.outboxAction(DropOutbox)),
		query.WithRoute("POST "+AdminHistoryPath, http.HandlerFunc(a.history)),
		query.WithRoute("GET "+AdminQuarantinePath, http.HandlerFunc(a.quarantine)),
		query.WithRoute("POST "+AdminApprovePath, http.HandlerFunc(a.approve)),
	}
}

type adminRoutes struct {
	db  *store.DB
	eng *Engine
}

// writeAdminErr extends query.WriteError: no open conflict is a 404, a missing engine 503.
func writeAdminErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, plan.ErrNoConflict):
		query.WriteJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case errors.Is(err, ErrNoEngine):
		query.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	default:
		query.WriteError(w, err)
	}
}

// boolParam reads an optional boolean query parameter; anything but a boolean is a 400.
func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &query.RequestError{Msg: fmt.Sprintf("query parameter %s=%q: want true or false", name, v)}
	}
	return b, nil
}

// emptyBody accepts no body or a JSON object without fields.
func emptyBody(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength == 0 {
		return nil
	}
	var none struct{}
	return query.DecodeBody(w, r, &none)
}

func (a *adminRoutes) plan(w http.ResponseWriter, r *http.Request) {
	if err := emptyBody(w, r); err != nil {
		writeAdminErr(w, err)
		return
	}
	if a.eng == nil {
		writeAdminErr(w, ErrNoEngine)
		return
	}
	p, err := a.eng.Plan(r.Context())
	if err != nil {
		writeAdminErr(w, err)
		return
	}
	query.WriteJSON(w, http.StatusOK, p)
}

func (a *adminRoutes) conflicts(w http.ResponseWriter, r *http.Request) {
	all, err := boolParam(r, "all")
	if err != nil {
		writeAdminErr(w, err)
		return
	}
	var cs []store.Conflict
	if err := a.db.View(func(tx *store.Tx) error { cs, err = ListConflicts(tx, all); return err }); err != nil {
		writeAdminErr(w, err)
		return
	}
	query.WriteJSON(w, http.StatusOK, cs)
}

func (a *adminRoutes) resolve(w http.ResponseWriter, r *http.Request) {
	var req ResolveRequest
	if err := query.DecodeBody(w, r, &req); err != nil {
		writeAdminErr(w, err)
		return
	}
	if req.Link == "" || req.Field == "" {
		writeAdminErr(w, &query.RequestError{Msg: "resolve needs link and field"})
		return
	}
	switch req.Take {
	case "ghl", "ptd", "value":
	default:
		writeAdminErr(w, &query.RequestError{Msg: fmt.Sprintf("take %q: want ghl, ptd or value", req.Take)})
		return
	}
	if a.eng == nil {
		writeAdminErr(w, ErrNoEngine)
		return
	}
	c, err := a.eng.ResolveConflict(r.Context(), req.Link, req.Field, plan.Resolution{Take: req.Take, Value: req.Value})
	if err != nil {
		writeAdminErr(w, err)
		return
	}
	query.WriteJSON(w, http.StatusOK, c)
}

func (a *adminRoutes) outbox(w http.ResponseWriter, r *http.Request) {
	dead, err := boolParam(r, "dead")
	if err != nil {
		writeAdminErr(w, err)
		return
	}
	var es []store.OutboxEntry
	if err := a.db.View(func(tx *store.Tx) error { es, err = ListOutbox(tx, dead); return err }); err != nil {
		writeAdminErr(w, err)
		return
	}
	query.WriteJSON(w, http.StatusOK, es)
}

func (a *adminRoutes) outboxAction(fn func(*store.Tx, OutboxRequest) (OutboxResult, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req OutboxRequest
		if err := query.DecodeBody(w, r, &req); err != nil {
			writeAdminErr(w, err)
			return
		}
		if a.eng != nil {
			a.eng.mu.Lock()
			defer a.eng.mu.Unlock()
		}
		var res OutboxResult
		err := a.db.Update(func(tx *store.Tx) error {
			var err error
			res, err = fn(tx, req)
			return err
		})
		if err != nil {
			writeAdminErr(w, err)
			return
		}
		query.WriteJSON(w, http.StatusOK, res)
	})
}

func (a *adminRoutes) history(w http.ResponseWriter, r *http.Request) {
	var req HistoryRequest
	if err := query.DecodeBody(w, r, &req); err != nil {
		writeAdminErr(w, err)
		return
	}
	if req.Ref == "" {
		writeAdminErr(w, &query.RequestError{Msg: "history needs ref (a link id, record id or email)"})
		return
	}
	var v HistoryView
	err := a.db.View(func(tx *store.Tx) error {
		var err error
		v, err = LinkHistory(tx, req.Ref)
		return err
	})
	if err != nil {
		writeAdminErr(w, err)
		return
	}
	query.WriteJSON(w, http.StatusOK, v)
}
