package reconcile

import (
	"encoding/json"
	"fmt"
	"strings"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/diff"
	"ptsync/store"
)

// ghlContact decodes a mirrored contact's raw object (typed fields fill gaps).
func ghlContact(g store.GHLContact) ghlwire.Contact {
	var c ghlwire.Contact
	if len(g.Raw) > 0 {
		_ = json.Unmarshal(g.Raw, &c)
	}
	if c.ID == "" {
		c.ID = g.ID
	}
	if c.Email == "" {
		c.Email = g.Email
	}
	if c.FirstName == "" {
		c.FirstName = g.FirstName
	}
	if c.LastName == "" {
		c.LastName = g.LastName
	}
	if c.Tags == nil {
		c.Tags = g.Tags
	}
	return c
}

// children plans the tasks, notes and appointments of one contact link. gid or pid is empty
// when that side is still to be created by the parent's own entry.
func (p *planner) children(parent *action, gid, pid string) {
	if p.e.ptd == nil {
		return
	}
	var links []*store.Link
	if !parent.newLink {
		links = p.s.children[parent.link.ID]
	}
	p.childPlan(parent, gid, pid, links, taskKind())
	p.childPlan(parent, gid, pid, links, noteKind())
	p.appointments(parent, gid, links)
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

// childRecord is one task or note of a contact, reduced to what childPlan needs.
type childRecord struct {
	id        string
	key       string        // match key: an unlinked pair with equal keys is linked
	values    diff.Snapshot // field values to merge, or to create from
	creatable bool          // false: never created on the other side (it may still match)
}

// childKind describes one kind of contact child (tasks, notes) to childPlan. Each value is
// built by taskKind or noteKind per call and never shared or changed.
type childKind struct {
	kind                   string // store.KindTask or store.KindNote
	cap                    ptd.Capability
	work                   string // what is skipped without cap; logged and counted by Engine.can
	specs                  []diff.FieldSpec
	create, update, delete string // outbox ops
	// claimedBy is another link kind whose PTD id also takes a PTD record of this kind
	// (an appointment surfaced as a note); "" for none.
	claimedBy string
	// ghl and ptd list one contact's children on each side, in mirror order.
	ghl func(s *snapshot, gid string) []childRecord
	ptd func(s *snapshot, pid string) []childRecord
}

func taskKey(title string, due string) string { return strings.ToLower(diff.Name(title)) + "|" + due }

// taskKind describes tasks: matched by title and due time.
func taskKind() childKind {
	return childKind{kind: store.KindTask, cap: ptd.CapTasks, work: "sync tasks", specs: taskSpecs,
		create: OpTaskCreate, update: OpTaskUpdate, delete: OpTaskDelete,
		ghl: func(s *snapshot, gid string) []childRecord {
			var rs []childRecord
			for _, t := range s.ghlTasks[gid] {
				rs = append(rs, childRecord{t.ID, taskKey(t.Title, timeStr(t.DueDate)), ghlTaskValues(t), true})
			}
			return rs
		},
		ptd: func(s *snapshot, pid string) []childRecord {
			var rs []childRecord
			for _, t := range s.ptdTasks[pid] {
				rs = append(rs, childRecord{t.ID, taskKey(t.Title, timeStr(t.DueAt)), ptdTaskValues(t), true})
			}
			return rs
		},
	}
}

func noteKey(body string) string { return diff.Name(body) }

// noteKind describes notes: matched by body; a blank HighLevel note is not created in PTD,
// and a PTD note that surfaces an appointment is not a free note.
func noteKind() childKind {
	return childKind{kind: store.KindNote, cap: ptd.CapNotes, work: "sync notes", specs: noteSpecs,
		create: OpNoteCreate, update: OpNoteUpdate, delete: OpNoteDelete, claimedBy: store.KindAppointment,
		ghl: func(s *snapshot, gid string) []childRecord {
			var rs []childRecord
			for _, n := range s.ghlNotes[gid] {
				rs = append(rs, childRecord{n.ID, noteKey(n.Body), ghlNoteValues(n), strings.TrimSpace(n.Body) != ""})
			}
			return rs
		},
		ptd: func(s *snapshot, pid string) []childRecord {
			var rs []childRecord
			for _, n := range s.ptdNotes[pid] {
				rs = append(rs, childRecord{n.ID, noteKey(n.Body), ptdNoteValues(n), true})
			}
			return rs
		},
	}
}

// childPlan plans one kind of child of a contact link: merges linked pairs, plans the delete
// of a pair whose other side is quarantined, links unlinked records with equal match keys and
// creates the rest on the other side. gid or pid is empty when that side of the contact is
// still to be created. Without k.cap it plans nothing (said once by Engine.can). It only reads
// the snapshot and adds actions to p.
func (p *planner) childPlan(parent *action, gid, pid string, links []*store.Link, k childKind) {
	s := p.s
	if !p.e.can(k.cap, k.work) {
		return
	}
	var gs, ps []childRecord
	if gid != "" {
		gs = k.ghl(s, gid)
	}
	if pid != "" {
		ps = k.ptd(s, pid)
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
		if l.Kind != k.kind {
			continue
		}
		if r, ok := pBy[l.PTDID]; ok && l.GHLID == "" {
			inflightP[r.key]++
		}
		if r, ok := gBy[l.GHLID]; ok && l.PTDID == "" {
			inflightG[r.key]++
		}
		if s.pending[k.kind+"/"+l.ID] || l.GHLID == "" || l.PTDID == "" {
			continue
		}
		g, okG := gBy[l.GHLID]
		pt, okP := pBy[l.PTDID]
		a := &action{link: l}
		switch {
		case okG && okP:
			p.mergeChild(a, k.kind, k.specs, g.values, pt.values, k.update)
		case !okG && okP && p.quarantined(k.kind, store.SideGHL, l.GHLID):
			a.entries = append(a.entries, entry(store.SidePTD, k.delete, k.kind, payload{Deleted: store.SideGHL}))
			a.history = append(a.history, store.HistoryEntry{RecordKind: k.kind, RecordID: l.GHLID, Field: "deleted", New: "ghl", Direction: "ghl->ptd", Rule: "deleted"})
		case okG && !okP && p.quarantined(k.kind, store.SidePTD, l.PTDID) && !p.ro:
			a.entries = append(a.entries, entry(store.SideGHL, k.delete, k.kind, payload{Deleted: store.SidePTD}))
			a.history = append(a.history, store.HistoryEntry{RecordKind: k.kind, RecordID: l.GHLID, Field: "deleted", New: "ptd", Direction: "ptd->ghl", Rule: "deleted"})
		}
		p.add(a)
	}
	// A record is taken when any link of this kind (or, in PTD, of k.claimedBy) names it; the
	// snapshot indexes every link, this contact's included.
	var free []childRecord // unlinked PTD records, in PTD listing order
	freeBy := map[string][]childRecord{}
	for _, r := range ps {
		if s.byPTD[k.kind+"/"+r.id] == nil && (k.claimedBy == "" || s.byPTD[k.claimedBy+"/"+r.id] == nil) {
			free = append(free, r)
			freeBy[r.key] = append(freeBy[r.key], r)
		}
	}
	matched := map[string]bool{}
	for _, g := range gs {
		if s.byGHL[k.kind+"/"+g.id] != nil {
			continue
		}
		if inflightP[g.key] > 0 {
			inflightP[g.key]--
			continue
		}
		if rs := freeBy[g.key]; len(rs) > 0 {
			freeBy[g.key], matched[rs[0].id] = rs[1:], true
			a := newChild(parent, k.kind, g.id, rs[0].id, "match")
			p.mergeChild(a, k.kind, k.specs, g.values, rs[0].values, k.update)
			p.add(a)
			continue
		}
		if g.creatable {
			a := newChild(parent, k.kind, g.id, "", "created")
			p.createChild(a, store.SidePTD, k.create, k.kind, k.specs, g.values, g.id)
			p.add(a)
		}
	}
	if p.ro || p.e.ghl == nil {
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
			a := newChild(parent, k.kind, "", r.id, "created")
			p.createChild(a, store.SideGHL, k.create, k.kind, k.specs, r.values, r.id)
			p.add(a)
		}
	}
}

