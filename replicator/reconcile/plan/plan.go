// Package plan is the reconcile stage that decides: from one consistent read of the mirror it
// links HighLevel contacts with PTD clients (stored link, else email, else phone, else a
// create on the other side), merges every linked pair field by field with diff.Merge against
// the stored base, plans the children, new-contact routes and the delete policy, and writes
// the resulting outbox entries (package outbox) with their history, bases and conflicts in
// one transaction. It also queues the writes of task reminders and of an operator's conflict
// resolution. It never calls a remote system; the pusher applies what it wrote.
package plan

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/config"
	"ptsync/replicator/reconcile/kinds"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/replicator/reconcile/remote"
	"ptsync/store"
)

// Options build a Planner. Store, Remote, Mapping, Config and Logger are required; Now
// defaults to time.Now.
type Options struct {
	Store   *store.DB
	Remote  *remote.Systems
	Mapping *mapping.Mapping
	// Kinds are the child kinds planned, in Order.
	Kinds []kinds.ChildKind
	// Config supplies routes, reminders and the delete policy (config.Parse's, validated).
	Config *config.Config
	Logger hclog.Logger
	Now    func() time.Time
	// NoCreateInPTD and NoCreateInGHL disable creating unmatched records on that side.
	NoCreateInPTD, NoCreateInGHL bool
}

// Planner plans for one pair. Options are read-only after New. Draft only reads, so it may
// run beside anything; Commit, QueueReminders and Resolve write and must be serialized by
// the caller with each other and with the pusher (the Engine's job lock), because a plan is
// only valid against the mirror it read.
type Planner struct{ Options }

// New returns a Planner over o. It performs no I/O.
func New(o Options) *Planner {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Planner{o}
}

// CursorCycle counts reconcile cycles (Value is the number), for history.
const CursorCycle = "reconcile.cycle"

// Plan is what one reconcile decided (or, for a dry run, would decide). It is data: the
// `ptsync plan --json` output.
type Plan struct {
	At        time.Time  `json:"at"`
	Cycle     uint64     `json:"cycle"`
	ReadOnly  bool       `json:"readOnly"`
	Links     []Link     `json:"links"`
	Writes    []Write    `json:"writes"`
	Conflicts []Conflict `json:"conflicts"`
	Skipped   []Skip     `json:"skipped"`
	// Decisions counts field decisions recorded in history.
	Decisions int `json:"decisions"`
}

// Link is a new link: two records matched, or one to be created on the other side.
type Link struct {
	LinkID    string `json:"linkId,omitempty"` // empty in a dry run
	Kind      string `json:"kind"`
	GHLID     string `json:"ghlId,omitempty"`
	PTDID     string `json:"ptdId,omitempty"`
	MatchedBy string `json:"matchedBy"`
}

// Write is one outbox entry: a write the pusher will make.
type Write struct {
	Target     string   `json:"target"`
	Op         string   `json:"op"`
	LinkID     string   `json:"linkId,omitempty"`
	RecordKind string   `json:"recordKind"`
	GHLID      string   `json:"ghlId,omitempty"`
	PTDID      string   `json:"ptdId,omitempty"`
	Fields     []string `json:"fields,omitempty"`
	Summary    string   `json:"summary"`
}

// Conflict is a manual-rule conflict queued for the operator.
type Conflict struct {
	LinkID string `json:"linkId"`
	Field  string `json:"field"`
	Base   string `json:"base"`
	GHL    string `json:"ghl"`
	PTD    string `json:"ptd"`
}

