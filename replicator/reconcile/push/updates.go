package push

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/diff"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/replicator/reconcile/ptdpoll"
	"ptsync/store"
)

func (p *Pusher) updateClient(ctx context.Context, j *job) (commitFn, error) {
	id := j.link.PTDID
	if id == "" || j.mirrorP == nil {
		return nil, fmt.Errorf("cannot update ptd client of link %s: %w: not mirrored", j.link.ID, ptd.ErrNotFound)
	}
	fields := j.pl.Fields
	vals := byWire(fields)
	var last *ptdwire.Client
	coachChanged := false
	in, err := mapping.PTDInput(vals)
	if err != nil {
		return nil, err
	}
	if in != (ptdwire.ClientInput{}) {
		// Conditional on what the plan read, not on the mirror now: the PTD poll may have
		// refreshed the mirror with a newer edit since, which this write must not overwrite.
		etag := j.mirrorP.ETag
		if j.pl.PTDETag != "" {
			etag = j.pl.PTDETag
		}
		c, err := p.Remote.PTD.UpdateClient(ctx, id, etag, in)
		if errors.Is(err, ptd.ErrPreconditionFailed) {
			// Someone edited the client since the mirror read it: refresh and re-plan.
			fresh, gerr := p.Remote.PTD.GetClient(ctx, id)
			if gerr != nil {
				return nil, gerr
			}
			rec := p.Mapping.PTDRecord(fresh, p.Now().UTC())
			p.Logger.Info("ptd client changed under a pending update; re-planning", "link", j.link.ID)
			// List deltas stay safe to apply, and must be: the other side's half of a set
			// merge commits the merged base, which this side has to reach too.
			// The poll will not see this change again once the fresh copy is stored: mark
			// the client's children for a re-read in the same transaction.
			coachChanged = true
			if fields = setFieldsOnly(fields); len(fields) == 0 {
				return func(tx *store.Tx) error {
					if err := ptdpoll.MarkChildren(tx, []string{id}, nil); err != nil {
						return err
					}
					return tx.PutPTDClient(&rec)
				}, errSuperseded
			}
			j.mirrorP, vals = &rec, byWire(fields)
		} else if err != nil {
			return nil, err
		} else {
			last = &c
		}
	}
	if v, ok := vals["access"]; ok && v.S != "" {
		if err := p.Remote.PTD.SetAccess(ctx, id, v.S); err != nil {
			return nil, err
		}
	}
	for _, w := range fields {
		if !w.Value.IsSet {
			continue
		}
		switch w.Wire {
		case "tags":
			if len(w.Add) > 0 {
				c, err := p.Remote.PTD.AddTags(ctx, id, w.Add)
				if err != nil {
					return nil, err
				}
				last = &c
			}
			if len(w.Remove) > 0 {
				c, err := p.Remote.PTD.RemoveTags(ctx, id, w.Remove)
				if err != nil {
					return nil, err
				}
				last = &c
			}
		case "groups":
			for _, g := range w.Add {
				if err := p.Remote.PTD.AddToGroup(ctx, id, p.groupRef(ctx, g)); err != nil {
					return nil, err
				}
			}
			for _, g := range w.Remove {
				if err := p.Remote.PTD.RemoveFromGroup(ctx, id, p.groupRef(ctx, g)); err != nil {
					return nil, err
				}
			}
		case "packages":
			for _, pkg := range w.Add {
				if err := p.Remote.PTD.AssignPackage(ctx, id, p.packageRef(ctx, pkg)); err != nil {
					return nil, err
				}
			}
		}
	}
	now := p.Now().UTC()
	rec := p.Mapping.PatchPTD(*j.mirrorP, vals)
	if last != nil && last.ID != "" {
		rec = p.Mapping.PTDRecord(*last, now)
		rec = p.Mapping.PatchPTD(rec, onlySets(vals, "groups", "packages"))
		rec.ETag = last.ETag
	}
	return func(tx *store.Tx) error {
		if coachChanged {
			if err := ptdpoll.MarkChildren(tx, []string{id}, nil); err != nil {
				return err
			}
		}
		if err := tx.PutPTDClient(&rec); err != nil {
			return err
		}
		return baseCommit(tx, j.link.ID, fields, now)
	}, nil
}