// appointments surfaces HighLevel appointments in PTD: as appointments when the driver has
// that capability, else as notes, else not at all (said once). Changes are detected against a
// fingerprint kept in the link's base.
func (p *planner) appointments(parent *action, gid string, links []*store.Link) {
	e, s := p.e, p.s
	if gid == "" || len(s.ghlAppts[gid]) == 0 {
		return
	}
	asAppt := e.ptd.Capabilities().Has(ptd.CapAppointments)
	if !asAppt && !e.can(ptd.CapAppointments, "surface appointments in ptd (falling back to notes)") && !e.can(ptd.CapNotes, "surface appointments in ptd as notes") {
		return
	}
	byGHL := map[string]*store.Link{}
	for _, l := range links {
		if l.Kind == store.KindAppointment {
			byGHL[l.GHLID] = l
		}
	}
	for _, ap := range s.ghlAppts[gid] {
		want := ptdwire.Appointment{ExternalID: ap.ID, Title: ap.Title, StartAt: timeStr(ap.StartTime), EndAt: timeStr(ap.EndTime), Status: ap.Status}
		if strings.TrimSpace(want.Title) == "" {
			want.Title = "Appointment"
		}
		if want.StartAt == "" {
			continue
		}
		fp := want.Title + "|" + want.StartAt + "|" + want.EndAt + "|" + want.Status
		l := byGHL[ap.ID]
		var a *action
		if l != nil {
			if s.pending[store.KindAppointment+"/"+l.ID] {
				continue
			}
			if b := s.bases[l.ID]; b != nil && b.Fields["fp"] == fp {
				continue
			}
			a = &action{link: l}
		} else {
			a = newChild(parent, store.KindAppointment, ap.ID, "", "created")
		}
		pl := payload{Fields: map[string]fieldWrite{"fp": {Value: diff.Scalar(fp), Base: strp(fp)}}}
		op := OpApptUpsert
		if asAppt {
			pl.Appointment = &want
		} else {
			body := fmt.Sprintf("Appointment: %s, %s", want.Title, want.StartAt)
			if want.EndAt != "" {
				body += " to " + want.EndAt
			}
			if want.Status != "" {
				body += " (" + want.Status + ")"
			}
			pl.Fields["body"] = fieldWrite{Wire: "body", Value: diff.Scalar(body)}
			op = OpNoteCreate
			if l != nil && l.PTDID != "" {
				op = OpNoteUpdate
			}
		}
		a.entries = append(a.entries, entry(store.SidePTD, op, store.KindAppointment, pl))
		a.history = append(a.history, store.HistoryEntry{RecordKind: store.KindAppointment, RecordID: ap.ID, Field: "appointment",
			New: fp, Direction: "ghl->ptd", Rule: "surface"})
		p.add(a)
	}
}