// Skip is a record the plan left alone, with the reason.
type Skip struct {
	Kind   string `json:"kind"`
	Side   string `json:"side"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// IsEmpty reports whether the plan writes nothing anywhere (skips do not count).
func (p Plan) IsEmpty() bool { return len(p.Writes) == 0 && len(p.Links) == 0 && len(p.Conflicts) == 0 }

// The words a plan and the mirror use for how a record was linked, why a record was left
// alone and why a field is held; operators read them in ptsync plan, history and conflicts.

// SkipAwaitingPTDListing is the skip reason of a HighLevel contact that matched no PTD client
// before the first complete PTD listing is in the mirror: it is neither linked nor created yet.
const SkipAwaitingPTDListing = "waiting for the first complete PT Distinction client listing before creating a client"

// ReasonBothChanged is the Reason of a conflict of the manual rule.
const ReasonBothChanged = "both sides changed it since they last agreed (rule manual)"

// action is one link's share of a plan: a (possibly new) link, its base, history, outbox
// entries and conflicts, committed together.
type action struct {
	link      *store.Link
	newLink   bool
	parent    *action // for a new child of a new contact link
	base      *store.Base
	history   []store.HistoryEntry
	entries   []store.OutboxEntry
	conflicts []store.Conflict
	resolved  []string // conflict fields that resolved themselves
	// release is a quarantine entry to clear (an applied delete policy with nothing left
	// to undo), and unlink removes the link and its child links (a survivor that was
	// deleted, whose returned record must be linked or created afresh).
	release *store.QuarantineEntry
	unlink  bool
}

// pass accumulates actions over a snapshot.
type pass struct {
	*Planner
	s     *snapshot
	ro    bool
	now   time.Time
	acts  []*action
	skips []Skip
	// claimed marks records linked by this plan (kind/side/id).
	claimed map[string]bool
}

// Draft is one computed plan before it is written: Plan holds its header (time, cycle,
// read-only, the skipped records) until Describe fills its lists; Commit writes it.
type Draft struct {
	Plan Plan
	acts []*action
}

// Draft computes what the next reconcile would do, from the mirror only (one read
// transaction, no network, nothing written): every linked pair without a pending outbox
// entry merged, unlinked records matched or planned as creates, children, routes and the
// delete policy. Safe while other stages run; the caller serializes it with Commit.
func (p *Planner) Draft(ctx context.Context) (*Draft, error) {
	s, err := p.loadSnapshot()
	if err != nil {
		return nil, fmt.Errorf("cannot read mirror: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ps := &pass{Planner: p, s: s, ro: p.Remote.ReadOnly(ctx), now: p.Now().UTC(), claimed: map[string]bool{}}
	ps.contacts()
	ps.deletes()
	return &Draft{Plan: Plan{At: ps.now, Cycle: s.cycle + 1, ReadOnly: ps.ro, Skipped: ps.skips}, acts: ps.acts}, nil
}

// Commit writes d in ONE transaction: new links (their ids assigned now), bases, history,
// outbox entries, conflicts, the conflicts that resolved themselves, the delete policy's
// settlements and the cycle number. A failure writes nothing; planning again plans the same.
// d must come from Draft over the same mirror with no Commit in between (a second commit of
// one draft would queue its writes twice).
func (p *Planner) Commit(d *Draft) error {
	return p.Store.Update(func(tx *store.Tx) error {
		for _, a := range d.acts {
			if err := commitAction(tx, a, d.Plan.Cycle); err != nil {
				return err
			}
		}
		return tx.SetCursor(CursorCycle, store.Cursor{Value: strconv.FormatUint(d.Plan.Cycle, 10)})
	})
}

// commitAction writes one link's share of a plan in tx, assigning the link's id.
func commitAction(tx *store.Tx, a *action, cycle uint64) error {
	if a.newLink {
		if a.parent != nil {
			a.link.ParentLinkID = a.parent.link.ID
		}
		if err := tx.PutLink(a.link); err != nil {
			return err
		}
	}
	id := a.link.ID
	if a.base != nil {
		a.base.LinkID = id
		if err := tx.PutBase(*a.base); err != nil {
			return err
		}
	}
	for i := range a.history {
		h := a.history[i]
		h.LinkID, h.Cycle = id, cycle
		if err := tx.AppendHistory(&h); err != nil {
			return err
		}
	}
	for i := range a.entries {
		o := &a.entries[i]
		o.LinkID, o.RecordID = id, id
		if err := tx.Enqueue(o); err != nil {
			return err
		}
	}
	for _, c := range a.conflicts {
		c.LinkID = id
		if err := tx.PutConflict(c); err != nil {
			return err
		}
	}
	for _, f := range a.resolved {
		if _, err := tx.ResolveConflict(id, f, "auto: the sides agree again"); err != nil {
			return err
		}
	}
	return settleDeleted(tx, a)
}

// Describe fills d.Plan's lists from the actions (never nil, so JSON shows []): after Commit
// they carry the new links' ids, before it (a dry run) they are empty.
func (d *Draft) Describe() {
	p := &d.Plan
	p.Links, p.Writes, p.Conflicts = []Link{}, []Write{}, []Conflict{}
	if p.Skipped == nil {
		p.Skipped = []Skip{}
	}
	for _, a := range d.acts {
		if a.newLink {
			p.Links = append(p.Links, Link{LinkID: a.link.ID, Kind: a.link.Kind, GHLID: a.link.GHLID, PTDID: a.link.PTDID, MatchedBy: a.link.MatchedBy})
		}
		for _, o := range a.entries {
			w := Write{Target: o.Target, Op: o.Op, LinkID: a.link.ID, RecordKind: o.RecordKind, GHLID: a.link.GHLID, PTDID: a.link.PTDID}
			var pl outbox.Payload
			_ = json.Unmarshal(o.Payload, &pl)
			w.Fields, w.Summary = outbox.Summarize(pl)
			p.Writes = append(p.Writes, w)
		}
		for _, c := range a.conflicts {
			p.Conflicts = append(p.Conflicts, Conflict{LinkID: a.link.ID, Field: c.Field, Base: c.Base, GHL: c.GHL, PTD: c.PTD})
		}
		p.Decisions += len(a.history)
	}
}

// Rules lists the rule of every history line d records, one per decision, for
// ptsync_reconcile_decisions_total.
func (d *Draft) Rules() []string {
	var out []string
	for _, a := range d.acts {
		for _, h := range a.history {
			out = append(out, h.Rule)
		}
	}
	return out
}

func (p *pass) skip(kind, side, id, reason string) {
	p.skips = append(p.skips, Skip{Kind: kind, Side: side, ID: id, Reason: reason})
}

func (p *pass) quarantined(kind, side, id string) bool {
	_, ok := p.s.quar[qk(kind, side, id)]
	return ok
}

func (p *pass) add(a *action) {
	if a.newLink || a.base != nil || len(a.history) > 0 || len(a.entries) > 0 || len(a.conflicts) > 0 || len(a.resolved) > 0 ||
		a.release != nil || a.unlink {
		p.acts = append(p.acts, a)
	}
}

func strp(s string) *string { return &s }
