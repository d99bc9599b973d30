package plan

import (
	"ptsync/diff"
	"ptsync/replicator/reconcile/kinds"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/store"
)

// children plans the children of every kind of one contact link, in kind order: BothWays
// kinds by childPlan, ToPTD kinds by surfacePlan. gid or pid is empty when that side is
// still to be created by the parent's own entry.
func (p *pass) children(parent *action, gid, pid string) {
	if p.Remote.PTD == nil {
		return
	}
	var links []*store.Link
	if !parent.newLink {
		links = p.s.children[parent.link.ID]
	}
	ks := p.Kinds
	for _, k := range ks {
		switch k.Direction {
		case kinds.BothWays:
			p.childPlan(parent, gid, pid, links, k, kinds.Claimers(ks, k.Name))
		case kinds.ToPTD:
			p.surfacePlan(parent, gid, links, k)
		}
	}
}

// newChild returns an action for a new child link under parent.
func newChild(parent *action, kind, gid, pid, by string) *action {
	l := &store.Link{Kind: kind, GHLID: gid, PTDID: pid, MatchedBy: by}
	a := &action{link: l, newLink: true}
	if parent.newLink {
		a.parent = parent
	} else {
		l.ParentLinkID = parent.link.ID
	}
	return a
}

// childRecord is one child of a contact, reduced to what childPlan needs.
type childRecord struct {
	id        string
	key       string        // match key: an unlinked pair with equal keys is linked
	values    diff.Snapshot // field values to merge, or to create from
	creatable bool          // false: never created on the other side (it may still match)
}

// sideRecords reduces the snapshot's records of kind k on one side of a contact to what
// childPlan needs, in mirror order.
func (p *pass) sideRecords(k kinds.ChildKind, side string, cs kinds.ChildSide, parent string) []childRecord {
	var rs []childRecord
	for _, r := range p.s.kidsOf(k.Name, side, parent) {
		v := cs.Values(r)
		rs = append(rs, childRecord{r.ChildID(), k.Key(v), v, cs.Creatable == nil || cs.Creatable(r)})
	}
	return rs
}

// childPlan plans one kind of child of a contact link: merges linked pairs, plans the delete
// of a pair whose other side is quarantined (linkedChildren), links unlinked records with
// equal match keys and creates the rest on the other side (matchChildren, createInGHL). gid
// or pid is empty when that side of the contact is still to be created. Without k.Cap it
// plans nothing (said once). A PTD record linked by one of claimedBy (kinds surfaced into k)
// is not free. It only reads the snapshot and adds actions to p.
func (p *pass) childPlan(parent *action, gid, pid string, links []*store.Link, k kinds.ChildKind, claimedBy []string) {
	if !p.Remote.Can(k.Cap, k.Work) {
		return
	}
	cs := childSides{gBy: map[string]childRecord{}, pBy: map[string]childRecord{},
		inflightG: map[string]int{}, inflightP: map[string]int{}}
	if gid != "" {
		cs.gs = p.sideRecords(k, store.SideGHL, k.GHL, gid)
	}
	if pid != "" {
		cs.ps = p.sideRecords(k, store.SidePTD, k.PTD, pid)
	}
	for _, r := range cs.gs {
		cs.gBy[r.id] = r
	}
	for _, r := range cs.ps {
		cs.pBy[r.id] = r
	}
	p.linkedChildren(links, k, &cs)
	free, matched := p.matchChildren(parent, k, &cs, claimedBy)
	if p.ro || p.Remote.GHL == nil {
		return
	}
	p.createChildrenInGHL(parent, k, &cs, free, matched)
}

// childSides are one kind's records of one contact on both sides, in mirror order and by id.
// inflightG and inflightP count, by match key, the creates still in flight to HighLevel and
// to PTD: such a create may already have landed (a crash between the call and the commit),
// and the record it made shows up unlinked. It must not be mirrored back; the pending entry
// adopts it by looking it up.
type childSides struct {
	gs, ps               []childRecord
	gBy, pBy             map[string]childRecord
	inflightG, inflightP map[string]int
}

