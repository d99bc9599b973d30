package plan

import (
	"sort"
	"strings"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptd"
	"ptsync/config"
	"ptsync/diff"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/store"
)

// match links unlinked records: by normalized email first (all of them), then by E.164 phone
// where the phone names exactly one record on each side (a shared phone is disambiguated by
// name, else held for the operator rather than guessed or duplicated).
func (p *pass) match() {
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
func (p *pass) link(gid, pid, by string) {
	p.claimed[qk(store.KindContact, store.SideGHL, gid)] = true
	p.claimed[qk(store.KindContact, store.SidePTD, pid)] = true
	a := &action{link: &store.Link{Kind: store.KindContact, GHLID: gid, PTDID: pid, MatchedBy: by}, newLink: true}
	p.mergeContact(a, p.s.ghl[gid], p.s.ptd[pid])
	p.add(a)
	p.children(a, gid, pid)
}

// creates plans records that matched nothing on the other side.
func (p *pass) creates() {
	s := p.s
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
		case p.NoCreateInPTD || p.Remote.PTD == nil:
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
		case !s.ptdListed && p.Remote.PTD.Capabilities().Has(ptd.CapClientRead):
			// Until a whole listing is mirrored, PTD may hold this person on a page not read
			// yet: a create now would be adopted at best (recorded as created, without the
			// merge an email match gets) and a duplicate at worst (matched by phone only).
			p.skip(store.KindContact, store.SideGHL, gid, SkipAwaitingPTDListing)
			continue
		case !p.Remote.Can(ptd.CapClientCreate, "create ptd clients"):
			continue
		}
		ptdEmails[g.Email] = true
		p.createInPTD(g)
	}
	if p.ro || p.NoCreateInGHL || p.Remote.GHL == nil {
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
func (p *pass) createValues(snap diff.Snapshot, to diff.Side) map[string]diff.Value {
	out := map[string]diff.Value{}
	for _, spec := range p.Mapping.Specs {
		if spec.Direction == diff.GHLToPTD && to == diff.SideGHL || spec.Direction == diff.PTDToGHL && to == diff.SidePTD {
			continue
		}
		v := snap.Values[spec.Name]
		if spec.Set {
			v = diff.SetOf(diff.Tags(v.Set)...)
		} else if n, err := spec.Normalizer.Apply(v.S, p.Mapping.Options.Locale); err == nil {
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

func (p *pass) createInPTD(g store.GHLContact) {
	a := &action{link: &store.Link{Kind: store.KindContact, GHLID: g.ID, MatchedBy: outbox.MatchedByCreate}, newLink: true}
	fields := map[string]outbox.FieldWrite{}
	for name, v := range p.createValues(p.Mapping.GHLValues(g), diff.SidePTD) {
		f := p.Mapping.Fields[name]
		if f.PTD == "packages" || f.PTD == "groups" || (f.PTD == "tags" && !p.Remote.PTD.Capabilities().Has(ptd.CapTags)) {
			continue // memberships are routed, not copied
		}
		if f.PTD == "access" && !p.Remote.PTD.Capabilities().Has(ptdFieldCap("access", v)) {
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
func (p *pass) route(g store.GHLContact) *outbox.Route {
	if len(p.Config.Routes) == 0 {
		return nil
	}
	vars := config.ContactVars(routeContact(mapping.GHLContact(g)))
	for _, r := range p.Config.Routes {
		ok, err := r.Match(vars)
		if err != nil {
			p.Remote.Once("route/"+r.Name, func() { p.Logger.Warn("route cannot be evaluated; skipping it", "route", r.Name, "error", err) })
			continue
		}
		if !ok {
			continue
		}
		rp := &outbox.Route{Name: r.Name}
		if r.Group != "" && p.Remote.Can(ptd.CapGroups, "route new clients to a group") {
			rp.Group = r.Group
		}
		if r.Package != "" && p.Remote.Can(ptd.CapPackages, "route new clients to a package") {
			rp.Package = r.Package
		}
		if r.Access != "" && p.Remote.Can(ptdFieldCap("access", diff.Scalar(r.Access)), "set the access of routed clients") {
			rp.Access = r.Access
		}
		if rp.Group == "" && rp.Package == "" && rp.Access == "" {
			return nil
		}
		return rp
	}
	return nil
}

func (p *pass) createInGHL(c store.PTDClient) {
	a := &action{link: &store.Link{Kind: store.KindContact, PTDID: c.ID, MatchedBy: outbox.MatchedByCreate}, newLink: true}
	fields := map[string]outbox.FieldWrite{}
	for name, v := range p.createValues(p.Mapping.PTDValues(c), diff.SideGHL) {
		f := p.Mapping.Fields[name]
		enc := mapping.EncodeValue(v)
		fields[name] = outbox.FieldWrite{Wire: f.GHL, Value: v, Base: &enc}
		a.history = append(a.history, store.HistoryEntry{RecordKind: store.KindContact, RecordID: c.ID, Field: name,
			New: enc, Direction: "ptd->ghl", Rule: "create"})
	}
	a.entries = append(a.entries, outbox.Entry(store.SideGHL, outbox.OpContactCreate, store.KindContact, outbox.Payload{Fields: fields}))
	p.add(a)
	p.children(a, "", c.ID)
}
