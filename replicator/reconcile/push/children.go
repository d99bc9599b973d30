package push

import (
	"context"
	"fmt"

	"ptsync/apiclient/ptd"
	"ptsync/diff"
	"ptsync/replicator/reconcile/kinds"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/store"
)

// parentIDs returns the contact ids of a child's parent on both sides.
func parentIDs(j *job) (gid, pid string) { return j.parent.GHLID, j.parent.PTDID }

// linkedElsewhere reports whether a record of kind on side is already linked (so a look-up
// must not adopt it).
func (p *Pusher) linkedElsewhere(kind, side, id string) bool {
	found := false
	_ = p.Store.View(func(tx *store.Tx) error {
		var err error
		if side == store.SideGHL {
			_, err = tx.LinkByGHL(kind, id)
		} else {
			_, err = tx.LinkByPTD(kind, id)
		}
		found = err == nil
		return nil
	})
	return found
}

// childVerb is what a child op does on its target.
type childVerb int

const (
	verbCreate childVerb = iota + 1 // look the record up first, else create; nothing if linked
	verbUpsert                      // create or replace, every time (idempotent on the target)
	verbUpdate
	verbDelete
)

// childOp is one child outbox op resolved against the kinds: what it does, where, with which
// calls, and how a create recognises a record it may already have made.
type childOp struct {
	kind   kinds.ChildKind
	verb   childVerb
	target string // the side written
	into   string // the store kind of the target's records
	calls  kinds.ChildCalls
	// values and key match a listed record to a create's fields (nil: no look-up).
	values func(r store.ChildRecord) diff.Snapshot
	key    func(v diff.Snapshot) string
	// claimers are kinds whose links also take target records of into.
	claimers []string
}

// resolveChildOp finds what op of kind k does on target. An op the kind does not declare for
// that target is ptd.ErrInvalidInput (the entry is dead-lettered).
func resolveChildOp(ks []kinds.ChildKind, k kinds.ChildKind, op, target string) (childOp, error) {
	t := childOp{kind: k, target: target, into: k.Name}
	switch {
	case k.Direction == kinds.BothWays:
		side := k.GHL
		if target == store.SidePTD {
			side = k.PTD
			t.claimers = kinds.Claimers(ks, k.Name)
		}
		t.calls, t.values, t.key = side.Calls, side.Values, k.Key
		switch op {
		case k.Ops.Create:
			t.verb = verbCreate
		case k.Ops.Update:
			t.verb = verbUpdate
		case k.Ops.Delete:
			t.verb = verbDelete
		}
	case k.Direction == kinds.ToPTD && target == store.SidePTD:
		for _, s := range k.Surfaces {
			if op != s.Create && op != s.Update {
				continue
			}
			t.calls, t.verb = s.Calls, verbUpdate
			if op == s.Create {
				t.verb = verbCreate
				if s.Update == "" {
					t.verb = verbUpsert
				}
			}
			if s.Into != "" {
				t.into = s.Into
			}
			for _, into := range ks {
				if into.Name == t.into && into.Direction == kinds.BothWays {
					t.values, t.key = into.PTD.Values, into.Key
				}
			}
			t.claimers = kinds.Claimers(ks, t.into)
			break
		}
	}
	if t.verb == 0 {
		return t, fmt.Errorf("cannot push %s op %q to %s: %w", k.Name, op, target, ptd.ErrInvalidInput)
	}
	return t, nil
}

// writeOf is what an entry's payload asks the target to hold.
func writeOf(pl outbox.Payload) kinds.Write {
	w := kinds.Write{Fields: make(map[string]string, len(pl.Fields)), Appointment: pl.Appointment}
	for f, fw := range pl.Fields {
		w.Fields[f] = fw.Value.S
	}
	return w
}

