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

// clientUpdate is a client.update entry in flight: the fields still to write (a 412 leaves
// only the set deltas) by mapping name and by wire name, the client as the last write
// answered, and whether a newer copy from PTD was found (its children then need a re-read).
type clientUpdate struct {
	fields       map[string]outbox.FieldWrite
	vals         map[string]diff.Value
	last         *ptdwire.Client
	coachChanged bool
}

// updateClient writes a client.update entry to PTD: the scalar fields (conditional on the
// ETag the plan read), then access and the set deltas, and returns the transaction that
// stores the client as written and the fields' new base. A client edited since the plan
// read it answers 412: the fresh copy is stored and the entry is superseded, unless set
// deltas remain, which are still written (see putClientScalars).
func (p *Pusher) updateClient(ctx context.Context, j *job) (commitFn, error) {
	id := j.link.PTDID
	if id == "" || j.mirrorP == nil {
		return nil, fmt.Errorf("cannot update ptd client of link %s: %w: not mirrored", j.link.ID, ptd.ErrNotFound)
	}
	u := &clientUpdate{fields: j.pl.Fields, vals: byWire(j.pl.Fields)}
	if fn, err := p.putClientScalars(ctx, j, id, u); err != nil {
		return fn, err
	}
	if err := p.putClientSets(ctx, id, u); err != nil {
		return nil, err
	}
	now := p.Now().UTC()
	rec := p.Mapping.PatchPTD(*j.mirrorP, u.vals)
	if u.last != nil && u.last.ID != "" {
		rec = p.Mapping.PTDRecord(*u.last, now)
		rec = p.Mapping.PatchPTD(rec, onlySets(u.vals, "groups", "packages"))
		rec.ETag = u.last.ETag
	}
	return func(tx *store.Tx) error {
		if u.coachChanged {
			if err := ptdpoll.MarkChildren(tx, []string{id}, nil); err != nil {
				return err
			}
		}
		if err := tx.PutPTDClient(&rec); err != nil {
			return err
		}
		return baseCommit(tx, j.link.ID, u.fields, now)
	}, nil
}

// putClientScalars sends u's scalar fields, conditional on what the plan read (not on the
// mirror now: the PTD poll may have stored a newer edit since, which this write must not
// overwrite). On 412 it reads the client afresh and keeps only the set deltas in u, which
// stay safe to apply and must be (the other side's half of a set merge commits the merged
// base, which this side has to reach too); with none left it returns the transaction that
// stores the fresh copy and marks its children (the poll will not see the change again),
// with errSuperseded.
func (p *Pusher) putClientScalars(ctx context.Context, j *job, id string, u *clientUpdate) (commitFn, error) {
	in, err := mapping.PTDInput(u.vals)
	if err != nil || in == (ptdwire.ClientInput{}) {
		return nil, err
	}
	etag := j.mirrorP.ETag
	if j.pl.PTDETag != "" {
		etag = j.pl.PTDETag
	}
	c, err := p.Remote.PTD.UpdateClient(ctx, id, etag, in)
	if !errors.Is(err, ptd.ErrPreconditionFailed) {
		if err == nil {
			u.last = &c
		}
		return nil, err
	}
	fresh, err := p.Remote.PTD.GetClient(ctx, id)
	if err != nil {
		return nil, err
	}
	rec := p.Mapping.PTDRecord(fresh, p.Now().UTC())
	p.Logger.Info("ptd client changed under a pending update; re-planning", "link", j.link.ID)
	u.coachChanged = true
	if u.fields = setFieldsOnly(u.fields); len(u.fields) == 0 {
		return func(tx *store.Tx) error {
			if err := ptdpoll.MarkChildren(tx, []string{id}, nil); err != nil {
				return err
			}
			return tx.PutPTDClient(&rec)
		}, errSuperseded
	}
	j.mirrorP, u.vals = &rec, byWire(u.fields)
	return nil, nil
}

