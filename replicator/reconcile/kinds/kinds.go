// Package kinds describes each kind of a contact's children (tasks, notes, appointments) to
// the reconcile stages: which way its records flow, the fields merged, the outbox ops, and
// the remote calls that write each side. The planner, the pusher and the PTD children poll
// iterate over the kinds instead of naming them, so a new kind is one file here (and its
// entries in the other layers' registries: docs/extending.md). Descriptors are values built
// fresh by DefaultChildKinds; nothing here holds state.
package kinds

import (
	"context"
	"errors"
	"time"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/diff"
	"ptsync/internal/registry"
	"ptsync/replicator/reconcile/remote"
	"ptsync/store"
)

// Direction says which way a child kind's records flow between HighLevel and PTD.
type Direction int

const (
	// BothWays kinds are merged field by field (diff.Merge against the link's base) and
	// created, updated and deleted on either side: tasks, notes.
	BothWays Direction = iota + 1
	// ToPTD kinds are read-only on the HighLevel side: each record is surfaced in PTD as one
	// of the kind's Surfaces, re-surfaced when its fingerprint changes, and nothing is ever
	// written to HighLevel or read back from PTD: appointments.
	ToPTD
)

// ChildKind describes one kind of a contact's children to the planner, the pusher and the
// PTD children poll. The mirror must register the kind (store.ChildKind) on the sides it
// reads: the HighLevel side always, the PTD side for BothWays kinds.
type ChildKind struct {
	// Name is the store kind (store.KindTask): the link, outbox and history record kind.
	Name string
	// Order places the kind among the others (tasks 10, notes 20, appointments 30): the order
	// in which a contact's children are planned, hence of their outbox entries.
	Order     int
	Direction Direction

	// BothWays kinds.
	//
	// Cap is the PTD capability the kind needs (without it nothing of the kind is planned
	// nor polled; Work says what is skipped, logged and counted once). Specs are the merged
	// fields, Ops the outbox ops on either target (part of the file format), Key the match
	// key that links an unlinked pair (computed from either side's values, or from a write's
	// fields). GHL and PTD are the two sides.
	Cap      ptd.Capability
	Work     string
	Specs    []diff.FieldSpec
	Ops      ChildOps
	Key      func(v diff.Snapshot) string
	GHL, PTD ChildSide
	// Same reports that a record the PTD poll listed changes nothing in the stored one (it is
	// not rewritten); nil: every listed record is written.
	Same func(stored, listed store.ChildRecord) bool

	// ToPTD kinds.
	//
	// Fingerprint sums up a HighLevel record as PTD shows it (kept in the link's base: an
	// unchanged fingerprint plans nothing); ok false skips the record (nothing to show yet).
	// Surfaces are the PTD representations in order of preference: the first whose
	// capability the driver has is used, and the missing ones are said once.
	Fingerprint func(r store.ChildRecord) (fp string, ok bool)
	Surfaces    []Surface
}

// ChildOps are a BothWays kind's outbox ops, the same on both targets.
type ChildOps struct{ Create, Update, Delete string }

// ChildSide is one side of a BothWays kind: how its mirrored records read as merge values,
// which of them may be copied to the other side, and the calls that write it. Values and
// Creatable must be pure (the planner calls them while it holds no lock and writes nothing).
type ChildSide struct {
	// Values gives a record's merged fields (Specs' names, normalized values as strings), and
	// its UpdatedAt when the side has one (the newest rule).
	Values func(r store.ChildRecord) diff.Snapshot
	// Creatable reports whether an unmatched record is created on the other side; nil: all.
	Creatable func(r store.ChildRecord) bool
	// Calls write the side.
	Calls ChildCalls
}

// Surface is one way a ToPTD kind appears in PTD. A kind lists several in order of
// preference; the planner uses the first whose Cap the driver declares, so a driver without
// PTD appointments still shows them (as notes), and one with neither shows nothing.
type Surface struct {
	// Cap is what the driver needs for this surface; Work what is skipped without it.
	Cap  ptd.Capability
	Work string
	// Create is the op of a first surfacing; Update, when set, the op once the link has a PTD
	// id (else Create repeats: an upsert).
	Create, Update string
	// Into is the store kind of the PTD records this surface writes ("" for the kind's own):
	// appointments surfaced as notes are PTD notes. A PTD record of Into linked by this kind
	// is not a free record of Into (the Into kind's planner leaves it alone).
	Into string
	// Write is what the outbox entry carries for r.
	Write func(r store.ChildRecord) Write
	// Calls write PTD: Create for Create, Update for Update, and List for the look-up before
	// a Create (nil: Create is idempotent and needs none).
	Calls ChildCalls
}