// onlySets keeps the named set fields of vals that are present.
func onlySets(vals map[string]diff.Value, names ...string) map[string]diff.Value {
	out := map[string]diff.Value{}
	for _, n := range names {
		if v, ok := vals[n]; ok {
			out[n] = v
		}
	}
	return out
}

// setFieldsOnly keeps the list fields (tags, groups, packages) of a write: their deltas apply
// safely whatever the target holds now, unlike scalar values planned from an older read.
func setFieldsOnly(fields map[string]outbox.FieldWrite) map[string]outbox.FieldWrite {
	out := map[string]outbox.FieldWrite{}
	for k, w := range fields {
		if w.Value.IsSet {
			out[k] = w
		}
	}
	return out
}

func (p *Pusher) updateContact(ctx context.Context, j *job) (commitFn, error) {
	id := j.link.GHLID
	if id == "" || j.mirrorG == nil {
		return nil, fmt.Errorf("cannot update highlevel contact of link %s: %w: not mirrored", j.link.ID, ghl.ErrNotFound)
	}
	fields := j.pl.Fields
	vals := byWire(fields)
	scalars := map[string]diff.Value{}
	for k, v := range vals {
		if !v.IsSet {
			scalars[k] = v
		}
	}
	var full *ghlwire.Contact
	var moved time.Time // dateUpdated of a HighLevel change the re-read found (someone else's)
	// A plan made from a mirror that had not yet seen a user's newer edit would overwrite it
	// (HighLevel has no If-Match): re-read right before the PUT and re-plan if the contact
	// moved on. The PUT goes in one attempt, so it never lands seconds after the read it was
	// checked against: a failure is retried here by reading again first.
	guarded := !j.pl.GHLUpdated.IsZero()
	for attempt := 1; len(scalars) > 0; attempt++ {
		if guarded {
			fresh, err := p.Remote.GHL.GetContact(ctx, id)
			if err != nil {
				return nil, err
			}
			rec := p.Mapping.GHLRecord(fresh, p.Now().UTC())
			switch {
			case !rec.DateUpdated.After(j.pl.GHLUpdated):
			case p.holdsWrites(p.Mapping.GHLValues(rec).Values, fields):
				// The contact moved, but to the values this update writes: an earlier attempt
				// landed although its response was lost (malformed body, reset after the
				// write). That is this write, not someone's edit: finish it (store the copy,
				// commit the base) without writing again. Dropping it instead left the base
				// behind, so the next merge saw HighLevel "changed" with a fresh dateUpdated
				// and the newest rule could let this (by then stale) value beat a later edit
				// on PTD.
				p.Logger.Info("highlevel contact already holds a pending update (an earlier attempt landed)", "link", j.link.ID)
				moved = rec.DateUpdated
				j.mirrorG, full, scalars = &rec, &fresh, nil
				continue
			default:
				p.Logger.Info("highlevel contact changed under a pending update; re-planning", "link", j.link.ID)
				// Tag deltas stay safe to apply, and must be (see updateClient).
				moved = rec.DateUpdated
				if fields = setFieldsOnly(fields); len(fields) == 0 {
					return func(tx *store.Tx) error {
						if err := markChangedUnderPush(tx, id, moved); err != nil {
							return err
						}
						return putGHLUnlessOlder(tx, &rec)
					}, errSuperseded
				}
				j.mirrorG, vals, scalars = &rec, byWire(fields), nil
				continue
			}
		}
		in, err := mapping.GHLInput(scalars) // never carries tags: tags go through their own endpoints
		if err != nil {
			return nil, err
		}
		update := p.Remote.GHL.UpdateContact
		if guarded {
			update = p.Remote.GHL.UpdateContactOnce
		}
		c, err := update(ctx, id, in)
		if held := p.heldByDuplicate(j, err); held != nil {
			return held, errSuperseded
		}
		if err == nil {
			full = &c
			break
		}
		if !guarded || attempt >= guardedAttempts || !worthRereading(err) {
			return nil, err
		}
		if err := sleep(ctx, p.backoff(attempt)); err != nil {
			return nil, err
		}
	}
	// Tags, and then the copy the mirror stores must come from a full read taken after every
	// write: HighLevel answers a tag write with the tags alone. A copy patched here would keep
	// the contact's old dateUpdated, and a lagging search row (an edit made before this push,
	// without its tag change) would then pass for newer in ingestion and undo the push in the
	// mirror, which the next merge reads as a HighLevel edit (a removed tag coming back).
	tagsWritten := false
	for _, w := range fields {
		if w.Wire != "tags" || !w.Value.IsSet {
			continue
		}
		if len(w.Add) > 0 {
			if _, err := p.Remote.GHL.AddTags(ctx, id, w.Add); err != nil {
				return nil, err
			}
			tagsWritten = true
		}
		if len(w.Remove) > 0 {
			if _, err := p.Remote.GHL.RemoveTags(ctx, id, w.Remove); err != nil {
				return nil, err
			}
			tagsWritten = true
		}
	}
	if tagsWritten || full != nil && full.ID == "" {
		c, err := p.Remote.GHL.GetContact(ctx, id)
		if err != nil {
			return nil, err
		}
		full = &c
		if got := p.Mapping.GHLRecord(c, p.Now().UTC()); !p.Mapping.SameValues(p.Mapping.GHLValues(got).Values, p.Mapping.GHLValues(p.Mapping.PatchGHL(*j.mirrorG, vals)).Values) {
			moved = got.DateUpdated // someone else's change came with it
		}
	}
	now := p.Now().UTC()
	rec := *j.mirrorG // nothing written: the copy stays as it is
	if full != nil && full.ID != "" {
		rec = p.Mapping.GHLRecord(*full, now)
	}
	return func(tx *store.Tx) error {
		if err := markChangedUnderPush(tx, id, moved); err != nil {
			return err
		}
		if err := putGHLUnlessOlder(tx, &rec); err != nil {
			return err
		}
		return baseCommit(tx, j.link.ID, fields, now)
	}, nil
}

