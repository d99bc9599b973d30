package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/diff"
	"ptsync/replicator/reconcile/kinds"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/replicator/reconcile/ptdpoll"
	"ptsync/store"
)

// PushStats reports one Push.
type PushStats struct {
	Pushed    int // entries applied and removed
	Coalesced int // entries folded into an earlier one of the same record
	Failed    int // attempts that failed and will be retried
	Dead      int // entries dead-lettered
	Deferred  int // entries waiting for their parent record to be created
	Dropped   int // entries superseded (re-planned from fresh data)
}

func (s *PushStats) add(o PushStats) {
	s.Pushed += o.Pushed
	s.Coalesced += o.Coalesced
	s.Failed += o.Failed
	s.Dead += o.Dead
	s.Deferred += o.Deferred
	s.Dropped += o.Dropped
}

// errDefer: the entry cannot run yet (its parent has no id on the target); not an attempt.
var errDefer = errors.New("waiting for the parent record")

// errSuperseded: the target changed under the entry; it is dropped and the next reconcile
// re-plans from the fresh copy.
var errSuperseded = errors.New("superseded by a newer copy of the record")

// Push drains the outbox: entries due now, per record in order (the store holds back later
// entries of a record until the earlier one is done), consecutive updates of one record folded
// into one call. Success removes the entry in the transaction that stores the new base, the
// link and the mirror's copy of what was written (echo suppression). A failure is retried with
// full-jitter exponential backoff and dead-lettered after pusher.max_attempts; a refusal that
// cannot change (validation, read-only token, missing capability) is dead-lettered at once.
// Creates always look the record up on the target first, so a create whose outcome was unknown
// (timeout, crash between the call and the commit) never makes a duplicate.
func (e *Engine) Push(ctx context.Context) (PushStats, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.opts.Offline {
		return PushStats{}, ErrOffline
	}
	st, err := e.push(ctx)
	e.publish()
	return st, err
}

