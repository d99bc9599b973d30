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
	p.tasks(parent, gid, pid, links)
	p.notes(parent, gid, pid, links)
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

func taskKey(title string, due string) string { return strings.ToLower(diff.Name(title)) + "|" + due }

func (p *planner) tasks(parent *action, gid, pid string, links []*store.Link) {
	e, s := p.e, p.s
	if !e.can(ptd.CapTasks, "sync tasks") {
		return
	}
	gBy := map[string]store.GHLTask{}
	pBy := map[string]store.PTDTask{}
	if gid != "" {
		for _, t := range s.ghlTasks[gid] {
			gBy[t.ID] = t
		}
	}
	if pid != "" {
		for _, t := range s.ptdTasks[pid] {
			pBy[t.ID] = t
		}
	}
	linkedG, linkedP := map[string]bool{}, map[string]bool{}
	// A create still in flight may already have landed (a crash between the call and the
	// commit): the record it made shows up unlinked. It must not be mirrored back; the pending
	// entry adopts it by looking it up.
	inflightG, inflightP := map[string]int{}, map[string]int{}
	for _, l := range links {
		if l.Kind != store.KindTask {
			continue
		}
		if l.GHLID == "" {
			if t, ok := pBy[l.PTDID]; ok {
				inflightP[taskKey(t.Title, timeStr(t.DueAt))]++
			}
		}
		if l.PTDID == "" {
			if t, ok := gBy[l.GHLID]; ok {
				inflightG[taskKey(t.Title, timeStr(t.DueDate))]++
			}
		}
		linkedG[l.GHLID], linkedP[l.PTDID] = true, true
		if s.pending[store.KindTask+"/"+l.ID] || l.GHLID == "" || l.PTDID == "" {
			continue
		}
		g, okG := gBy[l.GHLID]
		t, okP := pBy[l.PTDID]
		a := &action{link: l}
		switch {
		case okG && okP:
			p.mergeChild(a, store.KindTask, taskSpecs, ghlTaskValues(g), ptdTaskValues(t), OpTaskUpdate)
		case !okG && okP && p.quarantined(store.KindTask, store.SideGHL, l.GHLID):
			a.entries = append(a.entries, entry(store.SidePTD, OpTaskDelete, store.KindTask, payload{Deleted: store.SideGHL}))
			a.history = append(a.history, store.HistoryEntry{RecordKind: store.KindTask, RecordID: l.GHLID, Field: "deleted", New: "ghl", Direction: "ghl->ptd", Rule: "deleted"})
		case okG && !okP && p.quarantined(store.KindTask, store.SidePTD, l.PTDID) && !p.ro:
			a.entries = append(a.entries, entry(store.SideGHL, OpTaskDelete, store.KindTask, payload{Deleted: store.SidePTD}))
			a.history = append(a.history, store.HistoryEntry{RecordKind: store.KindTask, RecordID: l.GHLID, Field: "deleted", New: "ptd", Direction: "ptd->ghl", Rule: "deleted"})
		}
		p.add(a)
	}
	freeP := map[string][]string{}
	for _, t := range s.ptdTasks[pid] {
		if pid != "" && !linkedP[t.ID] && s.byPTD[store.KindTask+"/"+t.ID] == nil {
			k := taskKey(t.Title, timeStr(t.DueAt))
			freeP[k] = append(freeP[k], t.ID)
		}
	}
	for _, g := range s.ghlTasks[gid] {
		if gid == "" || linkedG[g.ID] || s.byGHL[store.KindTask+"/"+g.ID] != nil {
			continue
		}
		k := taskKey(g.Title, timeStr(g.DueDate))
		if inflightP[k] > 0 {
			inflightP[k]--
			continue
		}
		if ids := freeP[k]; len(ids) > 0 {
			freeP[k] = ids[1:]
			a := newChild(parent, store.KindTask, g.ID, ids[0], "match")
			p.mergeChild(a, store.KindTask, taskSpecs, ghlTaskValues(g), ptdTaskValues(pBy[ids[0]]), OpTaskUpdate)
			p.add(a)
			continue
		}
		a := newChild(parent, store.KindTask, g.ID, "", "created")
		p.createChild(a, store.SidePTD, OpTaskCreate, store.KindTask, taskSpecs, ghlTaskValues(g), g.ID)
		p.add(a)
	}
	if p.ro || p.e.ghl == nil {
		return
	}
	for _, t := range s.ptdTasks[pid] {
		k := taskKey(t.Title, timeStr(t.DueAt))
		ids := freeP[k]
		if pid == "" || len(ids) == 0 || ids[0] != t.ID {
			continue
		}
		freeP[k] = ids[1:]
		if inflightG[k] > 0 {
			inflightG[k]--
			continue
		}
		for _, id := range ids[:1] {
			a := newChild(parent, store.KindTask, "", id, "created")
			p.createChild(a, store.SideGHL, OpTaskCreate, store.KindTask, taskSpecs, ptdTaskValues(pBy[id]), id)
			p.add(a)
		}
	}
}

