package ptdsim

import (
	"sort"

	"ptsync/apiclient/ptdwire"
)

// Snapshot is the account's data at one moment in a canonical order: the catalogue in
// creation order, clients, tasks and notes by id, appointments by start then id, reminders in
// creation order, and the clients a coach removed (by id). Counters, faults and the API key
// are not data and are left out.
//
// Two simulators seeded with the same SeedOptions (with At set) from the same people have
// byte-identical JSON snapshots (GET /_sim/snapshot): that is how `ptsync sim --seed` is
// checked to fix its data.
type Snapshot struct {
	Groups       []ptdwire.Group       `json:"groups"`
	Packages     []ptdwire.Package     `json:"packages"`
	Clients      []ptdwire.Client      `json:"clients"`
	Tasks        []ptdwire.Task        `json:"tasks"`
	Notes        []ptdwire.Note        `json:"notes"`
	Appointments []ptdwire.Appointment `json:"appointments"`
	Reminders    []ptdwire.Reminder    `json:"reminders"`
	Removed      []ptdwire.Client      `json:"removed"`
}

// Snapshot returns the current data (see the type), copied under one lock. The lists are
// never nil.
func (s *Sim) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Snapshot{Groups: append([]ptdwire.Group{}, s.groups...), Packages: append([]ptdwire.Package{}, s.packages...),
		Clients: clientsByID(s.clients), Tasks: s.tasksLocked(""), Notes: s.notesLocked(""),
		Appointments: s.appointmentsLocked(""), Reminders: make([]ptdwire.Reminder, 0, len(s.reminderIDs)),
		Removed: clientsByID(s.removed)}
	for _, k := range s.reminderIDs {
		out.Reminders = append(out.Reminders, *s.reminders[k])
	}
	return out
}

func clientsByID(m map[string]*clientRec) []ptdwire.Client {
	out := make([]ptdwire.Client, 0, len(m))
	for _, r := range m {
		out = append(out, copyClient(r.c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