// pushChild performs one outbox entry of a child kind, any kind, and returns what to commit
// on success: the link's id on the target, the mirror's copy of what was written and the new
// base in one transaction (echo suppression), or for a delete the removal of the record and
// the link. A create first looks the record up on the target (a create whose outcome was
// unknown may have landed) unless the op is an upsert; an entry whose parent is not yet on
// the target waits (errDefer).
func (p *Pusher) pushChild(ctx context.Context, j *job, k kinds.ChildKind) (commitFn, error) {
	t, err := resolveChildOp(p.Kinds, k, j.o.Op, j.o.Target)
	if err != nil {
		return nil, err
	}
	gid, pid := parentIDs(j)
	parent, targetID := gid, &j.link.GHLID
	if t.target == store.SidePTD {
		parent, targetID = pid, &j.link.PTDID
	}
	switch t.verb {
	case verbCreate, verbUpsert:
		return p.pushChildCreate(ctx, j, t, parent, targetID)
	case verbUpdate:
		return p.pushChildUpdate(ctx, j, t, parent, *targetID)
	}
	return p.pushChildDelete(ctx, j, t, parent, *targetID)
}

func (p *Pusher) pushChildCreate(ctx context.Context, j *job, t childOp, parent string, targetID *string) (commitFn, error) {
	if t.verb == verbCreate && *targetID != "" {
		return nil, nil
	}
	if parent == "" {
		return nil, errDefer
	}
	env, w := p.childEnv(), writeOf(j.pl)
	rec, err := p.adoptChild(ctx, t, env, parent, w)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		if rec, err = t.calls.Create(ctx, env, parent, w); err != nil {
			return nil, err
		}
	}
	now, l := p.Now().UTC(), j.link
	return func(tx *store.Tx) error {
		if t.target == store.SidePTD {
			l.PTDID = rec.ChildID()
		} else {
			l.GHLID = rec.ChildID()
		}
		if err := tx.PutLink(&l); err != nil {
			return err
		}
		if err := tx.PutChild(t.into, t.target, rec); err != nil {
			return err
		}
		return baseCommit(tx, l.ID, j.pl.Fields, now)
	}, nil
}

// adoptChild looks for a record on the target that a create with w may already have made:
// the first listed one with the same match key that no link takes. nil when there is none
// or the op needs no look-up.
func (p *Pusher) adoptChild(ctx context.Context, t childOp, env kinds.ChildEnv, parent string, w kinds.Write) (store.ChildRecord, error) {
	if t.verb != verbCreate || t.calls.List == nil || t.key == nil {
		return nil, nil
	}
	listed, err := t.calls.List(ctx, env, parent)
	if err != nil {
		return nil, err
	}
	want := diff.Snapshot{Values: diff.Values{}}
	for f, v := range w.Fields {
		want.Values[f] = diff.Scalar(v)
	}
	key := t.key(want)
next:
	for _, r := range listed {
		if t.key(t.values(r)) != key || p.linkedElsewhere(t.into, t.target, r.ChildID()) {
			continue
		}
		for _, c := range t.claimers {
			if p.linkedElsewhere(c, t.target, r.ChildID()) {
				continue next
			}
		}
		return r, nil
	}
	return nil, nil
}

func (p *Pusher) pushChildUpdate(ctx context.Context, j *job, t childOp, parent, id string) (commitFn, error) {
	w := writeOf(j.pl)
	rec, err := t.calls.Update(ctx, p.childEnv(), parent, id, w)
	if err != nil {
		return nil, err
	}
	now, l := p.Now().UTC(), j.link
	return func(tx *store.Tx) error {
		out := rec
		if t.calls.Patch != nil {
			stored, err := tx.ChildByID(t.into, t.target, id)
			if err != nil {
				stored = nil
			}
			out = t.calls.Patch(stored, rec, w)
		}
		if err := tx.PutChild(t.into, t.target, out); err != nil {
			return err
		}
		return baseCommit(tx, l.ID, j.pl.Fields, now)
	}, nil
}

func (p *Pusher) pushChildDelete(ctx context.Context, j *job, t childOp, parent, id string) (commitFn, error) {
	if err := t.calls.Delete(ctx, p.childEnv(), parent, id); err != nil {
		return nil, err
	}
	l := j.link
	other, otherID := store.SidePTD, l.PTDID
	if t.target == store.SidePTD {
		other, otherID = store.SideGHL, l.GHLID
	}
	return func(tx *store.Tx) error {
		if r, err := tx.ChildByID(t.into, t.target, id); err == nil {
			if err := tx.DeleteChild(t.into, t.target, r.ParentID(), r.ChildID()); err != nil {
				return err
			}
		}
		if err := tx.ClearQuarantine(t.kind.Name, other, otherID); err != nil {
			return err
		}
		return tx.DeleteLink(l.ID)
	}, nil
}
