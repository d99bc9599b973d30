package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/config"
	"ptsync/diff"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/store"
)

// CursorCycle counts reconcile cycles (Value is the number), for history.
const CursorCycle = "reconcile.cycle"

// Plan is what one reconcile decided (or, for a dry run, would decide). It is data: the
// `ptsync plan --json` output.
type Plan struct {
	At        time.Time      `json:"at"`
	Cycle     uint64         `json:"cycle"`
	ReadOnly  bool           `json:"readOnly"`
	Links     []PlanLink     `json:"links"`
	Writes    []PlanWrite    `json:"writes"`
	Conflicts []PlanConflict `json:"conflicts"`
	Skipped   []PlanSkip     `json:"skipped"`
	// Decisions counts field decisions recorded in history.
	Decisions int `json:"decisions"`
}

// PlanLink is a new link: two records matched, or one to be created on the other side.
type PlanLink struct {
	LinkID    string `json:"linkId,omitempty"` // empty in a dry run
	Kind      string `json:"kind"`
	GHLID     string `json:"ghlId,omitempty"`
	PTDID     string `json:"ptdId,omitempty"`
	MatchedBy string `json:"matchedBy"`
}

// PlanWrite is one outbox entry: a write the pusher will make.
type PlanWrite struct {
	Target     string   `json:"target"`
	Op         string   `json:"op"`
	LinkID     string   `json:"linkId,omitempty"`
	RecordKind string   `json:"recordKind"`
	GHLID      string   `json:"ghlId,omitempty"`
	PTDID      string   `json:"ptdId,omitempty"`
	Fields     []string `json:"fields,omitempty"`
	Summary    string   `json:"summary"`
}

// PlanConflict is a manual-rule conflict queued for the operator.
type PlanConflict struct {
	LinkID string `json:"linkId"`
	Field  string `json:"field"`
	Base   string `json:"base"`
	GHL    string `json:"ghl"`
	PTD    string `json:"ptd"`
}