// mergeChild merges one linked task or note pair.
func (p *planner) mergeChild(a *action, kind string, specs []diff.FieldSpec, g, t diff.Snapshot, op string) {
	old := p.s.bases[a.link.ID]
	res := diff.Merge(specs, childBase(old), g, t, p.e.dopts)
	toGHL, toPTD := map[string]fieldWrite{}, map[string]fieldWrite{}
	if !p.ro {
		for f, w := range res.ToGHL {
			toGHL[f] = fieldWrite{Wire: f, Value: w.Value}
		}
	}
	for f, w := range res.ToPTD {
		toPTD[f] = fieldWrite{Wire: f, Value: w.Value}
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
		a.entries = append(a.entries, entry(store.SideGHL, op, kind, payload{Fields: toGHL}))
	}
	if len(toPTD) > 0 {
		a.entries = append(a.entries, entry(store.SidePTD, op, kind, payload{Fields: toPTD}))
	}
}

// createChild plans creating a task or note on target from the other side's values.
func (p *planner) createChild(a *action, target, op, kind string, specs []diff.FieldSpec, from diff.Snapshot, srcID string) {
	fields := map[string]fieldWrite{}
	dir := "ghl->ptd"
	if target == store.SideGHL {
		dir = "ptd->ghl"
	}
	for _, spec := range specs {
		v := from.Values[spec.Name]
		n, err := spec.Normalizer.Apply(v.S, p.e.dopts.Locale)
		if err != nil {
			continue
		}
		enc := n
		fields[spec.Name] = fieldWrite{Wire: spec.Name, Value: diff.Scalar(n), Base: &enc}
		if n != "" {
			a.history = append(a.history, store.HistoryEntry{RecordKind: kind, RecordID: srcID, Field: spec.Name, New: n, Direction: dir, Rule: "create"})
		}
	}
	a.entries = append(a.entries, entry(target, op, kind, payload{Fields: fields}))
}
