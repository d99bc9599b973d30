package ptdpoll

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/diff"
	"ptsync/store"
)

// HandleEvent takes one event PT Distinction pushed (client added, added to group, package
// sign-up; from whichever driver) into the mirror as a PTD client keyed by its normalized
// email (the client id of a driver that cannot read PTD), so the next reconcile links or
// creates it. Repeats are harmless, and an event older than the copy the mirror holds (senders
// retry and deliver out of order) is ignored rather than allowed to put older names back. A
// bad email is ptd.ErrInvalidInput. Safe beside the other methods (one write transaction).
func (p *Poller) HandleEvent(ctx context.Context, t ptd.Event) error {
	email, err := diff.Email(t.Email)
	if err != nil || email == "" {
		return fmt.Errorf("cannot take ptd event: %w: bad email", ptd.ErrInvalidInput)
	}
	now := p.Now().UTC()
	return p.Store.Update(func(tx *store.Tx) error {
		c, err := tx.GetPTDClient(email)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		at := t.At
		if at.IsZero() {
			at = now
		}
		if err == nil && c.UpdatedAt.After(at) {
			p.Logger.Info("ptd event older than the mirrored client; ignored", "event", string(t.Kind), "at", at)
			return nil
		}
		w := ptdwire.Client{ID: email, Email: email, FirstName: t.FirstName, LastName: t.LastName, Groups: c.Groups, Packages: c.Packages, Tags: c.Tags}
		if err == nil {
			w.FirstName, w.LastName = firstNonEmpty(t.FirstName, c.FirstName), firstNonEmpty(t.LastName, c.LastName)
		}
		if t.Group != "" && !slices.Contains(w.Groups, t.Group) {
			w.Groups = append(w.Groups, t.Group)
		}
		if t.Package != "" && !slices.Contains(w.Packages, t.Package) {
			w.Packages = append(w.Packages, t.Package)
		}
		w.UpdatedAt = at.Format(time.RFC3339Nano)
		rec := p.Mapping.PTDRecord(w, now)
		return tx.PutPTDClient(&rec)
	})
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
