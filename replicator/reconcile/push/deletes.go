package push

import (
	"context"
	"errors"
	"strings"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/config"
	"ptsync/store"
)

// deletedID is the id of the link's record on the side the entry says was deleted.
func deletedID(j *job) string {
	if j.pl.Deleted == store.SidePTD {
		return j.link.PTDID
	}
	return j.link.GHLID
}

func hasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if strings.EqualFold(strings.TrimSpace(t), strings.TrimSpace(tag)) {
			return true
		}
	}
	return false
}

// deletePolicy applies the delete policy to the survivor and, on success, stores on the
// deleted record's quarantine entry what it changed (the survivor's access before print_only,
// the tag unless the survivor had it already), so the change can be undone if the record
// comes back. The deleted record stays in the mirror as the entry's tombstone, except a
// HighLevel contact the policy deleted itself. A record that came back while the entry was
// in flight gets a returned entry at once, so the next reconcile undoes the policy.
func (p *Pusher) deletePolicy(ctx context.Context, j *job) (commitFn, error) {
	l := j.link
	ap := store.AppliedPolicy{Policy: j.pl.Policy, Rule: j.pl.Rule, LinkID: l.ID, Target: j.o.Target}
	if ap.Rule == "" {
		ap.Rule = "delete-" + j.pl.Policy // an entry planned before rules were recorded
	}
	var err error
	switch {
	case j.o.Target == store.SidePTD && j.pl.Policy == config.DeletePrintOnly:
		if j.mirrorP != nil && j.mirrorP.Access != ptdwire.AccessPrintOnly {
			ap.PrevAccess = j.mirrorP.Access
		}
		err = p.Remote.PTD.SetAccess(ctx, l.PTDID, ptdwire.AccessPrintOnly)
	case j.o.Target == store.SidePTD && j.pl.Policy == config.DeleteTag:
		if j.mirrorP == nil || !hasTag(j.mirrorP.Tags, j.pl.Tag) {
			ap.TagAdded = j.pl.Tag
		}
		_, err = p.Remote.PTD.AddTags(ctx, l.PTDID, []string{j.pl.Tag})
	case j.o.Target == store.SideGHL && j.pl.Policy == config.DeleteTag:
		if j.mirrorG == nil || !hasTag(j.mirrorG.Tags, j.pl.Tag) {
			ap.TagAdded = j.pl.Tag
		}
		_, err = p.Remote.GHL.AddTags(ctx, l.GHLID, []string{j.pl.Tag})
	case j.o.Target == store.SideGHL && j.pl.Policy == config.DeleteDelete:
		ap.Irreversible = true
		if err = p.Remote.GHL.DeleteContact(ctx, l.GHLID); errors.Is(err, ghl.ErrNotFound) {
			err = nil
		}
	}
	if err != nil {
		return nil, err
	}
	p.Logger.Info("delete policy applied", "link", l.ID, "policy", j.pl.Policy, "deleted_side", j.pl.Deleted, "rule", ap.Rule)
	id := deletedID(j)
	return func(tx *store.Tx) error {
		if ap.Irreversible {
			if err := ignoreMissing(tx.DeleteGHLContact(l.GHLID)); err != nil {
				return err
			}
		}
		err := tx.RecordApplied(store.KindContact, j.pl.Deleted, id, ap)
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if _, err := tx.ConfirmMissing(store.KindContact, j.pl.Deleted, id, 1); err != nil {
			return err
		}
		if err := tx.RecordApplied(store.KindContact, j.pl.Deleted, id, ap); err != nil {
			return err
		}
		_, err = tx.ReleaseQuarantine(store.KindContact, j.pl.Deleted, id)
		return err
	}, nil
}

// undoDeletePolicy reverses an applied policy on the survivor (access back to what it was,
// the added tag removed), updates the mirror's copy so the next merge does not take the
// reversal for an edit, and clears the returned record's quarantine entry. A survivor that
// is gone too has nothing left to undo.
func (p *Pusher) undoDeletePolicy(ctx context.Context, j *job) (commitFn, error) {
	l := j.link
	var fix commitFn
	var err error
	switch {
	case j.o.Target == store.SidePTD && j.pl.Policy == config.DeletePrintOnly:
		err = p.Remote.PTD.SetAccess(ctx, l.PTDID, j.pl.Access)
		fix = func(tx *store.Tx) error {
			c, err := tx.GetPTDClient(l.PTDID)
			if err != nil {
				return ignoreMissing(err)
			}
			c.Access = j.pl.Access
			return tx.PutPTDClient(&c)
		}
	case j.o.Target == store.SidePTD && j.pl.Policy == config.DeleteTag:
		var c ptdwire.Client
		if c, err = p.Remote.PTD.RemoveTags(ctx, l.PTDID, []string{j.pl.Tag}); err == nil {
			rec := p.Mapping.PTDRecord(c, p.Now().UTC())
			fix = func(tx *store.Tx) error { return tx.PutPTDClient(&rec) }
		}
	case j.o.Target == store.SideGHL && j.pl.Policy == config.DeleteTag:
		var tags []string
		if tags, err = p.Remote.GHL.RemoveTags(ctx, l.GHLID, []string{j.pl.Tag}); err == nil {
			fix = func(tx *store.Tx) error {
				g, err := tx.GetGHLContact(l.GHLID)
				if err != nil {
					return ignoreMissing(err)
				}
				g.Tags = tags
				return tx.PutGHLContact(&g)
			}
		}
	}
	if errors.Is(err, ghl.ErrNotFound) || errors.Is(err, ptd.ErrNotFound) {
		err, fix = nil, nil
	}
	if err != nil {
		return nil, err
	}
	p.Logger.Info("delete policy undone", "link", l.ID, "policy", j.pl.Policy, "returned_side", j.pl.Deleted, "rule", j.pl.Rule)
	id := deletedID(j)
	return func(tx *store.Tx) error {
		if fix != nil {
			if err := fix(tx); err != nil {
				return err
			}
		}
		return tx.ClearQuarantine(store.KindContact, j.pl.Deleted, id)
	}, nil
}