// linkedChildren plans the contact's linked pairs of kind k: a merge when both records are
// mirrored, the delete of the survivor when the other record is quarantined (never in
// HighLevel with a read-only token), nothing while the link has an entry pending. It counts
// the creates in flight in cs.
func (p *pass) linkedChildren(links []*store.Link, k kinds.ChildKind, cs *childSides) {
	for _, l := range links {
		if l.Kind != k.Name {
			continue
		}
		if r, ok := cs.pBy[l.PTDID]; ok && l.GHLID == "" {
			cs.inflightP[r.key]++
		}
		if r, ok := cs.gBy[l.GHLID]; ok && l.PTDID == "" {
			cs.inflightG[r.key]++
		}
		if p.s.pending[k.Name+"/"+l.ID] || l.GHLID == "" || l.PTDID == "" {
			continue
		}
		g, okG := cs.gBy[l.GHLID]
		pt, okP := cs.pBy[l.PTDID]
		a := &action{link: l}
		switch {
		case okG && okP:
			p.mergeChild(a, k.Name, k.Specs, g.values, pt.values, k.Ops.Update)
		case !okG && okP && p.quarantined(k.Name, store.SideGHL, l.GHLID):
			a.entries = append(a.entries, outbox.Entry(store.SidePTD, k.Ops.Delete, k.Name, outbox.Payload{Deleted: store.SideGHL}))
			a.history = append(a.history, store.HistoryEntry{RecordKind: k.Name, RecordID: l.GHLID, Field: "deleted", New: "ghl", Direction: "ghl->ptd", Rule: "deleted"})
		case okG && !okP && p.quarantined(k.Name, store.SidePTD, l.PTDID) && !p.ro:
			a.entries = append(a.entries, outbox.Entry(store.SideGHL, k.Ops.Delete, k.Name, outbox.Payload{Deleted: store.SidePTD}))
			a.history = append(a.history, store.HistoryEntry{RecordKind: k.Name, RecordID: l.GHLID, Field: "deleted", New: "ptd", Direction: "ptd->ghl", Rule: "deleted"})
		}
		p.add(a)
	}
}

// matchChildren links each unlinked HighLevel record of kind k to the first free PTD record
// with its match key and merges the pair, or plans its create in PTD (when creatable), unless
// a create in flight to PTD accounts for it. It returns the free PTD records, in PTD listing
// order, and those it matched. A record is taken when any link of this kind (or, in PTD, of
// claimedBy) names it; the snapshot indexes every link, this contact's included.
func (p *pass) matchChildren(parent *action, k kinds.ChildKind, cs *childSides, claimedBy []string) (free []childRecord, matched map[string]bool) {
	freeBy := map[string][]childRecord{}
	for _, r := range cs.ps {
		if !p.s.linkedPTD(r.id, k.Name, claimedBy) {
			free = append(free, r)
			freeBy[r.key] = append(freeBy[r.key], r)
		}
	}
	matched = map[string]bool{}
	for _, g := range cs.gs {
		if p.s.byGHL[k.Name+"/"+g.id] != nil {
			continue
		}
		if cs.inflightP[g.key] > 0 {
			cs.inflightP[g.key]--
			continue
		}
		if rs := freeBy[g.key]; len(rs) > 0 {
			freeBy[g.key], matched[rs[0].id] = rs[1:], true
			a := newChild(parent, k.Name, g.id, rs[0].id, "match")
			p.mergeChild(a, k.Name, k.Specs, g.values, rs[0].values, k.Ops.Update)
			p.add(a)
			continue
		}
		if g.creatable {
			a := newChild(parent, k.Name, g.id, "", "created")
			p.createChild(a, store.SidePTD, k.Ops.Create, k.Name, k.Specs, g.values, g.id)
			p.add(a)
		}
	}
	return free, matched
}

// createChildrenInGHL plans the create in HighLevel of every free PTD record of kind k that
// matched nothing (when creatable), unless a create in flight to HighLevel accounts for it.
func (p *pass) createChildrenInGHL(parent *action, k kinds.ChildKind, cs *childSides, free []childRecord, matched map[string]bool) {
	for _, r := range free {
		if matched[r.id] {
			continue
		}
		if cs.inflightG[r.key] > 0 {
			cs.inflightG[r.key]--
			continue
		}
		if r.creatable {
			a := newChild(parent, k.Name, "", r.id, "created")
			p.createChild(a, store.SideGHL, k.Ops.Create, k.Name, k.Specs, r.values, r.id)
			p.add(a)
		}
	}
}