// permanent reports errors no retry can fix.
func permanent(err error) bool {
	for _, target := range []error{ghl.ErrValidation, ghl.ErrReadOnly, ghl.ErrScope, ghl.ErrInvalidArgument, ghl.ErrNotFound,
		ptd.ErrBadRequest, ptd.ErrInvalidInput, ptd.ErrUnsupported, ptd.ErrNotFound} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// failure decides what a failed attempt of o does (retry later with backoff, or dead-letter)
// and returns the transaction that records it. The caller commits it and then calls
// logFailure when quiet is false (a refusal inside a hold already logged is quiet).
func (e *Engine) failure(o store.OutboxEntry, cause error) (dead, quiet bool, fn commitFn) {
	max := e.cfg.Pusher.MaxAttempts
	if max <= 0 {
		max = 8
	}
	e.m.PushDone(o.Target, o.Op, cause)
	if class := unavailableClass(cause); class != "" {
		base, ceil := e.backoffBounds()
		next, opened := e.holds.refused(o.Target, class, e.now(), base, ceil)
		if opened {
			e.log.Warn("pushes held: the target refuses every write", "target", o.Target, "reason", class,
				"retry_in", next.Sub(e.now()).Round(time.Millisecond), "error", cause)
		}
		return false, true, func(tx *store.Tx) error {
			_, err := tx.PostponeOutbox(o.Seq, cause.Error(), next)
			return err
		}
	}
	dead = permanent(cause) || o.Attempts+1 >= max
	next := e.now().Add(e.backoff(o.Attempts + 1))
	return dead, false, func(tx *store.Tx) error {
		if _, err := tx.RecordAttempt(o.Seq, cause.Error(), next); err != nil {
			return err
		}
		if dead {
			_, err := tx.DeadLetter(o.Seq, cause.Error())
			return err
		}
		return nil
	}
}

// logFailure says what failure decided, once its transaction committed.
func (e *Engine) logFailure(o store.OutboxEntry, cause error, dead bool) {
	if dead {
		e.log.Error("outbox entry dead-lettered", "seq", o.Seq, "target", o.Target, "op", o.Op, "link", o.LinkID, "attempts", o.Attempts+1, "error", cause)
	} else {
		e.log.Warn("push failed; will retry", "seq", o.Seq, "target", o.Target, "op", o.Op, "attempts", o.Attempts+1, "error", cause)
	}
}

// backoffBounds are pusher.backoff_base and backoff_max with their defaults (1 s, 5 min).
func (e *Engine) backoffBounds() (base, ceil time.Duration) {
	base, ceil = e.cfg.Pusher.BackoffBase, e.cfg.Pusher.BackoffMax
	if base <= 0 {
		base = time.Second
	}
	if ceil <= 0 {
		ceil = 5 * time.Minute
	}
	return base, ceil
}

// backoff is full-jitter exponential backoff: uniform in [0, min(max, base*2^(n-1))].
func (e *Engine) backoff(n int) time.Duration {
	base, ceil := e.backoffBounds()
	d := base << min(n-1, 30)
	if d <= 0 || d > ceil {
		d = ceil
	}
	e.rngMu.Lock()
	defer e.rngMu.Unlock()
	return time.Duration(e.rng.Int64N(int64(d) + 1))
}

// job is one entry being pushed with what it needs from the mirror.
type job struct {
	o       store.OutboxEntry
	pl      outbox.Payload
	link    store.Link
	parent  store.Link
	folded  []uint64 // coalesced entries removed with o
	mirrorG *store.GHLContact
	mirrorP *store.PTDClient
}

// attemptOne applies one entry (and the consecutive updates folded into it) on its target and
// returns the transaction that records the outcome, without committing it: on success (err
// nil) it removes the entries and stores the new base, link and mirror copy; when the entry
// was superseded (errSuperseded) it stores the fresh copy and drops the entry; errDefer and
// any other error come with a nil transaction (the caller records a failed attempt). n is
// the number of entries folded into this one.
func (e *Engine) attemptOne(ctx context.Context, o store.OutboxEntry) (n int, fn commitFn, err error) {
	j := &job{o: o}
	if err := json.Unmarshal(o.Payload, &j.pl); err != nil {
		return 0, nil, fmt.Errorf("cannot decode outbox entry %d: %w: %w", o.Seq, ptd.ErrInvalidInput, err)
	}
	gone := false
	if err := e.db.View(func(tx *store.Tx) error {
		l, err := tx.GetLink(o.LinkID)
		if errors.Is(err, store.ErrNotFound) {
			gone = true
			return nil
		}
		if err != nil {
			return err
		}
		j.link = l
		if l.ParentLinkID != "" {
			if j.parent, err = tx.GetLink(l.ParentLinkID); err != nil {
				return err
			}
		}
		contact := l
		if l.Kind != store.KindContact {
			contact = j.parent
		}
		if contact.GHLID != "" {
			if g, err := tx.GetGHLContact(contact.GHLID); err == nil {
				j.mirrorG = &g
			}
		}
		if contact.PTDID != "" {
			if c, err := tx.GetPTDClient(contact.PTDID); err == nil {
				j.mirrorP = &c
			}
		}
		if strings.HasSuffix(o.Op, ".update") {
			return e.coalesce(tx, j)
		}
		return nil
	}); err != nil {
		return 0, nil, fmt.Errorf("cannot read outbox context: %w", err)
	}
	if gone { // the link was removed (e.g. by a delete): nothing to apply
		return 0, func(tx *store.Tx) error { return ignoreMissing(tx.RemoveOutbox(o.Seq)) }, nil
	}
	if o.Target == store.SideGHL {
		if e.remote.ReadOnly(ctx) {
			return 0, nil, fmt.Errorf("cannot push %s: %w", o.Op, ghl.ErrReadOnly)
		}
		if e.remote.GHL == nil {
			return 0, nil, fmt.Errorf("cannot push %s: no highlevel client", o.Op)
		}
	} else if e.remote.PTD == nil {
		return 0, nil, fmt.Errorf("cannot push %s: no ptd adapter", o.Op)
	}
	commit, err := e.apply(ctx, j)
	e.m.PushDone(o.Target, o.Op, nilUnlessReal(err))
	if err != nil {
		if errors.Is(err, errSuperseded) {
			return 0, func(tx *store.Tx) error {
				if commit != nil {
					if err := commit(tx); err != nil {
						return err
					}
				}
				return ignoreMissing(tx.RemoveOutbox(o.Seq))
			}, err
		}
		return 0, nil, err
	}
	return len(j.folded), func(tx *store.Tx) error {
		if err := tx.RemoveOutbox(o.Seq); err != nil {
			return err
		}
		for _, s := range j.folded {
			if err := ignoreMissing(tx.RemoveOutbox(s)); err != nil {
				return err
			}
		}
		if commit != nil {
			return commit(tx)
		}
		return nil
	}, nil
}

func nilUnlessReal(err error) error {
	if errors.Is(err, errDefer) {
		return nil
	}
	return err
}

func ignoreMissing(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// coalesce folds the consecutive live updates of the same record, target and op that follow
// j.o into j.pl (later values win; set deltas are combined).
func (e *Engine) coalesce(tx *store.Tx, j *job) error {
	es, err := tx.OutboxForRecord(j.o.RecordKind, j.o.RecordID)
	if err != nil {
		return err
	}
	after := false
	for _, n := range es {
		if n.Seq == j.o.Seq {
			after = true
			continue
		}
		if !after {
			continue
		}
		if n.Dead || n.Target != j.o.Target || n.Op != j.o.Op {
			break
		}
		var pl outbox.Payload
		if json.Unmarshal(n.Payload, &pl) != nil {
			break
		}
		if j.pl.Fields == nil {
			j.pl.Fields = map[string]outbox.FieldWrite{}
		}
		for f, w := range pl.Fields {
			prev, ok := j.pl.Fields[f]
			if ok && w.Value.IsSet {
				w.Add = union(minus(prev.Add, w.Remove), w.Add)
				w.Remove = union(minus(prev.Remove, w.Add), w.Remove)
			}
			j.pl.Fields[f] = w
		}
		j.folded = append(j.folded, n.Seq)
	}
	return nil
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.ContainsFunc(out, func(y string) bool { return strings.EqualFold(x, y) }) {
			out = append(out, x)
		}
	}
	return out
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y string) bool { return strings.EqualFold(x, y) }) {
			out = append(out, x)
		}
	}
	return out
}