// PlanSkip is a record the plan left alone, with the reason.
type PlanSkip struct {
	Kind   string `json:"kind"`
	Side   string `json:"side"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// IsEmpty reports whether the plan writes nothing anywhere (skips do not count).
func (p Plan) IsEmpty() bool { return len(p.Writes) == 0 && len(p.Links) == 0 && len(p.Conflicts) == 0 }

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

// planner accumulates actions over a snapshot.
type planner struct {
	e     *Engine
	s     *snapshot
	ro    bool
	now   time.Time
	acts  []*action
	skips []PlanSkip
	// claimed marks records linked by this plan (kind/side/id).
	claimed map[string]bool
}

// Plan computes what the next Reconcile would do, from the mirror only (no network), and
// writes nothing. Safe to call while the service runs.
func (e *Engine) Plan(ctx context.Context) (Plan, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	acts, p, err := e.plan(ctx)
	if err != nil {
		return p, err
	}
	e.describe(&p, acts)
	return p, nil
}

// Reconcile links, merges and plans every linked pair whose records have no pending outbox
// entry, and commits the new links, bases, history, conflicts and outbox entries in ONE
// transaction. Conflicts of the manual rule are stored for `ptsync conflicts`. A crash before
// the commit leaves nothing behind; the next call plans the same again.
func (e *Engine) Reconcile(ctx context.Context) (Plan, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	acts, p, err := e.plan(ctx)
	if err == nil {
		// Planning takes seconds on a large mirror: a stop asked for meanwhile wins over
		// committing (nothing is lost: the next cycle plans the same again).
		err = ctx.Err()
	}
	if err == nil {
		err = e.commit(acts, &p)
	}
	if err != nil {
		return p, err
	}
	e.describe(&p, acts)
	for _, a := range acts {
		for _, h := range a.history {
			e.m.ReconcileDecision(decisionLabel(h.Rule))
		}
	}
	e.publish()
	if !p.IsEmpty() {
		e.log.Info("reconcile planned", "cycle", p.Cycle, "links", len(p.Links), "writes", len(p.Writes), "conflicts", len(p.Conflicts), "skipped", len(p.Skipped))
	}
	return p, nil
}

func (e *Engine) plan(ctx context.Context) ([]*action, Plan, error) {
	s, err := e.loadSnapshot()
	if err != nil {
		return nil, Plan{}, fmt.Errorf("cannot read mirror: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, Plan{}, err
	}
	pl := &planner{e: e, s: s, ro: e.remote.ReadOnly(ctx), now: e.now().UTC(), claimed: map[string]bool{}}
	pl.contacts()
	pl.deletes()
	p := Plan{At: pl.now, Cycle: s.cycle + 1, ReadOnly: pl.ro, Skipped: pl.skips}
	return pl.acts, p, nil
}

// commit writes the actions in one transaction, assigning link ids.
func (e *Engine) commit(acts []*action, p *Plan) error {
	return e.db.Update(func(tx *store.Tx) error {
		for _, a := range acts {
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
				h.LinkID, h.Cycle = id, p.Cycle
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
			if err := settleDeleted(tx, a); err != nil {
				return err
			}
		}
		return tx.SetCursor(CursorCycle, store.Cursor{Value: strconv.FormatUint(p.Cycle, 10)})
	})
}

// describe fills the plan's lists from the actions (never nil, so JSON shows []).
func (e *Engine) describe(p *Plan, acts []*action) {
	p.Links, p.Writes, p.Conflicts = []PlanLink{}, []PlanWrite{}, []PlanConflict{}
	if p.Skipped == nil {
		p.Skipped = []PlanSkip{}
	}
	for _, a := range acts {
		if a.newLink {
			p.Links = append(p.Links, PlanLink{LinkID: a.link.ID, Kind: a.link.Kind, GHLID: a.link.GHLID, PTDID: a.link.PTDID, MatchedBy: a.link.MatchedBy})
		}
		for _, o := range a.entries {
			w := PlanWrite{Target: o.Target, Op: o.Op, LinkID: a.link.ID, RecordKind: o.RecordKind, GHLID: a.link.GHLID, PTDID: a.link.PTDID}
			var pl outbox.Payload
			_ = json.Unmarshal(o.Payload, &pl)
			w.Fields, w.Summary = outbox.Summarize(pl)
			p.Writes = append(p.Writes, w)
		}
		for _, c := range a.conflicts {
			p.Conflicts = append(p.Conflicts, PlanConflict{LinkID: a.link.ID, Field: c.Field, Base: c.Base, GHL: c.GHL, PTD: c.PTD})
		}
		p.Decisions += len(a.history)
	}
}

func (p *planner) skip(kind, side, id, reason string) {
	p.skips = append(p.skips, PlanSkip{Kind: kind, Side: side, ID: id, Reason: reason})
}

func (p *planner) quarantined(kind, side, id string) bool {
	_, ok := p.s.quar[qk(kind, side, id)]
	return ok
}

func strp(s string) *string { return &s }

// ---- contacts ----

// contacts links unlinked records, merges linked pairs and plans creates.
func (p *planner) contacts() {
	s := p.s
	// Existing links first: merge pairs.
	for _, l := range s.links {
		if l.Kind != store.KindContact {
			continue
		}
		if l.GHLID != "" {
			p.claimed[qk(store.KindContact, store.SideGHL, l.GHLID)] = true
		}
		if l.PTDID != "" {
			p.claimed[qk(store.KindContact, store.SidePTD, l.PTDID)] = true
		}
		if s.pending[store.KindContact+"/"+l.ID] || l.GHLID == "" || l.PTDID == "" {
			continue
		}
		g, okG := s.ghl[l.GHLID]
		c, okP := s.ptd[l.PTDID]
		if !okG || !okP || p.quarantined(store.KindContact, store.SideGHL, l.GHLID) || p.quarantined(store.KindContact, store.SidePTD, l.PTDID) {
			continue // a deleted side: the delete policy decides, never a re-create
		}
		a := &action{link: l}
		p.mergeContact(a, g, c)
		p.children(a, l.GHLID, l.PTDID)
		p.add(a)
	}
	p.match()
	p.creates()
}

func (p *planner) add(a *action) {
	if a.newLink || a.base != nil || len(a.history) > 0 || len(a.entries) > 0 || len(a.conflicts) > 0 || len(a.resolved) > 0 ||
		a.release != nil || a.unlink {
		p.acts = append(p.acts, a)
	}
}

// ptdFieldCap returns the capability a write of PTD field wire needs.
func ptdFieldCap(wire string, v diff.Value) ptd.Capability {
	switch wire {
	case "tags":
		return ptd.CapTags
	case "groups":
		return ptd.CapGroups
	case "packages":
		return ptd.CapPackages
	case "access":
		if v.S == ptdwire.AccessPrintOnly {
			return ptd.CapPrintOnly
		}
		return ptd.CapAccess
	}
	return ptd.CapClientUpdate
}

// mergeContact merges one linked pair into a.
func (p *planner) mergeContact(a *action, g store.GHLContact, c store.PTDClient) {
	e := p.e
	old := p.s.bases[a.link.ID]
	res := diff.Merge(e.mp.Specs, e.mp.BaseSnapshot(old), e.mp.GHLValues(g), e.mp.PTDValues(c), e.mp.Options)
	dropped := p.held(a, res)
	heldFields := map[string]bool{}
	for f := range dropped {
		heldFields[f] = true
	}
	toGHL, toPTD := map[string]outbox.FieldWrite{}, map[string]outbox.FieldWrite{}
	for field, w := range res.ToGHL {
		if dropped[field] {
			continue
		}
		f := e.mp.Fields[field]
		switch {
		case p.ro:
			dropped[field] = true
		case mapping.UnwritableOnUpdate(f.GHL):
			dropped[field] = true
			e.remote.Once("unwritable/"+f.GHL, func() {
				e.log.Warn("highlevel does not accept this field on update; it flows one way only", "field", f.GHL)
			})
		default:
			toGHL[field] = outbox.FieldWrite{Wire: f.GHL, Value: w.Value, Add: w.Delta.Add, Remove: w.Delta.Remove}
		}
	}
	for field, w := range res.ToPTD {
		if dropped[field] {
			continue
		}
		f := e.mp.Fields[field]
		fw := outbox.FieldWrite{Wire: f.PTD, Value: w.Value, Add: w.Delta.Add, Remove: w.Delta.Remove}
		if !e.remote.Can(ptdFieldCap(f.PTD, w.Value), "write ptd field "+f.PTD) {
			dropped[field] = true
			continue
		}
		if f.PTD == "groups" && len(fw.Remove) > 0 && !e.remote.Can(ptd.CapGroupRemove, "remove ptd group membership") {
			fw.Remove = nil
		}
		if f.PTD == "packages" {
			fw.Remove = nil // the contract cannot take a package away
		}
		if w.Value.IsSet && len(fw.Add) == 0 && len(fw.Remove) == 0 {
			dropped[field] = true
			continue
		}
		toPTD[field] = fw
	}
	// Base: fields without writes take the merged base now; written fields get it on success.
	nb := store.Base{Fields: map[string]string{}, AgreedAt: p.now}
	if old != nil {
		for k, v := range old.Fields {
			nb.Fields[k] = v
		}
	}
	for _, spec := range e.mp.Specs {
		f := spec.Name
		_, wg := toGHL[f]
		_, wp := toPTD[f]
		v, ok := res.Base.Values[f]
		switch {
		case dropped[f] || !ok:
		case wg || wp:
			enc := mapping.EncodeValue(v)
			if wg {
				w := toGHL[f]
				w.Base = &enc
				toGHL[f] = w
			}
			if wp {
				w := toPTD[f]
				w.Base = &enc
				toPTD[f] = w
			}
		default:
			nb.Fields[f] = mapping.EncodeValue(v)
		}
	}
	if old == nil || !sameFields(old.Fields, nb.Fields) {
		if old != nil {
			nb.AgreedAt = old.AgreedAt
		}
		if len(toGHL) == 0 && len(toPTD) == 0 {
			nb.AgreedAt = p.now
		}
		a.base = &nb
	}
	for _, d := range res.Decisions {
		if dropped[d.Field] || d.Rule == diff.ReasonInvalid || d.Rule == diff.ReasonManual {
			continue
		}
		_, wg := toGHL[d.Field]
		_, wp := toPTD[d.Field]
		a.history = append(a.history, store.HistoryEntry{RecordKind: store.KindContact, RecordID: a.link.GHLID,
			Field: d.Field, Old: mapping.EncodeValue(d.Old), New: mapping.EncodeValue(d.New), Direction: direction(wg, wp), Rule: string(d.Rule)})
	}
	for _, iv := range res.Invalid {
		iv := iv
		e.remote.Once(fmt.Sprintf("invalid/%s/%s/%s", a.link.ID, iv.Field, iv.Side), func() {
			e.log.Warn("field value cannot be normalized; field left alone", "link", a.link.ID, "field", iv.Field, "side", iv.Side.String(), "error", iv.Err)
		})
	}
	open := map[string]bool{}
	for _, c := range res.Conflicts {
		open[c.Field] = true
		sc := store.Conflict{Field: c.Field, Base: mapping.EncodeValue(c.Base), GHL: mapping.EncodeValue(c.GHL), PTD: mapping.EncodeValue(c.PTD), Reason: ReasonBothChanged}
		if prev, ok := p.s.conflicts[a.link.ID+"\x00"+c.Field]; ok && prev.GHL == sc.GHL && prev.PTD == sc.PTD && prev.Base == sc.Base {
			continue
		}
		a.conflicts = append(a.conflicts, sc)
		a.history = append(a.history, store.HistoryEntry{RecordKind: store.KindContact, RecordID: a.link.GHLID,
			Field: c.Field, Old: sc.Base, New: sc.Base, Direction: "local", Rule: string(diff.ReasonManual)})
	}
	for _, c := range p.s.conflicts {
		if a.link.ID != "" && c.LinkID == a.link.ID && !open[c.Field] && !heldFields[c.Field] {
			a.resolved = append(a.resolved, c.Field)
		}
	}
	if len(toGHL) > 0 {
		a.entries = append(a.entries, outbox.Entry(store.SideGHL, outbox.OpContactUpdate, store.KindContact, outbox.Payload{Fields: toGHL, GHLUpdated: g.DateUpdated}))
	}
	if len(toPTD) > 0 {
		a.entries = append(a.entries, outbox.Entry(store.SidePTD, outbox.OpClientUpdate, store.KindContact, outbox.Payload{Fields: toPTD, PTDETag: c.ETag}))
	}
}

// held returns the fields an open conflict holds: the operator has not decided yet and the
// sides still hold the values the conflict recorded, so nothing is written for them.
func (p *planner) held(a *action, res diff.Result) map[string]bool {
	out := map[string]bool{}
	if a.link.ID == "" {
		return out
	}
	for _, c := range p.s.conflicts {
		if c.LinkID != a.link.ID {
			continue
		}
		gw, okG := res.ToGHL[c.Field]
		pw, okP := res.ToPTD[c.Field]
		if okG && mapping.EncodeValue(gw.Value) == c.PTD || okP && mapping.EncodeValue(pw.Value) == c.GHL {
			out[c.Field] = true
		}
	}
	return out
}

func direction(toGHL, toPTD bool) string {
	switch {
	case toGHL && toPTD:
		return "both"
	case toGHL:
		return "ptd->ghl"
	case toPTD:
		return "ghl->ptd"
	}
	return "local"
}

func sameFields(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// match links unlinked records: by normalized email first (all of them), then by E.164 phone
// where the phone names exactly one record on each side (a shared phone is disambiguated by
// name, else held for the operator rather than guessed or duplicated).
func (p *planner) match() {
	s := p.s
	free := func(side, id string) bool {
		return !p.claimed[qk(store.KindContact, side, id)] && !p.quarantined(store.KindContact, side, id)
	}
	ptdByEmail := map[string][]string{}
	ptdByPhone := map[string][]string{}
	for _, id := range s.ptdIDs {
		c := s.ptd[id]
		if c.Email != "" {
			ptdByEmail[c.Email] = append(ptdByEmail[c.Email], id)
		}
		if c.Phone != "" {
			ptdByPhone[c.Phone] = append(ptdByPhone[c.Phone], id)
		}
	}
	for _, gid := range s.ghlIDs {
		g := s.ghl[gid]
		if !free(store.SideGHL, gid) || g.Email == "" {
			continue
		}
		for _, pid := range ptdByEmail[g.Email] {
			if free(store.SidePTD, pid) {
				p.link(gid, pid, outbox.MatchedByEmail)
				break
			}
		}
	}
	ghlByPhone := map[string][]string{}
	for _, gid := range s.ghlIDs {
		if g := s.ghl[gid]; g.Phone != "" && free(store.SideGHL, gid) {
			ghlByPhone[g.Phone] = append(ghlByPhone[g.Phone], gid)
		}
	}
	phones := make([]string, 0, len(ghlByPhone))
	for ph := range ghlByPhone {
		phones = append(phones, ph)
	}
	sort.Strings(phones)
	for _, ph := range phones {
		gs := ghlByPhone[ph]
		var ps []string
		for _, pid := range ptdByPhone[ph] {
			if free(store.SidePTD, pid) {
				ps = append(ps, pid)
			}
		}
		if len(ps) == 0 {
			continue
		}
		if len(gs) == 1 && len(ps) == 1 {
			p.link(gs[0], ps[0], outbox.MatchedByPhone)
			continue
		}
		name := func(first, last string) string { return strings.ToLower(diff.Name(first + " " + last)) }
		for _, gid := range gs {
			g := s.ghl[gid]
			var hits []string
			for _, pid := range ps {
				if c := s.ptd[pid]; free(store.SidePTD, pid) && name(c.FirstName, c.LastName) == name(g.FirstName, g.LastName) {
					hits = append(hits, pid)
				}
			}
			if len(hits) == 1 {
				p.link(gid, hits[0], outbox.MatchedByPhone)
				continue
			}
			// Ambiguous: hold this contact back from a create that could duplicate a person.
			p.claimed[qk(store.KindContact, store.SideGHL, gid)] = true
			p.skip(store.KindContact, store.SideGHL, gid, "phone matches several records; link it by hand or give it an email")
		}
		for _, pid := range ps {
			if free(store.SidePTD, pid) {
				p.claimed[qk(store.KindContact, store.SidePTD, pid)] = true
				p.skip(store.KindContact, store.SidePTD, pid, "phone matches several records; link it by hand or give it an email")
			}
		}
	}
}

// link plans a new contact link between two existing records and merges them.
func (p *planner) link(gid, pid, by string) {
	p.claimed[qk(store.KindContact, store.SideGHL, gid)] = true
	p.claimed[qk(store.KindContact, store.SidePTD, pid)] = true
	a := &action{link: &store.Link{Kind: store.KindContact, GHLID: gid, PTDID: pid, MatchedBy: by}, newLink: true}
	p.mergeContact(a, p.s.ghl[gid], p.s.ptd[pid])
	p.add(a)
	p.children(a, gid, pid)
}

// creates plans records that matched nothing on the other side.
func (p *planner) creates() {
	s, e := p.s, p.e
	ptdEmails := map[string]bool{}
	for _, c := range s.ptd {
		ptdEmails[c.Email] = true
	}
	ghlEmails := map[string]bool{}
	for _, g := range s.ghl {
		if g.Email != "" {
			ghlEmails[g.Email] = true
		}
	}
	for _, gid := range s.ghlIDs {
		if p.claimed[qk(store.KindContact, store.SideGHL, gid)] || p.quarantined(store.KindContact, store.SideGHL, gid) {
			continue
		}
		g := s.ghl[gid]
		switch {
		case e.opts.NoCreateInPTD || e.remote.PTD == nil:
			continue
		case g.Email == "":
			p.skip(store.KindContact, store.SideGHL, gid, "no email: PT Distinction needs one to create a client")
			continue
		case ptdEmails[g.Email]:
			p.skip(store.KindContact, store.SideGHL, gid, "email already belongs to a linked PTD client (duplicate HighLevel contact?)")
			continue
		case strings.TrimSpace(g.FirstName) == "":
			p.skip(store.KindContact, store.SideGHL, gid, "no first name: PT Distinction needs one to create a client")
			continue
		case !s.ptdListed && e.remote.PTD.Capabilities().Has(ptd.CapClientRead):
			// Until a whole listing is mirrored, PTD may hold this person on a page not read
			// yet: a create now would be adopted at best (recorded as created, without the
			// merge an email match gets) and a duplicate at worst (matched by phone only).
			p.skip(store.KindContact, store.SideGHL, gid, SkipAwaitingPTDListing)
			continue
		case !e.remote.Can(ptd.CapClientCreate, "create ptd clients"):
			continue
		}
		ptdEmails[g.Email] = true
		p.createInPTD(g)
	}
	if p.ro || e.opts.NoCreateInGHL || e.remote.GHL == nil {
		return
	}
	for _, pid := range s.ptdIDs {
		if p.claimed[qk(store.KindContact, store.SidePTD, pid)] || p.quarantined(store.KindContact, store.SidePTD, pid) {
			continue
		}
		c := s.ptd[pid]
		if c.Email != "" && ghlEmails[c.Email] {
			p.skip(store.KindContact, store.SidePTD, pid, "email already belongs to a linked HighLevel contact")
			continue
		}
		p.createInGHL(c)
	}
}

// createValues returns the mapped fields of one side that may flow to the other, by mapping
// field name, normalized; empty values are left out.
func (p *planner) createValues(snap diff.Snapshot, to diff.Side) map[string]diff.Value {
	out := map[string]diff.Value{}
	for _, spec := range p.e.mp.Specs {
		if spec.Direction == diff.GHLToPTD && to == diff.SideGHL || spec.Direction == diff.PTDToGHL && to == diff.SidePTD {
			continue
		}
		v := snap.Values[spec.Name]
		if spec.Set {
			v = diff.SetOf(diff.Tags(v.Set)...)
		} else if n, err := spec.Normalizer.Apply(v.S, p.e.mp.Options.Locale); err == nil {
			v = diff.Scalar(n)
		} else {
			continue
		}
		if !v.IsEmpty() {
			out[spec.Name] = v
		}
	}
	return out
}

func (p *planner) createInPTD(g store.GHLContact) {
	e := p.e
	a := &action{link: &store.Link{Kind: store.KindContact, GHLID: g.ID, MatchedBy: outbox.MatchedByCreate}, newLink: true}
	fields := map[string]outbox.FieldWrite{}
	for name, v := range p.createValues(e.mp.GHLValues(g), diff.SidePTD) {
		f := e.mp.Fields[name]
		if f.PTD == "packages" || f.PTD == "groups" || (f.PTD == "tags" && !e.remote.PTD.Capabilities().Has(ptd.CapTags)) {
			continue // memberships are routed, not copied
		}
		if f.PTD == "access" && !e.remote.PTD.Capabilities().Has(ptdFieldCap("access", v)) {
			continue
		}
		enc := mapping.EncodeValue(v)
		fw := outbox.FieldWrite{Wire: f.PTD, Value: v, Base: &enc}
		if v.IsSet {
			fw.Add = v.Set
		}
		fields[name] = fw
		a.history = append(a.history, store.HistoryEntry{RecordKind: store.KindContact, RecordID: g.ID, Field: name,
			New: enc, Direction: "ghl->ptd", Rule: "create"})
	}
	a.entries = append(a.entries, outbox.Entry(store.SidePTD, outbox.OpClientCreate, store.KindContact, outbox.Payload{Fields: fields}))
	if r := p.route(g); r != nil {
		a.entries = append(a.entries, outbox.Entry(store.SidePTD, outbox.OpClientRoute, store.KindContact, outbox.Payload{Route: r}))
		a.history = append(a.history, store.HistoryEntry{RecordKind: store.KindContact, RecordID: g.ID, Field: "route",
			New: r.Name, Direction: "ghl->ptd", Rule: "route"})
	}
	p.add(a)
	p.children(a, g.ID, "")
}

// routeContact is c as route conditions see it.
func routeContact(c ghlwire.Contact) config.RouteContact {
	return config.RouteContact{ID: c.ID, Email: c.Email, FirstName: c.FirstName, LastName: c.LastName, Name: c.Name,
		Phone: c.Phone, CompanyName: c.CompanyName, Timezone: c.Timezone, Source: c.Source, Type: c.Type,
		AssignedTo: c.AssignedTo, Address1: c.Address1, City: c.City, State: c.State, Country: c.Country,
		PostalCode: c.PostalCode, Website: c.Website, DateOfBirth: c.DateOfBirth, DateAdded: c.DateAdded,
		DateUpdated: c.DateUpdated, Tags: c.Tags, Dnd: c.Dnd}
}

// route evaluates the configured routes in order against a new contact; the first match wins.
func (p *planner) route(g store.GHLContact) *outbox.Route {
	e := p.e
	if len(e.cfg.Routes) == 0 {
		return nil
	}
	vars := config.ContactVars(routeContact(mapping.GHLContact(g)))
	for _, r := range e.cfg.Routes {
		ok, err := r.Match(vars)
		if err != nil {
			e.remote.Once("route/"+r.Name, func() { e.log.Warn("route cannot be evaluated; skipping it", "route", r.Name, "error", err) })
			continue
		}
		if !ok {
			continue
		}
		rp := &outbox.Route{Name: r.Name}
		if r.Group != "" && e.remote.Can(ptd.CapGroups, "route new clients to a group") {
			rp.Group = r.Group
		}
		if r.Package != "" && e.remote.Can(ptd.CapPackages, "route new clients to a package") {
			rp.Package = r.Package
		}
		if r.Access != "" && e.remote.Can(ptdFieldCap("access", diff.Scalar(r.Access)), "set the access of routed clients") {
			rp.Access = r.Access
		}
		if rp.Group == "" && rp.Package == "" && rp.Access == "" {
			return nil
		}
		return rp
	}
	return nil
}

func (p *planner) createInGHL(c store.PTDClient) {
	e := p.e
	a := &action{link: &store.Link{Kind: store.KindContact, PTDID: c.ID, MatchedBy: outbox.MatchedByCreate}, newLink: true}
	fields := map[string]outbox.FieldWrite{}
	for name, v := range p.createValues(e.mp.PTDValues(c), diff.SideGHL) {
		f := e.mp.Fields[name]
		enc := mapping.EncodeValue(v)
		fields[name] = outbox.FieldWrite{Wire: f.GHL, Value: v, Base: &enc}
		a.history = append(a.history, store.HistoryEntry{RecordKind: store.KindContact, RecordID: c.ID, Field: name,
			New: enc, Direction: "ptd->ghl", Rule: "create"})
	}
	a.entries = append(a.entries, outbox.Entry(store.SideGHL, outbox.OpContactCreate, store.KindContact, outbox.Payload{Fields: fields}))
	p.add(a)
	p.children(a, "", c.ID)
}
