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
	var out []string
	add := func(format string, args ...any) {
		if len(out) < 50 {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	err := db.View(func(tx *store.Tx) error {
		seen := map[string]bool{}
		if err := tx.ForEachGHLContact(func(m *store.GHLContact) error {
			seen[m.ID] = true
			c, ok := g.Contact(m.ID)
			if !ok {
				add("ghl contact %s is in the mirror, not in HighLevel", m.ID)
				return nil
			}
			for _, f := range [][3]string{{"email", m.Email, c.Email}, {"firstName", m.FirstName, c.FirstName}, {"lastName", m.LastName, c.LastName}, {"tags", tagKey(m.Tags), tagKey(c.Tags)}} {
				if strings.TrimSpace(f[1]) != strings.TrimSpace(f[2]) && !(f[0] == "email" && normEmail(f[1]) == normEmail(f[2])) {
					add("ghl contact %s %s: mirror %q, HighLevel %q", m.ID, f[0], f[1], f[2])
				}
			}
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
			if a, b := idKey(mt), idKey(st); a != b {
				add("ghl contact %s tasks: mirror [%s], HighLevel [%s]", m.ID, a, b)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, c := range g.Contacts() {
			if !seen[c.ID] {
				add("ghl contact %s (%s) is not in the mirror", c.ID, normEmail(c.Email))
			}
		}
		seen = map[string]bool{}
		if err := tx.ForEachPTDClient(func(m *store.PTDClient) error {
			seen[m.ID] = true
			c, ok := p.Client(m.ID)
			if !ok {
				add("ptd client %s is in the mirror, not in PTD", m.ID)
				return nil
			}
			for _, f := range [][3]string{{"email", m.Email, c.Email}, {"firstName", m.FirstName, c.FirstName}, {"lastName", m.LastName, c.LastName}, {"tags", tagKey(m.Tags), tagKey(c.Tags)}} {
				if strings.TrimSpace(f[1]) != strings.TrimSpace(f[2]) && !(f[0] == "email" && normEmail(f[1]) == normEmail(f[2])) {
					add("ptd client %s %s: mirror %q, PTD %q", m.ID, f[0], f[1], f[2])
				}
			}
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
			if a, b := idKey(mt), idKey(st); a != b {
				add("ptd client %s tasks: mirror [%s], PTD [%s]", m.ID, a, b)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, c := range p.Clients() {
			if !seen[c.ID] {
				add("ptd client %s (%s) is not in the mirror", c.ID, normEmail(c.Email))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot compare the mirror: %w", err)
	}
	return out, nil
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