// commitFn runs in the success transaction.
type commitFn func(tx *store.Tx) error

// baseCommit merges the payload's field bases into the link's base.
func baseCommit(tx *store.Tx, linkID string, fields map[string]outbox.FieldWrite, at time.Time) error {
	b, err := tx.GetBase(linkID)
	if errors.Is(err, store.ErrNotFound) {
		b = store.Base{LinkID: linkID, Fields: map[string]string{}}
	} else if err != nil {
		return err
	}
	if b.Fields == nil {
		b.Fields = map[string]string{}
	}
	changed := false
	for f, w := range fields {
		if w.Base != nil {
			b.Fields[f] = *w.Base
			changed = true
		}
	}
	if !changed {
		return nil
	}
	b.AgreedAt = at.UTC()
	return tx.PutBase(b)
}

// byWire returns the payload's values keyed by the target's field names.
func byWire(fields map[string]outbox.FieldWrite) map[string]diff.Value {
	out := map[string]diff.Value{}
	for _, w := range fields {
		if w.Wire != "" {
			out[w.Wire] = w.Value
		}
	}
	return out
}

// apply performs j on its target and returns what to commit on success.
func (e *Engine) apply(ctx context.Context, j *job) (commitFn, error) {
	k, isChild := kinds.Find(e.childKinds(), j.o.RecordKind)
	switch {
	case j.o.Op == outbox.OpClientCreate:
		return e.createClient(ctx, j)
	case j.o.Op == outbox.OpContactCreate:
		return e.createContact(ctx, j)
	case j.o.Op == outbox.OpClientUpdate:
		return e.updateClient(ctx, j)
	case j.o.Op == outbox.OpContactUpdate:
		return e.updateContact(ctx, j)
	case j.o.Op == outbox.OpClientRoute:
		return e.routeClient(ctx, j)
	case isChild:
		return e.pushChild(ctx, j, k)
	case j.o.Op == outbox.OpReminder:
		return e.sendReminder(ctx, j)
	case j.o.Op == outbox.OpDeletePolicy:
		return e.deletePolicy(ctx, j)
	case j.o.Op == outbox.OpDeleteUndo:
		return e.undoDeletePolicy(ctx, j)
	}
	return nil, fmt.Errorf("cannot push outbox entry %d: %w: unknown op %q", j.o.Seq, ptd.ErrInvalidInput, j.o.Op)
}