func noteKey(body string) string { return diff.Name(body) }

func (p *planner) notes(parent *action, gid, pid string, links []*store.Link) {
	e, s := p.e, p.s
	if !e.can(ptd.CapNotes, "sync notes") {
		return
	}
	gBy := map[string]store.GHLNote{}
	pBy := map[string]store.PTDNote{}
	if gid != "" {
		for _, n := range s.ghlNotes[gid] {
			gBy[n.ID] = n
		}
	}
	if pid != "" {
		for _, n := range s.ptdNotes[pid] {
			pBy[n.ID] = n
		}
	}
	linkedG, linkedP := map[string]bool{}, map[string]bool{}
	inflightG, inflightP := map[string]int{}, map[string]int{}
	for _, l := range links {
		if l.Kind == store.KindNote && l.GHLID == "" {
			if n, ok := pBy[l.PTDID]; ok {
				inflightP[noteKey(n.Body)]++
			}
		}
		if l.Kind == store.KindNote && l.PTDID == "" {
			if n, ok := gBy[l.GHLID]; ok {
				inflightG[noteKey(n.Body)]++
			}
		}
		if l.Kind == store.KindAppointment && l.PTDID != "" {
			linkedP[l.PTDID] = true // a note that surfaces an appointment
		}
		if l.Kind != store.KindNote {
			continue
		}
		linkedG[l.GHLID], linkedP[l.PTDID] = true, true
		if s.pending[store.KindNote+"/"+l.ID] || l.GHLID == "" || l.PTDID == "" {
			continue
		}
		g, okG := gBy[l.GHLID]
		n, okP := pBy[l.PTDID]
		a := &action{link: l}
		switch {
		case okG && okP:
			p.mergeChild(a, store.KindNote, noteSpecs, ghlNoteValues(g), ptdNoteValues(n), OpNoteUpdate)
		case !okG && okP && p.quarantined(store.KindNote, store.SideGHL, l.GHLID):
			a.entries = append(a.entries, entry(store.SidePTD, OpNoteDelete, store.KindNote, payload{Deleted: store.SideGHL}))
			a.history = append(a.history, store.HistoryEntry{RecordKind: store.KindNote, RecordID: l.GHLID, Field: "deleted", New: "ghl", Direction: "ghl->ptd", Rule: "deleted"})
		case okG && !okP && p.quarantined(store.KindNote, store.SidePTD, l.PTDID) && !p.ro:
			a.entries = append(a.entries, entry(store.SideGHL, OpNoteDelete, store.KindNote, payload{Deleted: store.SidePTD}))
			a.history = append(a.history, store.HistoryEntry{RecordKind: store.KindNote, RecordID: l.GHLID, Field: "deleted", New: "ptd", Direction: "ptd->ghl", Rule: "deleted"})
		}
		p.add(a)
	}
	freeP := map[string][]string{}
	var order []string
	for _, n := range s.ptdNotes[pid] {
		if pid != "" && !linkedP[n.ID] && s.byPTD[store.KindNote+"/"+n.ID] == nil && s.byPTD[store.KindAppointment+"/"+n.ID] == nil {
			k := noteKey(n.Body)
			freeP[k] = append(freeP[k], n.ID)
			order = append(order, n.ID)
		}
	}
	for _, g := range s.ghlNotes[gid] {
		if gid == "" || linkedG[g.ID] || s.byGHL[store.KindNote+"/"+g.ID] != nil {
			continue
		}
		k := noteKey(g.Body)
		if inflightP[k] > 0 {
			inflightP[k]--
			continue
		}
		if ids := freeP[k]; len(ids) > 0 {
			freeP[k] = ids[1:]
			a := newChild(parent, store.KindNote, g.ID, ids[0], "match")
			p.mergeChild(a, store.KindNote, noteSpecs, ghlNoteValues(g), ptdNoteValues(pBy[ids[0]]), OpNoteUpdate)
			p.add(a)
			continue
		}
		if strings.TrimSpace(g.Body) == "" {
			continue
		}
		a := newChild(parent, store.KindNote, g.ID, "", "created")
		p.createChild(a, store.SidePTD, OpNoteCreate, store.KindNote, noteSpecs, ghlNoteValues(g), g.ID)
		p.add(a)
	}
	if p.ro || p.e.ghl == nil {
		return
	}
	left := map[string]bool{}
	for _, ids := range freeP {
		for _, id := range ids {
			left[id] = true
		}
	}
	for _, id := range order {
		if !left[id] {
			continue
		}
		if k := noteKey(pBy[id].Body); inflightG[k] > 0 {
			inflightG[k]--
			continue
		}
		a := newChild(parent, store.KindNote, "", id, "created")
		p.createChild(a, store.SideGHL, OpNoteCreate, store.KindNote, noteSpecs, ptdNoteValues(pBy[id]), id)
		p.add(a)
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
