package ptdsim

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"ptsync/apiclient/ptdwire"
)

// The control surface as a Go API: a coach editing PTD in its own UI (no API key, no faults,
// counted as CoachWrites), and the snapshot accessors harnesses read the account back with.

func (s *Sim) coach(f func() *Error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := f(); err != nil {
		return err
	}
	s.coachWrites++
	return nil
}

// AddGroup creates a group named name and returns it. Names need not be unique.
func (s *Sim) AddGroup(name string) ptdwire.Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := ptdwire.Group{ID: s.nextID("gr"), Name: name}
	s.groups = append(s.groups, g)
	s.coachWrites++
	return g
}

// AddPackage creates a pre-made package named name and returns it.
func (s *Sim) AddPackage(name string) ptdwire.Package {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := ptdwire.Package{ID: s.nextID("pk"), Name: name}
	s.packages = append(s.packages, p)
	s.coachWrites++
	return p
}

// CreateClient adds a client as a coach would, with the same validation as POST /v1/clients
// (a duplicate email is an *Error unwrapping to ErrConflict, carrying ExistingID).
func (s *Sim) CreateClient(in ptdwire.ClientInput) (ptdwire.Client, error) {
	var c ptdwire.Client
	err := s.coach(func() (e *Error) { c, e = s.createClientLocked(in, time.Time{}); return })
	return c, err
}

// ImportClients adds clients in bulk, all stamped with the same updatedAt (as a migration
// into PTD would), to exercise cursor listing across equal timestamps. Later writes are still
// stamped after at. It stops at the first invalid input and returns the clients added so far.
func (s *Sim) ImportClients(at time.Time, ins []ptdwire.ClientInput) ([]ptdwire.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at = at.UTC().Truncate(time.Millisecond)
	if at.After(s.lastStamp) {
		s.lastStamp = at
	}
	out := make([]ptdwire.Client, 0, len(ins))
	for i, in := range ins {
		c, err := s.createClientLocked(in, at)
		if err != nil {
			return out, fmt.Errorf("cannot import client %d: %w", i, err)
		}
		s.coachWrites++
		out = append(out, c)
	}
	return out, nil
}

// EditClient changes a client as a coach would: no ETag needed; updatedAt and ETag move on.
func (s *Sim) EditClient(id string, in ptdwire.ClientInput) (ptdwire.Client, error) {
	var c ptdwire.Client
	err := s.coach(func() (e *Error) { c, e = s.updateClientLocked(id, "", false, in); return })
	return c, err
}

// TagClient adds and removes tags on a client.
func (s *Sim) TagClient(id string, add, remove []string) (ptdwire.Client, error) {
	var c ptdwire.Client
	err := s.coach(func() *Error {
		var e *Error
		if len(add) > 0 {
			if c, _, e = s.tagsLocked(id, add, true); e != nil {
				return e
			}
		}
		if len(remove) > 0 {
			if c, _, e = s.tagsLocked(id, remove, false); e != nil {
				return e
			}
		}
		if len(add)+len(remove) == 0 {
			r, e := s.clientLocked(id)
			if e != nil {
				return e
			}
			c = copyClient(r.c)
		}
		return nil
	})
	return c, err
}

// AddClientToGroup puts a client in a group (idempotent).
func (s *Sim) AddClientToGroup(id, groupID string) (ptdwire.Client, error) {
	var c ptdwire.Client
	err := s.coach(func() (e *Error) { c, _, e = s.membershipLocked(id, groupID, false, true); return })
	return c, err
}

// CreateTask adds a task for a client.
func (s *Sim) CreateTask(clientID string, in ptdwire.TaskInput) (ptdwire.Task, error) {
	var t ptdwire.Task
	err := s.coach(func() (e *Error) { t, e = s.createTaskLocked(clientID, in); return })
	return t, err
}

// EditTask patches a task.
func (s *Sim) EditTask(id string, in ptdwire.TaskInput) (ptdwire.Task, error) {
	var t ptdwire.Task
	err := s.coach(func() (e *Error) { t, e = s.updateTaskLocked(id, in); return })
	return t, err
}

// CompleteTask marks a task completed (or open again with done=false).
func (s *Sim) CompleteTask(id string, done bool) (ptdwire.Task, error) {
	return s.EditTask(id, ptdwire.TaskInput{Completed: &done})
}