// guardedAttempts bounds the re-read + single-attempt PUT rounds of one guarded update.
const guardedAttempts = 4

// worthRereading reports whether a single-attempt PUT failed in a way another round (read
// again, write again) may get past: a 5xx, a 429 inside the burst window, a transport
// failure, or an answer that could not be read (the write may have landed; the re-read tells).
func worthRereading(err error) bool {
	if errors.Is(err, ghl.ErrDailyLimit) || errors.Is(err, ghl.ErrBreakerOpen) {
		return false
	}
	return errors.Is(err, ghl.ErrServer) || errors.Is(err, ghl.ErrRateLimited) ||
		errors.Is(err, ghl.ErrTransport) || errors.Is(err, ghl.ErrDecode)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// putGHLUnlessOlder stores a copy of a HighLevel contact the pusher read, unless the mirror
// already holds a newer one: ingestion runs beside the pusher and may have stored a later
// version (someone's edit) while the write was in flight; storing the older copy over it
// would hide that edit from the merge. The children-fetch time already stored is kept.
func putGHLUnlessOlder(tx *store.Tx, rec *store.GHLContact) error {
	old, err := tx.WithoutRaw().GetGHLContact(rec.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	case old.DateUpdated.After(rec.DateUpdated):
		return nil
	default:
		rec.ChildrenFetchedAt = old.ChildrenFetchedAt
	}
	return tx.PutGHLContact(rec)
}

// holdsWrites reports whether have (one side's values, by field) already holds every scalar
// value of fields, compared after the field's normalization; false when fields has no scalar.
func (p *Pusher) holdsWrites(have diff.Values, fields map[string]outbox.FieldWrite) bool {
	n := 0
	for f, w := range fields {
		if w.Value.IsSet {
			continue
		}
		n++
		if have[f].IsSet || p.Mapping.Normalize(f, have[f].S) != p.Mapping.Normalize(f, w.Value.S) {
			return false
		}
	}
	return n > 0
}

// markChangedUnderPush queues HighLevel contact id for a child refresh when the push's
// re-read found a change (dateUpdated at) the mirror has not stored yet. The push is about
// to store that newer dateUpdated, after which ingestion's poll sees nothing new and would
// never mark the contact itself: a task or note added with that change would then wait for
// the periodic children sweep. Call it before storing the contact, in the same transaction,
// so the mark and the record that hides the change commit (or vanish) together.
func markChangedUnderPush(tx *store.Tx, id string, at time.Time) error {
	if at.IsZero() {
		return nil
	}
	old, err := tx.GetGHLContact(id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err == nil && !old.DateUpdated.Before(at) {
		return nil // ingestion stored this version first (and marked it itself)
	}
	return tx.MarkDirty(id, "changed in highlevel under a pending update")
}