// ---- contacts ----

func (e *Engine) createClient(ctx context.Context, j *job) (commitFn, error) {
	if j.link.PTDID != "" {
		return nil, nil
	}
	vals := byWire(j.pl.Fields)
	email := vals["email"].S
	if email == "" && j.mirrorG != nil {
		email = j.mirrorG.Email
		vals["email"] = diff.Scalar(email)
	}
	if email == "" {
		return nil, fmt.Errorf("cannot create ptd client: %w: no email", ptd.ErrInvalidInput)
	}
	var c ptdwire.Client
	adopted := false
	if e.remote.PTD.Capabilities().Has(ptd.CapClientRead) {
		found, err := e.remote.PTD.FindClientByEmail(ctx, email)
		if err != nil {
			return nil, err
		}
		if found != nil {
			c, adopted = *found, true
		}
	}
	if !adopted {
		in, err := mapping.PTDInput(vals)
		if err != nil {
			return nil, err
		}
		f := false
		in.SendLoginDetails = &f
		if v, ok := vals["access"]; ok && v.S != "" {
			in.Access = &v.S
		}
		c, err = e.remote.PTD.CreateClient(ctx, in)
		if id, ok := ptd.ExistingID(err); ok {
			if c, err = e.remote.PTD.GetClient(ctx, id); err != nil {
				return nil, err
			}
			adopted = true
		} else if err != nil {
			return nil, err
		}
	}
	if !adopted {
		if t := vals["tags"]; len(t.Set) > 0 && e.remote.PTD.Capabilities().Has(ptd.CapTags) {
			c2, err := e.remote.PTD.AddTags(ctx, c.ID, t.Set)
			if err != nil {
				return nil, err
			}
			if c2.ID != "" {
				c = c2
			}
		}
	}
	now := e.now().UTC()
	rec := e.mp.PTDRecord(c, now)
	if len(c.Tags) == 0 && !adopted {
		rec = e.mp.PatchPTD(rec, map[string]diff.Value{"tags": vals["tags"]})
	}
	return func(tx *store.Tx) error {
		l := j.link
		l.PTDID = c.ID
		if adopted {
			l.MatchedBy = outbox.MatchedByEmail
		}
		if err := tx.PutLink(&l); err != nil {
			return err
		}
		if err := tx.PutPTDClient(&rec); err != nil {
			return err
		}
		if adopted {
			// No base: nothing was agreed, so the next reconcile merges the two records as
			// it merges any pair matched by email.
			e.log.Info("ptd client already existed; linked by email instead of created", "link", l.ID)
			return nil
		}
		return baseCommit(tx, l.ID, j.pl.Fields, now)
	}, nil
}

