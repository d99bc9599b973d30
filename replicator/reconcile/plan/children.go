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
// of a pair whose other side is quarantined, links unlinked records with equal match keys and
// creates the rest on the other side. gid or pid is empty when that side of the contact is
// still to be created. Without k.Cap it plans nothing (said once by Engine.can). A PTD record
// linked by one of claimedBy (kinds surfaced into k) is not free. It only reads the snapshot
// and adds actions to p.
func (p *pass) childPlan(parent *action, gid, pid string, links []*store.Link, k kinds.ChildKind, claimedBy []string) {
	s := p.s
	if !p.Remote.Can(k.Cap, k.Work) {
		return
	}
	var gs, ps []childRecord
	if gid != "" {
		gs = p.sideRecords(k, store.SideGHL, k.GHL, gid)
	}
	if pid != "" {
		ps = p.sideRecords(k, store.SidePTD, k.PTD, pid)
	}
	gBy, pBy := map[string]childRecord{}, map[string]childRecord{}
	for _, r := range gs {
		gBy[r.id] = r
	}
	for _, r := range ps {
		pBy[r.id] = r
	}
	// A create still in flight may already have landed (a crash between the call and the
	// commit): the record it made shows up unlinked. It must not be mirrored back; the pending
	// entry adopts it by looking it up.
	inflightG, inflightP := map[string]int{}, map[string]int{}
	for _, l := range links {
		if l.Kind != k.Name {
			continue
		}
		if r, ok := pBy[l.PTDID]; ok && l.GHLID == "" {
			inflightP[r.key]++
		}
		if r, ok := gBy[l.GHLID]; ok && l.PTDID == "" {
			inflightG[r.key]++
		}
		if s.pending[k.Name+"/"+l.ID] || l.GHLID == "" || l.PTDID == "" {
			continue
		}
		g, okG := gBy[l.GHLID]
		pt, okP := pBy[l.PTDID]
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
	// A record is taken when any link of this kind (or, in PTD, of claimedBy) names it; the
	// snapshot indexes every link, this contact's included.
	var free []childRecord // unlinked PTD records, in PTD listing order
	freeBy := map[string][]childRecord{}
	for _, r := range ps {
		if !s.linkedPTD(r.id, k.Name, claimedBy) {
			free = append(free, r)
			freeBy[r.key] = append(freeBy[r.key], r)
		}
	}
	matched := map[string]bool{}
	for _, g := range gs {
		if s.byGHL[k.Name+"/"+g.id] != nil {
			continue
		}
		if inflightP[g.key] > 0 {
			inflightP[g.key]--
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
	if p.ro || p.Remote.GHL == nil {
		return
	}
	for _, r := range free {
		if matched[r.id] {
			continue
		}
		if inflightG[r.key] > 0 {
			inflightG[r.key]--
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
	e, s := p.Planner, p.s
	recs := s.kidsOf(k.Name, store.SideGHL, gid)
	if gid == "" || len(recs) == 0 {
		return
	}
	var sf *kinds.Surface
	for i := range k.Surfaces {
		if e.Remote.Can(k.Surfaces[i].Cap, k.Surfaces[i].Work) {
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

// mergeChild merges one linked task or note pair.
func (p *pass) mergeChild(a *action, kind string, specs []diff.FieldSpec, g, t diff.Snapshot, op string) {
	old := p.s.bases[a.link.ID]
	res := diff.Merge(specs, mapping.ChildBase(old), g, t, p.Mapping.Options)
	toGHL, toPTD := map[string]outbox.FieldWrite{}, map[string]outbox.FieldWrite{}
	if !p.ro {
		for f, w := range res.ToGHL {
			toGHL[f] = outbox.FieldWrite{Wire: f, Value: w.Value}
		}
	}
	for f, w := range res.ToPTD {
		toPTD[f] = outbox.FieldWrite{Wire: f, Value: w.Value}
	}
	nb := store.Base{Fields: map[string]string{}, AgreedAt: p.now}
	if old != nil {
		for k, v := range old.Fields {
			nb.Fields[k] = v
		}
	}
	dropped := map[string]bool{}
	for f := range res.ToGHL {
		if _, ok := toGHL[f]; !ok {
			dropped[f] = true
		}
	}
	for _, spec := range specs {
		f := spec.Name
		v, ok := res.Base.Values[f]
		_, wg := toGHL[f]
		_, wp := toPTD[f]
		switch {
		case !ok || dropped[f]:
		case wg || wp:
			enc := v.S
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
			nb.Fields[f] = v.S
		}
	}
	if old == nil || !sameFields(old.Fields, nb.Fields) {
		a.base = &nb
	}
	for _, d := range res.Decisions {
		if dropped[d.Field] || d.Rule == diff.ReasonInvalid || d.Rule == diff.ReasonManual {
			continue
		}
		_, wg := toGHL[d.Field]
		_, wp := toPTD[d.Field]
		a.history = append(a.history, store.HistoryEntry{RecordKind: kind, RecordID: a.link.GHLID, Field: d.Field,
			Old: d.Old.S, New: d.New.S, Direction: direction(wg, wp), Rule: string(d.Rule)})
	}
	if len(toGHL) > 0 {
		a.entries = append(a.entries, outbox.Entry(store.SideGHL, op, kind, outbox.Payload{Fields: toGHL}))
	}
	if len(toPTD) > 0 {
		a.entries = append(a.entries, outbox.Entry(store.SidePTD, op, kind, outbox.Payload{Fields: toPTD}))
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