// DeleteTask removes a task.
func (s *Sim) DeleteTask(id string) error {
	return s.coach(func() *Error { return s.deleteTaskLocked(id) })
}

// CreateNote adds a note on a client.
func (s *Sim) CreateNote(clientID, body string) (ptdwire.Note, error) {
	var n ptdwire.Note
	err := s.coach(func() (e *Error) { n, e = s.createNoteLocked(clientID, ptdwire.NoteInput{Body: &body}); return })
	return n, err
}

// EditNote replaces a note's body.
func (s *Sim) EditNote(id, body string) (ptdwire.Note, error) {
	var n ptdwire.Note
	err := s.coach(func() (e *Error) { n, e = s.updateNoteLocked(id, ptdwire.NoteInput{Body: &body}); return })
	return n, err
}

// DeleteNote removes a note.
func (s *Sim) DeleteNote(id string) error {
	return s.coach(func() *Error { return s.deleteNoteLocked(id) })
}

// SetFaults replaces the injected faults.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// FailNext answers the next n /v1/ requests with status (429, 5xx, ...) and, when retryAfter is
// non-zero, a Retry-After header in whole seconds (rounded up). Queued failures come before
// the random ErrorRate.
func (s *Sim) FailNext(n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.queued = append(s.queued, queuedFault{status: status, retryAfter: retryAfter})
	}
}

// ---- snapshots ----

// Clients returns every client, ordered by id.
func (s *Sim) Clients() []ptdwire.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ptdwire.Client, 0, len(s.clients))
	for _, r := range s.clients {
		out = append(out, copyClient(r.c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Client returns one client.
func (s *Sim) Client(id string) (ptdwire.Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.clients[id]
	if !ok {
		return ptdwire.Client{}, false
	}
	return copyClient(r.c), true
}

// ClientByEmail finds a client by email, compared trimmed and case-insensitively.
func (s *Sim) ClientByEmail(email string) (ptdwire.Client, bool) {
	s.mu.Lock()
	id, ok := s.byEmail[NormalizeEmail(email)]
	s.mu.Unlock()
	if !ok {
		return ptdwire.Client{}, false
	}
	return s.Client(id)
}

// Groups returns the groups in creation order.
func (s *Sim) Groups() []ptdwire.Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.groups)
}

// Packages returns the packages in creation order.
func (s *Sim) Packages() []ptdwire.Package {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.packages)
}

// Tasks returns a client's tasks ordered by id (all clients' when clientID is "").
func (s *Sim) Tasks(clientID string) []ptdwire.Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tasksLocked(clientID)
}

func (s *Sim) tasksLocked(clientID string) []ptdwire.Task {
	out := []ptdwire.Task{}
	for _, t := range s.tasks {
		if clientID == "" || t.ClientID == clientID {
			out = append(out, *t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Notes returns a client's notes ordered by id (all clients' when clientID is "").
func (s *Sim) Notes(clientID string) []ptdwire.Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notesLocked(clientID)
}

func (s *Sim) notesLocked(clientID string) []ptdwire.Note {
	out := []ptdwire.Note{}
	for _, n := range s.notes {
		if clientID == "" || n.ClientID == clientID {
			out = append(out, *n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Appointments returns a client's appointments ordered by startAt then id (all clients'
// when clientID is "").
func (s *Sim) Appointments(clientID string) []ptdwire.Appointment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appointmentsLocked(clientID)
}

func (s *Sim) appointmentsLocked(clientID string) []ptdwire.Appointment {
	out := []ptdwire.Appointment{}
	for _, a := range s.appts {
		if clientID == "" || a.ClientID == clientID {
			out = append(out, *a)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].StartAt != out[j].StartAt {
			return out[i].StartAt < out[j].StartAt
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Reminders returns every reminder in creation order.
func (s *Sim) Reminders() []ptdwire.Reminder {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ptdwire.Reminder, 0, len(s.reminderIDs))
	for _, k := range s.reminderIDs {
		out = append(out, *s.reminders[k])
	}
	return out
}

// Stats returns a copy of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Requests: make(map[string]int64, len(s.requests)), TotalRequests: s.totalRequests,
		Writes: s.writes, CoachWrites: s.coachWrites}
	for k, v := range s.requests {
		st.Requests[k] = v
	}
	return st
}

// ResetStats zeroes the counters (not the data).
func (s *Sim) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = make(map[string]int64)
	s.totalRequests, s.writes, s.coachWrites = 0, 0, 0
}
