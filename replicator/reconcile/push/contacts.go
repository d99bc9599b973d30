package push

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/diff"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/store"
)

func (p *Pusher) createClient(ctx context.Context, j *job) (commitFn, error) {
	if j.link.PTDID != "" {
		return nil, nil
	}
	vals := byWire(j.pl.Fields)
	email := vals["email"].S
	if email == "" && j.mirrorG != nil {
		email = j.mirrorG.Email
		vals["email"] = diff.Scalar(email)
	}
	if email == "" {
		return nil, fmt.Errorf("cannot create ptd client: %w: no email", ptd.ErrInvalidInput)
	}
	var c ptdwire.Client
	adopted := false
	if p.Remote.PTD.Capabilities().Has(ptd.CapClientRead) {
		found, err := p.Remote.PTD.FindClientByEmail(ctx, email)
		if err != nil {
			return nil, err
		}
		if found != nil {
			c, adopted = *found, true
		}
	}
	if !adopted {
		in, err := mapping.PTDInput(vals)
		if err != nil {
			return nil, err
		}
		f := false
		in.SendLoginDetails = &f
		if v, ok := vals["access"]; ok && v.S != "" {
			in.Access = &v.S
		}
		c, err = p.Remote.PTD.CreateClient(ctx, in)
		if id, ok := ptd.ExistingID(err); ok {
			if c, err = p.Remote.PTD.GetClient(ctx, id); err != nil {
				return nil, err
			}
			adopted = true
		} else if err != nil {
			return nil, err
		}
	}
	if !adopted {
		if t := vals["tags"]; len(t.Set) > 0 && p.Remote.PTD.Capabilities().Has(ptd.CapTags) {
			c2, err := p.Remote.PTD.AddTags(ctx, c.ID, t.Set)
			if err != nil {
				return nil, err
			}
			if c2.ID != "" {
				c = c2
			}
		}
	}
	now := p.Now().UTC()
	rec := p.Mapping.PTDRecord(c, now)
	if len(c.Tags) == 0 && !adopted {
		rec = p.Mapping.PatchPTD(rec, map[string]diff.Value{"tags": vals["tags"]})
	}
	return func(tx *store.Tx) error {
		l := j.link
		l.PTDID = c.ID
		if adopted {
			l.MatchedBy = outbox.MatchedByEmail
		}
		if err := tx.PutLink(&l); err != nil {
			return err
		}
		if err := tx.PutPTDClient(&rec); err != nil {
			return err
		}
		if adopted {
			// No base: nothing was agreed, so the next reconcile merges the two records as
			// it merges any pair matched by email.
			p.Logger.Info("ptd client already existed; linked by email instead of created", "link", l.ID)
			return nil
		}
		return baseCommit(tx, l.ID, j.pl.Fields, now)
	}, nil
}