// Write is what one child write sends: field values by spec name, and for surfaces that
// have one, a whole PTD appointment.
type Write struct {
	Fields      map[string]string
	Appointment *ptdwire.Appointment
}

// ChildCalls are the remote calls of one side (or surface) of a kind. Each returns the
// record as the mirror stores it on that side, fetched at env.Now(); parent is the contact
// (HighLevel) or client (PTD) id. Calls a side cannot serve stay nil.
type ChildCalls struct {
	// List lists parent's records, for the look-up that adopts a create whose outcome was
	// unknown (a crash between the call and the commit) instead of creating a duplicate.
	List func(ctx context.Context, env ChildEnv, parent string) ([]store.ChildRecord, error)
	// Create creates a record from w.
	Create func(ctx context.Context, env ChildEnv, parent string, w Write) (store.ChildRecord, error)
	// Update sends the fields present in w.Fields (only those) to record id.
	Update func(ctx context.Context, env ChildEnv, parent, id string, w Write) (store.ChildRecord, error)
	// Patch, when set, turns the stored copy (nil if none) and Update's answer into the
	// record to store; without it the answer is stored.
	Patch func(stored, got store.ChildRecord, w Write) store.ChildRecord
	// Delete deletes record id; a record already gone is success.
	Delete func(ctx context.Context, env ChildEnv, parent, id string) error
}

// ChildEnv is what a kind's calls use: the two clients (PTD may lack the capability; the
// planner never plans such a call), the zone of HighLevel's zone-less times and the clock.
type ChildEnv struct {
	GHL      remote.GHL
	PTD      ptd.Adapter
	TimeZone *time.Location
	Now      func() time.Time
}

// NewEnv is the environment of the kinds' calls over sys: its clients, the time zone of
// HighLevel's zone-less times and now as UTC.
func NewEnv(sys *remote.Systems, zone *time.Location, now func() time.Time) ChildEnv {
	return ChildEnv{GHL: sys.GHL, PTD: sys.PTD, TimeZone: zone, Now: func() time.Time { return now().UTC() }}
}

// kindFiles holds one method per child kind, each in the kind's own file (kind_task.go:
// func (kindFiles) Task() ChildKind). DefaultChildKinds collects them, so a new kind is one
// new file here and no edit elsewhere in this package.
type kindFiles struct{}

// DefaultChildKinds returns the child kinds this build syncs, in Order; a new slice on every
// call.
func DefaultChildKinds() []ChildKind {
	return registry.Collect(kindFiles{}, func(k ChildKind) int { return k.Order })
}

// Find returns the kind of ks named name; ok is false when ks has none (the name of a
// contact, a reminder, or a kind this build does not sync).
func Find(ks []ChildKind, name string) (k ChildKind, ok bool) {
	for _, k := range ks {
		if k.Name == name {
			return k, true
		}
	}
	return ChildKind{}, false
}

// Claimers lists the kinds of ks with a surface into kind's PTD records: a PTD record of
// kind that one of them links is taken (neither free to match nor to create from).
func Claimers(ks []ChildKind, kind string) []string {
	var out []string
	for _, k := range ks {
		for _, s := range k.Surfaces {
			if s.Into == kind {
				out = append(out, k.Name)
				break
			}
		}
	}
	return out
}

// PushOps lists the ops the kinds of ks push to target (store.SideGHL or store.SidePTD), in
// kind order, each once: the child kinds' share of the op label of ptsync_pushes_total.
func PushOps(ks []ChildKind, target string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(ops ...string) {
		for _, op := range ops {
			if op != "" && !seen[op] {
				seen[op] = true
				out = append(out, op)
			}
		}
	}
	for _, k := range ks {
		switch {
		case k.Direction == BothWays:
			add(k.Ops.Create, k.Ops.Update, k.Ops.Delete)
		case target == store.SidePTD:
			for _, s := range k.Surfaces {
				add(s.Create, s.Update)
			}
		}
	}
	return out
}

// childRecords converts listed wire records, in order.
func childRecords[W any](ws []W, conv func(W) store.ChildRecord) []store.ChildRecord {
	out := make([]store.ChildRecord, len(ws))
	for i, w := range ws {
		out[i] = conv(w)
	}
	return out
}

// alreadyGone is err, except that gone (the side's ErrNotFound) is success: a delete of a
// record the target no longer has did what it was asked.
func alreadyGone(err, gone error) error {
	if errors.Is(err, gone) {
		return nil
	}
	return err
}
