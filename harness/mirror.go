package harness

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"ptsync/store"
)

// MirrorDiff compares the mirror with the simulators: the same HighLevel contacts and PTD
// clients (by id) with the same email, names and tags, and the same task ids under each. It
// returns one line per difference (at most 50). Run it on a stopped service's mirror.
func MirrorDiff(db *store.DB, g *GHLSnapshot, p *PTDSnapshot) ([]string, error) {
	var d mirrorDiff
	err := db.View(func(tx *store.Tx) error {
		if err := d.ghlContacts(tx, g); err != nil {
			return err
		}
		return d.ptdClients(tx, p)
	})
	if err != nil {
		return nil, fmt.Errorf("cannot compare the mirror: %w", err)
	}
	return d.lines, nil
}

// mirrorDiff collects MirrorDiff's lines; past 50 it drops them, so a mirror that lost
// everything still reads as a short list.
type mirrorDiff struct{ lines []string }

func (d *mirrorDiff) add(format string, args ...any) {
	if len(d.lines) < 50 {
		d.lines = append(d.lines, fmt.Sprintf(format, args...))
	}
}

// ghlContacts compares every mirrored HighLevel contact with the snapshot's (record and task
// ids), then lists the snapshot's contacts the mirror lacks.
func (d *mirrorDiff) ghlContacts(tx *store.Tx, g *GHLSnapshot) error {
	seen := map[string]bool{}
	if err := tx.ForEachGHLContact(func(m *store.GHLContact) error {
		seen[m.ID] = true
		c, ok := g.Contact(m.ID)
		if !ok {
			d.add("ghl contact %s is in the mirror, not in HighLevel", m.ID)
			return nil
		}
		what := "ghl contact " + m.ID
		d.record(what, "HighLevel", [4]string{m.Email, m.FirstName, m.LastName, tagKey(m.Tags)}, [4]string{c.Email, c.FirstName, c.LastName, tagKey(c.Tags)})
		ts, err := tx.GHLTasksOf(m.ID)
		if err != nil {
			return err
		}
		var mt, st []string
		for _, t := range ts {
			mt = append(mt, t.ID)
		}
		for _, t := range g.Tasks(m.ID) {
			st = append(st, t.ID)
		}
		d.taskIDs(what, "HighLevel", mt, st)
		return nil
	}); err != nil {
		return err
	}
	for _, c := range g.Contacts() {
		if !seen[c.ID] {
			d.add("ghl contact %s (%s) is not in the mirror", c.ID, normEmail(c.Email))
		}
	}
	return nil
}

// ptdClients compares every mirrored PTD client with the snapshot's (record and task ids),
// then lists the snapshot's clients the mirror lacks.
func (d *mirrorDiff) ptdClients(tx *store.Tx, p *PTDSnapshot) error {
	seen := map[string]bool{}
	if err := tx.ForEachPTDClient(func(m *store.PTDClient) error {
		seen[m.ID] = true
		c, ok := p.Client(m.ID)
		if !ok {
			d.add("ptd client %s is in the mirror, not in PTD", m.ID)
			return nil
		}
		what := "ptd client " + m.ID
		d.record(what, "PTD", [4]string{m.Email, m.FirstName, m.LastName, tagKey(m.Tags)}, [4]string{c.Email, c.FirstName, c.LastName, tagKey(c.Tags)})
		ts, err := tx.PTDTasksOf(m.ID)
		if err != nil {
			return err
		}
		var mt, st []string
		for _, t := range ts {
			mt = append(mt, t.ID)
		}
		for _, t := range p.Tasks(m.ID) {
			st = append(st, t.ID)
		}
		d.taskIDs(what, "PTD", mt, st)
		return nil
	}); err != nil {
		return err
	}
	for _, c := range p.Clients() {
		if !seen[c.ID] {
			d.add("ptd client %s (%s) is not in the mirror", c.ID, normEmail(c.Email))
		}
	}
	return nil
}

// record compares one record's email, first name, last name and tag key (in that order) as
// the mirror and the simulator (named sim) hold them: surrounding space never counts, and
// an email differing only in case or inner space is the same email.
func (d *mirrorDiff) record(what, sim string, mirror, simulator [4]string) {
	for i, name := range [4]string{"email", "firstName", "lastName", "tags"} {
		a, b := mirror[i], simulator[i]
		if strings.TrimSpace(a) != strings.TrimSpace(b) && !(name == "email" && normEmail(a) == normEmail(b)) {
			d.add("%s %s: mirror %q, %s %q", what, name, a, sim, b)
		}
	}
}

// taskIDs compares the task ids the mirror and the simulator hold under one record, in any
// order.
func (d *mirrorDiff) taskIDs(what, sim string, mirror, simulator []string) {
	if a, b := idKey(mirror), idKey(simulator); a != b {
		d.add("%s tasks: mirror [%s], %s [%s]", what, a, sim, b)
	}
}

func tagKey(tags []string) string {
	t := make([]string, 0, len(tags))
	for _, s := range tags {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" && !slices.Contains(t, s) {
			t = append(t, s)
		}
	}
	sort.Strings(t)
	return strings.Join(t, ",")
}

func idKey(ids []string) string {
	ids = slices.Clone(ids)
	sort.Strings(ids)
	return strings.Join(ids, " ")
}