// putClientSets sends u's access and set deltas through their own endpoints (tags, group
// memberships, package assignments; the contract cannot take a package away). Group and
// package references go through the catalogue (groupRef, packageRef).
func (p *Pusher) putClientSets(ctx context.Context, id string, u *clientUpdate) error {
	if v, ok := u.vals["access"]; ok && v.S != "" {
		if err := p.Remote.PTD.SetAccess(ctx, id, v.S); err != nil {
			return err
		}
	}
	for _, w := range u.fields {
		if !w.Value.IsSet {
			continue
		}
		var err error
		switch w.Wire {
		case "tags":
			err = p.putClientTags(ctx, id, w, u)
		case "groups":
			for _, g := range w.Add {
				if err = p.Remote.PTD.AddToGroup(ctx, id, p.groupRef(ctx, g)); err != nil {
					return err
				}
			}
			for _, g := range w.Remove {
				if err = p.Remote.PTD.RemoveFromGroup(ctx, id, p.groupRef(ctx, g)); err != nil {
					return err
				}
			}
		case "packages":
			for _, pkg := range w.Add {
				if err = p.Remote.PTD.AssignPackage(ctx, id, p.packageRef(ctx, pkg)); err != nil {
					return err
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// putClientTags sends one tags write's deltas; u.last takes PTD's answer.
func (p *Pusher) putClientTags(ctx context.Context, id string, w outbox.FieldWrite, u *clientUpdate) error {
	if len(w.Add) > 0 {
		c, err := p.Remote.PTD.AddTags(ctx, id, w.Add)
		if err != nil {
			return err
		}
		u.last = &c
	}
	if len(w.Remove) > 0 {
		c, err := p.Remote.PTD.RemoveTags(ctx, id, w.Remove)
		if err != nil {
			return err
		}
		u.last = &c
	}
	return nil
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

// contactUpdate is a contact.update entry in flight: the fields still to write by mapping
// name and by wire name, the scalars still to PUT, the full contact as HighLevel last showed
// it, and the dateUpdated of someone else's change a re-read found (zero if none).
type contactUpdate struct {
	fields  map[string]outbox.FieldWrite
	vals    map[string]diff.Value
	scalars map[string]diff.Value
	full    *ghlwire.Contact
	moved   time.Time
}

// updateContact writes a contact.update entry to HighLevel: the scalar fields by a guarded
// PUT (putContactScalars), the tag deltas through their own endpoints, then stores the
// contact as HighLevel holds it after every write and the fields' new base. A contact that
// changed since the plan read it supersedes the scalar fields.
func (p *Pusher) updateContact(ctx context.Context, j *job) (commitFn, error) {
	id := j.link.GHLID
	if id == "" || j.mirrorG == nil {
		return nil, fmt.Errorf("cannot update highlevel contact of link %s: %w: not mirrored", j.link.ID, ghl.ErrNotFound)
	}
	u := &contactUpdate{fields: j.pl.Fields, vals: byWire(j.pl.Fields), scalars: map[string]diff.Value{}}
	for k, v := range u.vals {
		if !v.IsSet {
			u.scalars[k] = v
		}
	}
	if fn, err := p.putContactScalars(ctx, j, id, u); err != nil {
		return fn, err
	}
	if err := p.putContactTags(ctx, j, id, u); err != nil {
		return nil, err
	}
	now := p.Now().UTC()
	rec := *j.mirrorG // nothing written: the copy stays as it is
	if u.full != nil && u.full.ID != "" {
		rec = p.Mapping.GHLRecord(*u.full, now)
	}
	return func(tx *store.Tx) error {
		if err := markChangedUnderPush(tx, id, u.moved); err != nil {
			return err
		}
		if err := putGHLUnlessOlder(tx, &rec); err != nil {
			return err
		}
		return baseCommit(tx, j.link.ID, u.fields, now)
	}, nil
}

// putContactScalars PUTs u's scalars. A plan made from a mirror that had not yet seen a
// user's newer edit would overwrite it (HighLevel has no If-Match), so an entry that knows
// the dateUpdated its plan read is guarded: the contact is re-read right before the PUT
// (recheckContact), and the PUT goes in one attempt, so it never lands seconds after the read
// it was checked against; a failure worth it is retried here by reading again first, up to
// guardedAttempts rounds. A value another contact holds turns into a held conflict
// (heldByDuplicate) and supersedes the entry.
func (p *Pusher) putContactScalars(ctx context.Context, j *job, id string, u *contactUpdate) (commitFn, error) {
	guarded := !j.pl.GHLUpdated.IsZero()
	for attempt := 1; len(u.scalars) > 0; attempt++ {
		if guarded {
			if fn, err := p.recheckContact(ctx, j, id, u); err != nil {
				return fn, err
			}
			if len(u.scalars) == 0 {
				break
			}
		}
		in, err := mapping.GHLInput(u.scalars) // never carries tags: tags go through their own endpoints
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
			u.full = &c
			break
		}
		if !guarded || attempt >= guardedAttempts || !worthRereading(err) {
			return nil, err
		}
		if err := sleep(ctx, p.backoff(attempt)); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// recheckContact re-reads the contact before a guarded PUT and decides what is left to do:
// unchanged since the plan, everything; moved on to exactly the values this update writes
// (an earlier attempt landed although its answer was lost), nothing more to PUT; moved on
// otherwise (someone's edit), only the set deltas, or, with none, the transaction that
// stores the fresh copy with errSuperseded, so the next reconcile merges it.
func (p *Pusher) recheckContact(ctx context.Context, j *job, id string, u *contactUpdate) (commitFn, error) {
	fresh, err := p.Remote.GHL.GetContact(ctx, id)
	if err != nil {
		return nil, err
	}
	rec := p.Mapping.GHLRecord(fresh, p.Now().UTC())
	switch {
	case !rec.DateUpdated.After(j.pl.GHLUpdated):
		return nil, nil
	case p.holdsWrites(p.Mapping.GHLValues(rec).Values, u.fields):
		// That is this write, not someone's edit: finish it (store the copy, commit the base)
		// without writing again. Dropping it instead left the base behind, so the next merge
		// saw HighLevel "changed" with a fresh dateUpdated and the newest rule could let this
		// (by then stale) value beat a later edit on PTD.
		p.Logger.Info("highlevel contact already holds a pending update (an earlier attempt landed)", "link", j.link.ID)
		u.moved = rec.DateUpdated
		j.mirrorG, u.full, u.scalars = &rec, &fresh, nil
		return nil, nil
	}
	p.Logger.Info("highlevel contact changed under a pending update; re-planning", "link", j.link.ID)
	// Tag deltas stay safe to apply, and must be (see putClientScalars).
	u.moved = rec.DateUpdated
	if u.fields = setFieldsOnly(u.fields); len(u.fields) == 0 {
		moved := u.moved
		return func(tx *store.Tx) error {
			if err := markChangedUnderPush(tx, id, moved); err != nil {
				return err
			}
			return putGHLUnlessOlder(tx, &rec)
		}, errSuperseded
	}
	j.mirrorG, u.vals, u.scalars = &rec, byWire(u.fields), nil
	return nil, nil
}

// putContactTags sends the tag deltas, then reads the contact once more when anything was
// written without a full answer: HighLevel answers a tag write with the tags alone, and the
// copy the mirror stores must come from a full read taken after every write. A copy patched
// here would keep the contact's old dateUpdated, and a lagging search row (an edit made
// before this push, without its tag change) would then pass for newer in ingestion and undo
// the push in the mirror, which the next merge reads as a HighLevel edit (a removed tag
// coming back). A read that shows more than this push wrote records the change in u.moved.
func (p *Pusher) putContactTags(ctx context.Context, j *job, id string, u *contactUpdate) error {
	tagsWritten := false
	for _, w := range u.fields {
		if w.Wire != "tags" || !w.Value.IsSet {
			continue
		}
		if len(w.Add) > 0 {
			if _, err := p.Remote.GHL.AddTags(ctx, id, w.Add); err != nil {
				return err
			}
			tagsWritten = true
		}
		if len(w.Remove) > 0 {
			if _, err := p.Remote.GHL.RemoveTags(ctx, id, w.Remove); err != nil {
				return err
			}
			tagsWritten = true
		}
	}
	if !tagsWritten && (u.full == nil || u.full.ID != "") {
		return nil
	}
	c, err := p.Remote.GHL.GetContact(ctx, id)
	if err != nil {
		return err
	}
	u.full = &c
	got := p.Mapping.GHLRecord(c, p.Now().UTC())
	if !p.Mapping.SameValues(p.Mapping.GHLValues(got).Values, p.Mapping.GHLValues(p.Mapping.PatchGHL(*j.mirrorG, u.vals)).Values) {
		u.moved = got.DateUpdated // someone else's change came with it
	}
	return nil
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