// surfacePlan surfaces the HighLevel records of a ToPTD kind in PTD, as the first of its
// surfaces the driver can serve (the missing ones said once), else not at all. Changes are
// detected against the fingerprint kept in the link's base: an unchanged one plans nothing.
func (p *pass) surfacePlan(parent *action, gid string, links []*store.Link, k kinds.ChildKind) {
	s := p.s
	recs := s.kidsOf(k.Name, store.SideGHL, gid)
	if gid == "" || len(recs) == 0 {
		return
	}
	var sf *kinds.Surface
	for i := range k.Surfaces {
		if p.Remote.Can(k.Surfaces[i].Cap, k.Surfaces[i].Work) {
			sf = &k.Surfaces[i]
			break
		}
	}
	if sf == nil {
		return
	}
	byGHL := map[string]*store.Link{}
	for _, l := range links {
		if l.Kind == k.Name {
			byGHL[l.GHLID] = l
		}
	}
	for _, r := range recs {
		fp, ok := k.Fingerprint(r)
		if !ok {
			continue
		}
		l := byGHL[r.ChildID()]
		var a *action
		if l != nil {
			if s.pending[k.Name+"/"+l.ID] {
				continue
			}
			if b := s.bases[l.ID]; b != nil && b.Fields["fp"] == fp {
				continue
			}
			a = &action{link: l}
		} else {
			a = newChild(parent, k.Name, r.ChildID(), "", "created")
		}
		pl := outbox.Payload{Fields: map[string]outbox.FieldWrite{"fp": {Value: diff.Scalar(fp), Base: strp(fp)}}}
		w := sf.Write(r)
		pl.Appointment = w.Appointment
		for f, v := range w.Fields {
			pl.Fields[f] = outbox.FieldWrite{Wire: f, Value: diff.Scalar(v)}
		}
		op := sf.Create
		if sf.Update != "" && l != nil && l.PTDID != "" {
			op = sf.Update
		}
		a.entries = append(a.entries, outbox.Entry(store.SidePTD, op, k.Name, pl))
		a.history = append(a.history, store.HistoryEntry{RecordKind: k.Name, RecordID: r.ChildID(), Field: k.Name,
			New: fp, Direction: "ghl->ptd", Rule: "surface"})
		p.add(a)
	}
}

// mergeChild merges one linked pair of a BothWays kind into a: writes to both sides (none to
// HighLevel with a read-only token), the new base (newBase; agreed now), a history line per
// decision and one op entry per side. Child fields are scalars and merge under kind's specs.
func (p *pass) mergeChild(a *action, kind string, specs []diff.FieldSpec, g, t diff.Snapshot, op string) {
	old := p.s.bases[a.link.ID]
	res := diff.Merge(specs, mapping.ChildBase(old), g, t, p.Mapping.Options)
	w, dropped := newWrites(), map[string]bool{}
	for f, fw := range res.ToGHL {
		if p.ro {
			dropped[f] = true
			continue
		}
		w.toGHL[f] = outbox.FieldWrite{Wire: f, Value: fw.Value}
	}
	for f, fw := range res.ToPTD {
		w.toPTD[f] = outbox.FieldWrite{Wire: f, Value: fw.Value}
	}
	if fields, changed := newBase(old, specs, res, w, dropped); changed {
		a.base = &store.Base{Fields: fields, AgreedAt: p.now}
	}
	a.history = append(a.history, decisionHistory(kind, a.link.GHLID, res, w, dropped)...)
	if len(w.toGHL) > 0 {
		a.entries = append(a.entries, outbox.Entry(store.SideGHL, op, kind, outbox.Payload{Fields: w.toGHL}))
	}
	if len(w.toPTD) > 0 {
		a.entries = append(a.entries, outbox.Entry(store.SidePTD, op, kind, outbox.Payload{Fields: w.toPTD}))
	}
}

// createChild plans creating a task or note on target from the other side's values.
func (p *pass) createChild(a *action, target, op, kind string, specs []diff.FieldSpec, from diff.Snapshot, srcID string) {
	fields := map[string]outbox.FieldWrite{}
	dir := "ghl->ptd"
	if target == store.SideGHL {
		dir = "ptd->ghl"
	}
	for _, spec := range specs {
		v := from.Values[spec.Name]
		n, err := spec.Normalizer.Apply(v.S, p.Mapping.Options.Locale)
		if err != nil {
			continue
		}
		enc := n
		fields[spec.Name] = outbox.FieldWrite{Wire: spec.Name, Value: diff.Scalar(n), Base: &enc}
		if n != "" {
			a.history = append(a.history, store.HistoryEntry{RecordKind: kind, RecordID: srcID, Field: spec.Name, New: n, Direction: dir, Rule: "create"})
		}
	}
	a.entries = append(a.entries, outbox.Entry(target, op, kind, outbox.Payload{Fields: fields}))
}
