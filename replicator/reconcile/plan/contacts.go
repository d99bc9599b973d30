package plan

import (
	"fmt"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/diff"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/store"
)

// contacts links unlinked records, merges linked pairs and plans creates.
func (p *pass) contacts() {
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
func (p *pass) mergeContact(a *action, g store.GHLContact, c store.PTDClient) {
	e := p.Planner
	old := p.s.bases[a.link.ID]
	res := diff.Merge(e.Mapping.Specs, e.Mapping.BaseSnapshot(old), e.Mapping.GHLValues(g), e.Mapping.PTDValues(c), e.Mapping.Options)
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
		f := e.Mapping.Fields[field]
		switch {
		case p.ro:
			dropped[field] = true
		case mapping.UnwritableOnUpdate(f.GHL):
			dropped[field] = true
			e.Remote.Once("unwritable/"+f.GHL, func() {
				e.Logger.Warn("highlevel does not accept this field on update; it flows one way only", "field", f.GHL)
			})
		default:
			toGHL[field] = outbox.FieldWrite{Wire: f.GHL, Value: w.Value, Add: w.Delta.Add, Remove: w.Delta.Remove}
		}
	}
	for field, w := range res.ToPTD {
		if dropped[field] {
			continue
		}
		f := e.Mapping.Fields[field]
		fw := outbox.FieldWrite{Wire: f.PTD, Value: w.Value, Add: w.Delta.Add, Remove: w.Delta.Remove}
		if !e.Remote.Can(ptdFieldCap(f.PTD, w.Value), "write ptd field "+f.PTD) {
			dropped[field] = true
			continue
		}
		if f.PTD == "groups" && len(fw.Remove) > 0 && !e.Remote.Can(ptd.CapGroupRemove, "remove ptd group membership") {
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
	for _, spec := range e.Mapping.Specs {
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
		e.Remote.Once(fmt.Sprintf("invalid/%s/%s/%s", a.link.ID, iv.Field, iv.Side), func() {
			e.Logger.Warn("field value cannot be normalized; field left alone", "link", a.link.ID, "field", iv.Field, "side", iv.Side.String(), "error", iv.Err)
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
func (p *pass) held(a *action, res diff.Result) map[string]bool {
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
