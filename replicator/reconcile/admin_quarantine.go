package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"ptsync/replicator/sweepguard"
	"ptsync/store"
	"ptsync/store/query"
)

// Quarantine admin routes (mounted by AdminRoutes):
//
//	GET  /admin/quarantine                              → 200 QuarantineView
//	POST /admin/quarantine/approve body ApproveRequest  → 200 []sweepguard.Approval
//
// An unknown held sweep is a 404.
const (
	AdminQuarantinePath = "/admin/quarantine"
	AdminApprovePath    = "/admin/quarantine/approve"
)

// QuarantineView is `ptsync quarantine`: the sweeps held as suspect and every quarantine
// entry (never nil, so JSON shows []).
type QuarantineView struct {
	Held    []store.HeldSweep       `json:"held"`
	Entries []store.QuarantineEntry `json:"entries"`
}

// ListQuarantine reads the held sweeps and the quarantine entries in tx, in the store's
// order; the lists are never nil. It writes nothing.
func ListQuarantine(tx *store.Tx) (QuarantineView, error) {
	v := QuarantineView{Held: []store.HeldSweep{}, Entries: []store.QuarantineEntry{}}
	held, err := tx.HeldSweeps()
	if err != nil {
		return v, fmt.Errorf("cannot list held sweeps: %w", err)
	}
	qs, err := tx.Quarantined()
	if err != nil {
		return v, fmt.Errorf("cannot list quarantine: %w", err)
	}
	v.Held = append(v.Held, held...)
	v.Entries = append(v.Entries, qs...)
	return v, nil
}

// ApproveRequest names the held sweep an operator approves: its id, or "all".
type ApproveRequest struct {
	ID string `json:"id"`
}

// ApproveHeld approves req.ID (sweepguard.Approve) in tx. The next reconcile applies the
// delete policy to what reached deletes.confirmations.
func ApproveHeld(tx *store.Tx, req ApproveRequest) ([]sweepguard.Approval, error) {
	if req.ID == "" {
		return nil, &query.RequestError{Msg: "approve needs the id of a held sweep (see ptsync quarantine) or all"}
	}
	return sweepguard.Approve(tx, req.ID)
}

// Quarantine lists the service's held sweeps and quarantine entries.
func (a *AdminClient) Quarantine(ctx context.Context) (QuarantineView, error) {
	var v QuarantineView
	return v, a.call(ctx, http.MethodGet, AdminQuarantinePath, nil, &v)
}

// ApproveHeld has the service approve a held sweep in its own transaction; an unknown id
// matches store.ErrNotFound.
func (a *AdminClient) ApproveHeld(ctx context.Context, req ApproveRequest) ([]sweepguard.Approval, error) {
	var out []sweepguard.Approval
	return out, a.call(ctx, http.MethodPost, AdminApprovePath, req, &out)
}

func (a *adminRoutes) quarantine(w http.ResponseWriter, r *http.Request) {
	var v QuarantineView
	err := a.db.View(func(tx *store.Tx) error {
		var err error
		v, err = ListQuarantine(tx)
		return err
	})
	if err != nil {
		writeAdminErr(w, err)
		return
	}
	query.WriteJSON(w, http.StatusOK, v)
}

// approve runs under the engine's job lock, like the outbox actions, so it never interleaves
// with a PTD sweep or a reconcile of the engine; a HighLevel sweep's transaction lands wholly
// before or after it.
func (a *adminRoutes) approve(w http.ResponseWriter, r *http.Request) {
	var req ApproveRequest
	if err := query.DecodeBody(w, r, &req); err != nil {
		writeAdminErr(w, err)
		return
	}
	if a.eng != nil {
		a.eng.mu.Lock()
		defer a.eng.mu.Unlock()
	}
	var out []sweepguard.Approval
	err := a.db.Update(func(tx *store.Tx) error {
		var err error
		out, err = ApproveHeld(tx, req)
		return err
	})
	if err != nil {
		if errors.Is(err, sweepguard.ErrNotHeld) {
			query.WriteJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		writeAdminErr(w, err)
		return
	}
	if a.eng != nil {
		a.eng.publish()
		a.eng.log.Info("held sweeps approved by the operator", "id", req.ID, "approved", len(out))
	}
	query.WriteJSON(w, http.StatusOK, out)
}