func (e *Engine) createContact(ctx context.Context, j *job) (commitFn, error) {
	if j.link.GHLID != "" {
		return nil, nil
	}
	vals := byWire(j.pl.Fields)
	email := vals["email"].S
	var c ghlwire.Contact
	var held commitFn
	adopted := false
	if email != "" {
		found, ok, err := e.remote.GHL.FindDuplicate(ctx, email, "")
		if err != nil {
			return nil, err
		}
		if ok && strings.EqualFold(strings.TrimSpace(found.Email), email) {
			c, adopted = found, true
		}
	}
	if !adopted {
		in, err := mapping.GHLInput(vals)
		if err != nil {
			return nil, err
		}
		c, err = e.remote.GHL.CreateContact(ctx, in)
		var ae *ghl.APIError
		if errors.As(err, &ae) && errors.Is(err, ghl.ErrDuplicate) && ae.Duplicate != nil {
			if ae.Duplicate.MatchingField == "email" {
				if c, err = e.remote.GHL.GetContact(ctx, ae.Duplicate.ContactID); err != nil {
					return nil, err
				}
				adopted = true
			} else {
				// Another contact holds the phone: create without it rather than merge two people.
				held = e.heldByDuplicate(j, err)
				in.Phone = nil
				for f, w := range j.pl.Fields {
					if w.Wire == "phone" {
						delete(j.pl.Fields, f)
					}
				}
				c, err = e.remote.GHL.CreateContact(ctx, in)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	now := e.now().UTC()
	rec := e.mp.GHLRecord(c, now)
	return func(tx *store.Tx) error {
		l := j.link
		l.GHLID = c.ID
		if adopted {
			l.MatchedBy = outbox.MatchedByEmail
			e.log.Info("highlevel contact already existed; linked by email instead of created", "link", l.ID)
		}
		if err := tx.PutLink(&l); err != nil {
			return err
		}
		if err := putGHLUnlessOlder(tx, &rec); err != nil {
			return err
		}
		if held != nil {
			j.link = l
			if err := held(tx); err != nil {
				return err
			}
		}
		if adopted {
			return nil
		}
		return baseCommit(tx, l.ID, j.pl.Fields, now)
	}, nil
}

func (e *Engine) updateClient(ctx context.Context, j *job) (commitFn, error) {
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
		c, err := e.remote.PTD.UpdateClient(ctx, id, etag, in)
		if errors.Is(err, ptd.ErrPreconditionFailed) {
			// Someone edited the client since the mirror read it: refresh and re-plan.
			fresh, gerr := e.remote.PTD.GetClient(ctx, id)
			if gerr != nil {
				return nil, gerr
			}
			rec := e.mp.PTDRecord(fresh, e.now().UTC())
			e.log.Info("ptd client changed under a pending update; re-planning", "link", j.link.ID)
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
		if err := e.remote.PTD.SetAccess(ctx, id, v.S); err != nil {
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
				c, err := e.remote.PTD.AddTags(ctx, id, w.Add)
				if err != nil {
					return nil, err
				}
				last = &c
			}
			if len(w.Remove) > 0 {
				c, err := e.remote.PTD.RemoveTags(ctx, id, w.Remove)
				if err != nil {
					return nil, err
				}
				last = &c
			}
		case "groups":
			for _, g := range w.Add {
				if err := e.remote.PTD.AddToGroup(ctx, id, e.groupRef(ctx, g)); err != nil {
					return nil, err
				}
			}
			for _, g := range w.Remove {
				if err := e.remote.PTD.RemoveFromGroup(ctx, id, e.groupRef(ctx, g)); err != nil {
					return nil, err
				}
			}
		case "packages":
			for _, p := range w.Add {
				if err := e.remote.PTD.AssignPackage(ctx, id, e.packageRef(ctx, p)); err != nil {
					return nil, err
				}
			}
		}
	}
	now := e.now().UTC()
	rec := e.mp.PatchPTD(*j.mirrorP, vals)
	if last != nil && last.ID != "" {
		rec = e.mp.PTDRecord(*last, now)
		rec = e.mp.PatchPTD(rec, onlySets(vals, "groups", "packages"))
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

// heldByDuplicate turns HighLevel's refusal of a value another contact holds (duplicate
// phone or email in a location that forbids duplicates) into an open conflict on that field:
// the write is dropped, the merge holds the field while the conflict is open, and the operator
// decides with ptsync conflicts. It returns nil for any other error.
func (e *Engine) heldByDuplicate(j *job, err error) commitFn {
	var ae *ghl.APIError
	if !errors.As(err, &ae) || !errors.Is(err, ghl.ErrDuplicate) || ae.Duplicate == nil {
		return nil
	}
	var field string
	var w outbox.FieldWrite
	for f, fw := range j.pl.Fields {
		if fw.Wire == ae.Duplicate.MatchingField {
			field, w = f, fw
		}
	}
	if field == "" {
		return nil
	}
	cur := ""
	if j.mirrorG != nil {
		cur = e.mp.Normalize(field, e.mp.GHLValues(*j.mirrorG).Values[field].S)
	}
	e.log.Warn("highlevel refuses a value another contact holds; field held for the operator", "link", j.link.ID, "field", field, "other_contact", ae.Duplicate.ContactID)
	return func(tx *store.Tx) error {
		c := store.Conflict{LinkID: j.link.ID, Field: field, GHL: cur, PTD: mapping.EncodeValue(w.Value), NoBase: true,
			Reason: "highlevel refused the value: contact " + ae.Duplicate.ContactID + " already holds it"}
		b, err := tx.GetBase(j.link.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if v, ok := b.Fields[field]; ok && err == nil {
			c.Base, c.NoBase = v, false
		}
		return tx.PutConflict(c)
	}
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

func (e *Engine) updateContact(ctx context.Context, j *job) (commitFn, error) {
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
			fresh, err := e.remote.GHL.GetContact(ctx, id)
			if err != nil {
				return nil, err
			}
			rec := e.mp.GHLRecord(fresh, e.now().UTC())
			switch {
			case !rec.DateUpdated.After(j.pl.GHLUpdated):
			case e.holdsWrites(e.mp.GHLValues(rec).Values, fields):
				// The contact moved, but to the values this update writes: an earlier attempt
				// landed although its response was lost (malformed body, reset after the
				// write). That is this write, not someone's edit: finish it (store the copy,
				// commit the base) without writing again. Dropping it instead left the base
				// behind, so the next merge saw HighLevel "changed" with a fresh dateUpdated
				// and the newest rule could let this (by then stale) value beat a later edit
				// on PTD.
				e.log.Info("highlevel contact already holds a pending update (an earlier attempt landed)", "link", j.link.ID)
				moved = rec.DateUpdated
				j.mirrorG, full, scalars = &rec, &fresh, nil
				continue
			default:
				e.log.Info("highlevel contact changed under a pending update; re-planning", "link", j.link.ID)
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
		update := e.remote.GHL.UpdateContact
		if guarded {
			update = e.remote.GHL.UpdateContactOnce
		}
		c, err := update(ctx, id, in)
		if held := e.heldByDuplicate(j, err); held != nil {
			return held, errSuperseded
		}
		if err == nil {
			full = &c
			break
		}
		if !guarded || attempt >= guardedAttempts || !worthRereading(err) {
			return nil, err
		}
		if err := sleep(ctx, e.backoff(attempt)); err != nil {
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
			if _, err := e.remote.GHL.AddTags(ctx, id, w.Add); err != nil {
				return nil, err
			}
			tagsWritten = true
		}
		if len(w.Remove) > 0 {
			if _, err := e.remote.GHL.RemoveTags(ctx, id, w.Remove); err != nil {
				return nil, err
			}
			tagsWritten = true
		}
	}
	if tagsWritten || full != nil && full.ID == "" {
		c, err := e.remote.GHL.GetContact(ctx, id)
		if err != nil {
			return nil, err
		}
		full = &c
		if got := e.mp.GHLRecord(c, e.now().UTC()); !e.mp.SameValues(e.mp.GHLValues(got).Values, e.mp.GHLValues(e.mp.PatchGHL(*j.mirrorG, vals)).Values) {
			moved = got.DateUpdated // someone else's change came with it
		}
	}
	now := e.now().UTC()
	rec := *j.mirrorG // nothing written: the copy stays as it is
	if full != nil && full.ID != "" {
		rec = e.mp.GHLRecord(*full, now)
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
func (e *Engine) holdsWrites(have diff.Values, fields map[string]outbox.FieldWrite) bool {
	n := 0
	for f, w := range fields {
		if w.Value.IsSet {
			continue
		}
		n++
		if have[f].IsSet || e.mp.Normalize(f, have[f].S) != e.mp.Normalize(f, w.Value.S) {
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

// groupRef resolves a configured group (id or name) to an id through PTD's catalogue when
// the driver has one; otherwise the reference passes through (zapier). Safe for the push
// workers to call concurrently.
func (e *Engine) groupRef(ctx context.Context, ref string) string {
	return e.catalogRef(ctx, &e.groups, ref, func(ctx context.Context) (map[string]string, error) {
		gs, err := e.remote.PTD.ListGroups(ctx)
		m := map[string]string{}
		for _, g := range gs {
			m[strings.ToLower(g.Name)], m[strings.ToLower(g.ID)] = g.ID, g.ID
		}
		return m, err
	})
}

// packageRef is groupRef for packages.
func (e *Engine) packageRef(ctx context.Context, ref string) string {
	return e.catalogRef(ctx, &e.packages, ref, func(ctx context.Context) (map[string]string, error) {
		ps, err := e.remote.PTD.ListPackages(ctx)
		m := map[string]string{}
		for _, p := range ps {
			m[strings.ToLower(p.Name)], m[strings.ToLower(p.ID)] = p.ID, p.ID
		}
		return m, err
	})
}

// catalogRef looks ref up in the cached catalogue *cache (under catMu), loading it with list
// when empty; an unknown ref empties the cache so the next call asks again (maybe new).
func (e *Engine) catalogRef(ctx context.Context, cache *map[string]string, ref string, list func(context.Context) (map[string]string, error)) string {
	if !e.remote.PTD.Capabilities().Has(ptd.CapCatalog) {
		return ref
	}
	e.catMu.Lock()
	m := *cache
	e.catMu.Unlock()
	if m == nil {
		var err error
		if m, err = list(ctx); err != nil {
			return ref
		}
		e.catMu.Lock()
		*cache = m
		e.catMu.Unlock()
	}
	if id, ok := m[strings.ToLower(ref)]; ok {
		return id
	}
	e.catMu.Lock()
	*cache = nil
	e.catMu.Unlock()
	return ref
}

func (e *Engine) routeClient(ctx context.Context, j *job) (commitFn, error) {
	id := j.link.PTDID
	if id == "" {
		return nil, errDefer
	}
	r := j.pl.Route
	if r == nil {
		return nil, nil
	}
	if j.link.MatchedBy != outbox.MatchedByCreate {
		// The create found the client already in PTD: it is not new, and keeps the groups,
		// package and access its coach gave it.
		return nil, nil
	}
	if r.Group != "" {
		if err := e.remote.PTD.AddToGroup(ctx, id, e.groupRef(ctx, r.Group)); err != nil {
			return nil, fmt.Errorf("cannot route client to group %q (route %s): %w", r.Group, r.Name, err)
		}
	}
	if r.Package != "" {
		if err := e.remote.PTD.AssignPackage(ctx, id, e.packageRef(ctx, r.Package)); err != nil {
			return nil, fmt.Errorf("cannot route client to package %q (route %s): %w", r.Package, r.Name, err)
		}
	}
	if r.Access != "" {
		if err := e.remote.PTD.SetAccess(ctx, id, r.Access); err != nil {
			return nil, fmt.Errorf("cannot set access %q (route %s): %w", r.Access, r.Name, err)
		}
	}
	return nil, nil
}

// ---- reminders and deletes ----

func (e *Engine) sendReminder(ctx context.Context, j *job) (commitFn, error) {
	r := j.pl.Reminder
	if r == nil {
		return nil, nil
	}
	if _, err := e.remote.PTD.SendReminder(ctx, *r); err != nil {
		return nil, err
	}
	e.m.RemindersSent(1)
	return nil, nil
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
