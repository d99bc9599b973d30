package ghlsim

import (
	"slices"
	"strings"

	"ptsync/apiclient/ghlwire"
)

// Snapshot is the location's data at one moment in a canonical order: every contact by id,
// with its tasks, notes and appointments in creation order. It leaves out what is not data:
// counters, the journal, tokens, limits and faults, and the search index's lagged view.
//
// Two simulators built with the same Seed, Epoch and LocationID and seeded the same way have
// byte-identical JSON snapshots (GET /_sim/snapshot): that is how `ptsync sim --seed` is
// checked to fix its data. Churn and API writes are dated by the clock and change it.
type Snapshot struct {
	LocationID string            `json:"locationId"`
	Contacts   []SnapshotContact `json:"contacts"`
}

// SnapshotContact is one contact of a Snapshot with its children; the lists are never nil.
type SnapshotContact struct {
	Contact      ghlwire.Contact       `json:"contact"`
	Tasks        []ghlwire.Task        `json:"tasks"`
	Notes        []ghlwire.Note        `json:"notes"`
	Appointments []ghlwire.Appointment `json:"appointments"`
}

// Snapshot returns the current data (see the type). Safe for concurrent use; it holds the
// read lock while it copies.
func (s *Server) Snapshot() Snapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := Snapshot{LocationID: s.opts.LocationID, Contacts: make([]SnapshotContact, 0, len(s.st.contacts))}
	for _, rec := range s.st.contacts {
		c := SnapshotContact{Contact: cloneContact(rec.cur.c), Tasks: make([]ghlwire.Task, 0, len(rec.tasks)),
			Notes: slices.Clone(rec.notes), Appointments: slices.Clone(rec.appts)}
		for _, t := range rec.tasks {
			c.Tasks = append(c.Tasks, t.t)
		}
		if c.Notes == nil {
			c.Notes = []ghlwire.Note{}
		}
		if c.Appointments == nil {
			c.Appointments = []ghlwire.Appointment{}
		}
		out.Contacts = append(out.Contacts, c)
	}
	slices.SortFunc(out.Contacts, func(a, b SnapshotContact) int { return strings.Compare(a.Contact.ID, b.Contact.ID) })
	return out
}
