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

// mergeContact merges one linked pair into a: the fields each side should take
// (contactWrites), the new base (newBase: agreed now when nothing is written, else it keeps
// its time until the writes succeed), a history line per decision, the manual conflicts and
// those that settled themselves, and one update entry per side. A scalar update to HighLevel
// carries the dateUpdated the merge read, one to PTD the ETag, so the pusher can tell a
// newer edit from its own.
func (p *pass) mergeContact(a *action, g store.GHLContact, c store.PTDClient) {
	mp := p.Mapping
	old := p.s.bases[a.link.ID]
	res := diff.Merge(mp.Specs, mp.BaseSnapshot(old), mp.GHLValues(g), mp.PTDValues(c), mp.Options)
	held := p.held(a, res)
	w, dropped := p.contactWrites(res, held)
	if fields, changed := newBase(old, mp.Specs, res, w, dropped); changed {
		nb := store.Base{Fields: fields, AgreedAt: p.now}
		if old != nil && w.any() {
			nb.AgreedAt = old.AgreedAt
		}
		a.base = &nb
	}
	a.history = append(a.history, decisionHistory(store.KindContact, a.link.GHLID, res, w, dropped)...)
	p.warnInvalid(a, res)
	p.contactConflicts(a, res, held)
	if len(w.toGHL) > 0 {
		a.entries = append(a.entries, outbox.Entry(store.SideGHL, outbox.OpContactUpdate, store.KindContact, outbox.Payload{Fields: w.toGHL, GHLUpdated: g.DateUpdated}))
	}
	if len(w.toPTD) > 0 {
		a.entries = append(a.entries, outbox.Entry(store.SidePTD, outbox.OpClientUpdate, store.KindContact, outbox.Payload{Fields: w.toPTD, PTDETag: c.ETag}))
	}
}

// contactWrites turns a contact merge's changes into writes. A field held by an open
// conflict is written nowhere; to HighLevel nothing with a read-only token, nor a field
// HighLevel drops on update (said once); to PTD nothing the driver lacks the capability for,
// no group removal without CapGroupRemove, never a package removal (the contract cannot), and
// no set write left without a delta. dropped is held plus every field dropped here.
func (p *pass) contactWrites(res diff.Result, held map[string]bool) (w writes, dropped map[string]bool) {
	w, dropped = newWrites(), map[string]bool{}
	for f := range held {
		dropped[f] = true
	}
	for field, fw := range res.ToGHL {
		if dropped[field] {
			continue
		}
		f := p.Mapping.Fields[field]
		switch {
		case p.ro:
			dropped[field] = true
		case mapping.UnwritableOnUpdate(f.GHL):
			dropped[field] = true
			p.Remote.Once("unwritable/"+f.GHL, func() {
				p.Logger.Warn("highlevel does not accept this field on update; it flows one way only", "field", f.GHL)
			})
		default:
			w.toGHL[field] = outbox.FieldWrite{Wire: f.GHL, Value: fw.Value, Add: fw.Delta.Add, Remove: fw.Delta.Remove}
		}
	}
	for field, fw := range res.ToPTD {
		if dropped[field] {
			continue
		}
		if out, ok := p.ptdWrite(field, fw); ok {
			w.toPTD[field] = out
		} else {
			dropped[field] = true
		}
	}
	return w, dropped
}

// ptdWrite is the PTD write of one merged field, within what the driver can do; ok is false
// when nothing of it can be written.
func (p *pass) ptdWrite(field string, fw diff.Write) (outbox.FieldWrite, bool) {
	f := p.Mapping.Fields[field]
	out := outbox.FieldWrite{Wire: f.PTD, Value: fw.Value, Add: fw.Delta.Add, Remove: fw.Delta.Remove}
	if !p.Remote.Can(ptdFieldCap(f.PTD, fw.Value), "write ptd field "+f.PTD) {
		return out, false
	}
	if f.PTD == "groups" && len(out.Remove) > 0 && !p.Remote.Can(ptd.CapGroupRemove, "remove ptd group membership") {
		out.Remove = nil
	}
	if f.PTD == "packages" {
		out.Remove = nil // the contract cannot take a package away
	}
	if fw.Value.IsSet && len(out.Add) == 0 && len(out.Remove) == 0 {
		return out, false
	}
	return out, true
}

// warnInvalid says once per link, field and side that a value does not normalize (the merge
// left the field alone).
func (p *pass) warnInvalid(a *action, res diff.Result) {
	for _, iv := range res.Invalid {
		p.Remote.Once(fmt.Sprintf("invalid/%s/%s/%s", a.link.ID, iv.Field, iv.Side), func() {
			p.Logger.Warn("field value cannot be normalized; field left alone", "link", a.link.ID, "field", iv.Field, "side", iv.Side.String(), "error", iv.Err)
		})
	}
}

// contactConflicts records the merge's manual-rule conflicts (one that is stored already with
// the same values is not recorded again) with a history line each, and marks resolved the
// stored conflicts of the link the merge no longer reports, unless a conflict still holds the
// field (held).
func (p *pass) contactConflicts(a *action, res diff.Result, held map[string]bool) {
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
		if a.link.ID != "" && c.LinkID == a.link.ID && !open[c.Field] && !held[c.Field] {
			a.resolved = append(a.resolved, c.Field)
		}
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