func (p *Pusher) createContact(ctx context.Context, j *job) (commitFn, error) {
	if j.link.GHLID != "" {
		return nil, nil
	}
	vals := byWire(j.pl.Fields)
	email := vals["email"].S
	var c ghlwire.Contact
	var held commitFn
	adopted := false
	if email != "" {
		found, ok, err := p.Remote.GHL.FindDuplicate(ctx, email, "")
		if err != nil {
			return nil, err
		}
		if ok && strings.EqualFold(strings.TrimSpace(found.Email), email) {
			c, adopted = found, true
		}
	}
	if !adopted {
		in, err := mapping.GHLInput(vals)
		if err != nil {
			return nil, err
		}
		c, err = p.Remote.GHL.CreateContact(ctx, in)
		var ae *ghl.APIError
		if errors.As(err, &ae) && errors.Is(err, ghl.ErrDuplicate) && ae.Duplicate != nil {
			if ae.Duplicate.MatchingField == "email" {
				if c, err = p.Remote.GHL.GetContact(ctx, ae.Duplicate.ContactID); err != nil {
					return nil, err
				}
				adopted = true
			} else {
				// Another contact holds the phone: create without it rather than merge two people.
				held = p.heldByDuplicate(j, err)
				in.Phone = nil
				for f, w := range j.pl.Fields {
					if w.Wire == "phone" {
						delete(j.pl.Fields, f)
					}
				}
				c, err = p.Remote.GHL.CreateContact(ctx, in)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	now := p.Now().UTC()
	rec := p.Mapping.GHLRecord(c, now)
	return func(tx *store.Tx) error {
		l := j.link
		l.GHLID = c.ID
		if adopted {
			l.MatchedBy = outbox.MatchedByEmail
			p.Logger.Info("highlevel contact already existed; linked by email instead of created", "link", l.ID)
		}
		if err := tx.PutLink(&l); err != nil {
			return err
		}
		if err := putGHLUnlessOlder(tx, &rec); err != nil {
			return err
		}
		if held != nil {
			j.link = l
			if err := held(tx); err != nil {
				return err
			}
		}
		if adopted {
			return nil
		}
		return baseCommit(tx, l.ID, j.pl.Fields, now)
	}, nil
}

// heldByDuplicate turns HighLevel's refusal of a value another contact holds (duplicate
// phone or email in a location that forbids duplicates) into an open conflict on that field:
// the write is dropped, the merge holds the field while the conflict is open, and the operator
// decides with ptsync conflicts. It returns nil for any other error.
func (p *Pusher) heldByDuplicate(j *job, err error) commitFn {
	var ae *ghl.APIError
	if !errors.As(err, &ae) || !errors.Is(err, ghl.ErrDuplicate) || ae.Duplicate == nil {
		return nil
	}
	var field string
	var w outbox.FieldWrite
	for f, fw := range j.pl.Fields {
		if fw.Wire == ae.Duplicate.MatchingField {
			field, w = f, fw
		}
	}
	if field == "" {
		return nil
	}
	cur := ""
	if j.mirrorG != nil {
		cur = p.Mapping.Normalize(field, p.Mapping.GHLValues(*j.mirrorG).Values[field].S)
	}
	p.Logger.Warn("highlevel refuses a value another contact holds; field held for the operator", "link", j.link.ID, "field", field, "other_contact", ae.Duplicate.ContactID)
	return func(tx *store.Tx) error {
		c := store.Conflict{LinkID: j.link.ID, Field: field, GHL: cur, PTD: mapping.EncodeValue(w.Value), NoBase: true,
			Reason: "highlevel refused the value: contact " + ae.Duplicate.ContactID + " already holds it"}
		b, err := tx.GetBase(j.link.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if v, ok := b.Fields[field]; ok && err == nil {
			c.Base, c.NoBase = v, false
		}
		return tx.PutConflict(c)
	}
}

func (p *Pusher) routeClient(ctx context.Context, j *job) (commitFn, error) {
	id := j.link.PTDID
	if id == "" {
		return nil, errDefer
	}
	r := j.pl.Route
	if r == nil {
		return nil, nil
	}
	if j.link.MatchedBy != outbox.MatchedByCreate {
		// The create found the client already in PTD: it is not new, and keeps the groups,
		// package and access its coach gave it.
		return nil, nil
	}
	if r.Group != "" {
		if err := p.Remote.PTD.AddToGroup(ctx, id, p.groupRef(ctx, r.Group)); err != nil {
			return nil, fmt.Errorf("cannot route client to group %q (route %s): %w", r.Group, r.Name, err)
		}
	}
	if r.Package != "" {
		if err := p.Remote.PTD.AssignPackage(ctx, id, p.packageRef(ctx, r.Package)); err != nil {
			return nil, fmt.Errorf("cannot route client to package %q (route %s): %w", r.Package, r.Name, err)
		}
	}
	if r.Access != "" {
		if err := p.Remote.PTD.SetAccess(ctx, id, r.Access); err != nil {
			return nil, fmt.Errorf("cannot set access %q (route %s): %w", r.Access, r.Name, err)
		}
	}
	return nil, nil
}

// groupRef resolves a configured group (id or name) to an id through PTD's catalogue when
// the driver has one; otherwise the reference passes through (zapier). Safe for the push
// workers to call concurrently.
func (p *Pusher) groupRef(ctx context.Context, ref string) string {
	return p.catalogRef(ctx, &p.groups, ref, func(ctx context.Context) (map[string]string, error) {
		gs, err := p.Remote.PTD.ListGroups(ctx)
		m := map[string]string{}
		for _, g := range gs {
			m[strings.ToLower(g.Name)], m[strings.ToLower(g.ID)] = g.ID, g.ID
		}
		return m, err
	})
}

// packageRef is groupRef for packages.
func (p *Pusher) packageRef(ctx context.Context, ref string) string {
	return p.catalogRef(ctx, &p.packages, ref, func(ctx context.Context) (map[string]string, error) {
		ps, err := p.Remote.PTD.ListPackages(ctx)
		m := map[string]string{}
		for _, pk := range ps {
			m[strings.ToLower(pk.Name)], m[strings.ToLower(pk.ID)] = pk.ID, pk.ID
		}
		return m, err
	})
}

// catalogRef looks ref up in the cached catalogue *cache (under catMu), loading it with list
// when empty; an unknown ref empties the cache so the next call asks again (maybe new).
func (p *Pusher) catalogRef(ctx context.Context, cache *map[string]string, ref string, list func(context.Context) (map[string]string, error)) string {
	if !p.Remote.PTD.Capabilities().Has(ptd.CapCatalog) {
		return ref
	}
	p.catMu.Lock()
	m := *cache
	p.catMu.Unlock()
	if m == nil {
		var err error
		if m, err = list(ctx); err != nil {
			return ref
		}
		p.catMu.Lock()
		*cache = m
		p.catMu.Unlock()
	}
	if id, ok := m[strings.ToLower(ref)]; ok {
		return id
	}
	p.catMu.Lock()
	*cache = nil
	p.catMu.Unlock()
	return ref
}

func (p *Pusher) sendReminder(ctx context.Context, j *job) (commitFn, error) {
	r := j.pl.Reminder
	if r == nil {
		return nil, nil
	}
	if _, err := p.Remote.PTD.SendReminder(ctx, *r); err != nil {
		return nil, err
	}
	p.Metrics.RemindersSent(1)
	return nil, nil
}
