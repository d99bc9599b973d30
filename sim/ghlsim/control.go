package ghlsim

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/sim/gen"
)

// The control API changes data "as a user in HighLevel would": the same rules, the same
// dateUpdated moves, the same search lag as the API, but no auth, rate limit, fault or
// request counter. Errors are *Error values (errors.Is with ErrNotFound, ErrDuplicate,
// ErrInvalid).

func asErr(e *Error) error {
	if e == nil {
		return nil
	}
	return e
}

// CreateContact creates a contact in the simulator's location (in.LocationID is ignored).
func (s *Server) CreateContact(in ghlwire.ContactInput) (ghlwire.Contact, error) {
	c, e := s.opCreateContact(in)
	return c, asErr(e)
}

// UpdateContact edits a contact like PUT /contacts/{id}: only the set fields change, Tags
// (when non-nil) replaces every tag, dateUpdated moves.
func (s *Server) UpdateContact(id string, in ghlwire.ContactInput) (ghlwire.Contact, error) {
	c, e := s.opUpdateContact(id, in, JournalControl)
	return c, asErr(e)
}

// DeleteContact deletes a contact and its children.
func (s *Server) DeleteContact(id string) error { return asErr(s.opDeleteContact(id)) }

// AddTags adds tags (lower-cased, trimmed) and returns the contact's tags.
func (s *Server) AddTags(id string, tags ...string) ([]string, error) {
	t, e := s.opTags(id, tags, true)
	return t, asErr(e)
}

// RemoveTags removes tags and returns the contact's tags.
func (s *Server) RemoveTags(id string, tags ...string) ([]string, error) {
	t, e := s.opTags(id, tags, false)
	return t, asErr(e)
}

// AddTask creates a task; Title, DueDate and Completed are required as on the API.
func (s *Server) AddTask(contactID string, in ghlwire.TaskInput) (ghlwire.Task, error) {
	t, e := s.opCreateTask(contactID, in)
	return t, asErr(e)
}

// UpdateTask edits a task's set fields.
func (s *Server) UpdateTask(contactID, taskID string, in ghlwire.TaskInput) (ghlwire.Task, error) {
	t, e := s.opUpdateTask(contactID, taskID, in)
	return t, asErr(e)
}

// CompleteTask sets a task's completed flag.
func (s *Server) CompleteTask(contactID, taskID string, completed bool) (ghlwire.Task, error) {
	t, e := s.opUpdateTask(contactID, taskID, ghlwire.TaskInput{Completed: &completed})
	return t, asErr(e)
}

// DeleteTask deletes a task.
func (s *Server) DeleteTask(contactID, taskID string) error {
	return asErr(s.opDeleteTask(contactID, taskID))
}

// AddNote creates a note; Body is required.
func (s *Server) AddNote(contactID string, in ghlwire.NoteInput) (ghlwire.Note, error) {
	n, e := s.opCreateNote(contactID, in)
	return n, asErr(e)
}

// UpdateNote edits a note's set fields.
func (s *Server) UpdateNote(contactID, id string, in ghlwire.NoteInput) (ghlwire.Note, error) {
	n, e := s.opUpdateNote(contactID, id, in)
	return n, asErr(e)
}

// DeleteNote deletes a note.
func (s *Server) DeleteNote(contactID, id string) error {
	return asErr(s.opDeleteNote(contactID, id))
}

// AddAppointment books an appointment for a contact; the id, contact, location and dates
// are filled in. The API only reads appointments.
func (s *Server) AddAppointment(contactID string, a ghlwire.Appointment) (ghlwire.Appointment, error) {
	out, e := s.opAddAppointment(contactID, a)
	return out, asErr(e)
}

// Contacts returns every current contact (not the lagged search view), oldest first by
// dateAdded then id.
func (s *Server) Contacts() []ghlwire.Contact {
	s.mu.RLock()
	defer s.mu.RUnlock()
	snaps := make([]*snap, 0, len(s.st.contacts))
	for _, rec := range s.st.contacts {
		snaps = append(snaps, rec.cur)
	}
	slices.SortFunc(snaps, func(a, b *snap) int {
		if c := a.added.Compare(b.added); c != 0 {
			return c
		}
		return strings.Compare(a.c.ID, b.c.ID)
	})
	out := make([]ghlwire.Contact, len(snaps))
	for i, sn := range snaps {
		out[i] = cloneContact(sn.c)
	}
	return out
}

// Contact returns one contact; ok is false if it does not exist.
func (s *Server) Contact(id string) (ghlwire.Contact, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec := s.st.contacts[id]
	if rec == nil {
		return ghlwire.Contact{}, false
	}
	return cloneContact(rec.cur.c), true
}

// ContactCount returns the number of contacts.
func (s *Server) ContactCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.st.contacts)
}

// Tasks returns a contact's tasks in creation order (nil if the contact does not exist).
func (s *Server) Tasks(contactID string) []ghlwire.Task {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec := s.st.contacts[contactID]
	if rec == nil {
		return nil
	}
	out := make([]ghlwire.Task, len(rec.tasks))
	for i, t := range rec.tasks {
		out[i] = t.t
	}
	return out
}

// Notes returns a contact's notes in creation order.
func (s *Server) Notes(contactID string) []ghlwire.Note {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec := s.st.contacts[contactID]
	if rec == nil {
		return nil
	}
	return slices.Clone(rec.notes)
}

// Appointments returns a contact's appointments.
func (s *Server) Appointments(contactID string) []ghlwire.Appointment {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec := s.st.contacts[contactID]
	if rec == nil {
		return nil
	}
	return slices.Clone(rec.appts)
}

// SetSearchLag changes the search indexing lag for later writes and searches.
func (s *Server) SetSearchLag(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lag = d
}

// SetAllowDuplicates changes the location's "Allow Duplicate Contact" setting.
func (s *Server) SetAllowDuplicates(allow bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowDup = allow
}

// SetCursorRepeat switches the broken-cursor test hook: while on, a list or search request
// that carries a cursor gets back that same cursor as its next one, so a client that does
// not guard against repeated cursors loops forever.
func (s *Server) SetCursorRepeat(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cursorRepeat = on
}

// SetLimits replaces the rate limits; current windows keep their counts.
func (s *Server) SetLimits(l Limits) { s.limits.set(l) }

// CurrentLimits returns the rate limits in force (defaults filled in).
func (s *Server) CurrentLimits() Limits { return s.limits.get() }

// BusinessID returns the business id seeded contacts of a company carry (stable).
func BusinessID(company string) string {
	h := fnv.New64a()
	h.Write([]byte(strings.ToLower(company)))
	return fmt.Sprintf("biz%017x", h.Sum64())[:20]
}

// Seed adds n generated people with their tasks, notes and appointments and returns their
// ids. Seeded records are searchable at once (they predate the lag) and bypass the
// duplicate check, as data imported long ago would; a few share a phone on purpose. The
// generator continues across calls, so Seed(10) twice gives 20 different people, and the
// same Options.Seed always gives the same people.
func (s *Server) Seed(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.seedNow()
	ids := make([]string, 0, n)
	for _, p := range s.gen.People(n) {
		ids = append(ids, s.seedPerson(p, now))
	}
	return ids
}

// SeedPeople adds the given people as Seed does (for harnesses that share people with the
// PT Distinction simulator) and returns their ids.
func (s *Server) SeedPeople(people []gen.Person) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.seedNow()
	ids := make([]string, 0, len(people))
	for _, p := range people {
		ids = append(ids, s.seedPerson(p, now))
	}
	return ids
}

// seedNow is the "now" seeded records are dated before: Options.Epoch, else the clock.
func (s *Server) seedNow() time.Time {
	return cmp.Or(s.opts.Epoch, s.now()).UTC().Truncate(time.Millisecond)
}

// seedPerson inserts p; s.mu must be held.
func (s *Server) seedPerson(p gen.Person, now time.Time) string {
	str := func(v string) *string { return &v }
	in := ghlwire.ContactInput{
		FirstName: str(p.FirstName), LastName: str(p.LastName), Email: str(p.Email),
		Address1: str(p.Address1), City: str(p.City), State: str(p.State), PostalCode: str(p.PostalCode),
		Country: str(p.Country), Timezone: str(p.Timezone), Website: str(p.Website), Source: str(p.Source),
		CompanyName: str(p.CompanyName), DateOfBirth: str(p.DateOfBirth), Tags: p.Tags,
	}
	if p.Phone != "" {
		in.Phone = str(p.Phone)
	}
	for _, k := range gen.CustomFieldKeys() {
		if v, ok := p.CustomFields[k]; ok {
			in.CustomFields = append(in.CustomFields, ghlwire.CustomFieldInput{ID: CustomFieldID(k), FieldValue: v})
		}
	}
	c := ghlwire.Contact{LocationID: s.opts.LocationID, Type: "lead", Tags: []string{}}
	if e := applyInput(&c, in); e != nil {
		// Generated data is valid by construction; keep the person without the bad field.
		s.log.Warn("seeded person failed validation", "error", e)
	}
	if slices.Contains(c.Tags, "client") {
		c.Type = "customer"
	}
	if p.CompanyName != "" {
		c.BusinessID = BusinessID(p.CompanyName)
	}
	added := p.CreatedAt.UTC().Truncate(time.Millisecond)
	if added.After(now) {
		added = now
	}
	// One draw whatever the span: a draw bounded by it would make the ids that follow
	// depend on the clock.
	updated := added.Add(time.Duration(s.st.rng.Float64() * float64(max(now.Sub(added), 0)))).Truncate(time.Millisecond)
	c.ID = s.st.newID()
	c.DateAdded, c.DateUpdated = isoMillis(added), isoMillis(updated)
	s.st.put(c.ID, &snap{c: c, added: added, updated: updated}, time.Time{}, s.lag)
	rec := s.st.contacts[c.ID]
	for _, t := range p.Tasks {
		rec.tasks = append(rec.tasks, &taskRec{added: added, t: ghlwire.Task{
			ID: s.st.newID(), ContactID: c.ID, Title: t.Title, Body: t.Body,
			DueDate: isoMillis(t.Due), Completed: t.Completed,
		}})
	}
	for _, n := range p.Notes {
		rec.notes = append(rec.notes, ghlwire.Note{
			ID: s.st.newID(), ContactID: c.ID, Title: n.Title, Body: n.Body,
			DateAdded: isoMillis(n.CreatedAt), Pinned: n.Pinned,
		})
	}
	for _, a := range p.Appointments {
		rec.appts = append(rec.appts, ghlwire.Appointment{
			ID: s.st.newID(), CalendarID: "simCalendar000000001", Status: a.Status, AppointmentStatus: a.Status,
			Title: a.Title, Notes: a.Notes, StartTime: isoMillis(a.Start), EndTime: isoMillis(a.End),
			LocationID: s.opts.LocationID, ContactID: c.ID, DateAdded: isoMillis(added), DateUpdated: isoMillis(added),
		})
	}
	return c.ID
}

// churnAction is one kind of change ChurnStep makes.
type churnAction int

const (
	churnEditField churnAction = iota
	churnAddTag
	churnRemoveTag
	churnAddTask
	churnCompleteTask
	churnAddNote
	churnEditNote
	churnDeleteTask
	churnActions
)

// ChurnStep changes n random contacts (fewer if there are fewer), one change each, through
// the same operations a HighLevel user's edits take: field edits, tag adds/removes, task and
// note writes. It returns the changed contact ids. The choices are deterministic given
// Options.Seed and the data.
func (s *Server) ChurnStep(n int) []string {
	s.mu.Lock()
	ids := make([]string, 0, len(s.st.contacts))
	for id := range s.st.contacts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	type plan struct {
		id     string
		action churnAction
		pick   int
	}
	var plans []plan
	for i := 0; i < n && len(ids) > 0; i++ {
		j := s.churnRng.IntN(len(ids))
		plans = append(plans, plan{id: ids[j], action: churnAction(s.churnRng.IntN(int(churnActions))), pick: s.churnRng.IntN(1 << 20)})
		ids = slices.Delete(ids, j, j+1)
	}
	s.mu.Unlock()

	tags := gen.Tags()
	cities := []string{"Austin", "Denver", "Portland", "Leeds", "Tampa"}
	changed := make([]string, 0, len(plans))
	for _, p := range plans {
		str := func(v string) *string { return &v }
		var err error
		switch p.action {
		case churnEditField:
			switch p.pick % 3 {
			case 0:
				_, err = s.UpdateContact(p.id, ghlwire.ContactInput{City: str(cities[p.pick%len(cities)])})
			case 1:
				_, err = s.UpdateContact(p.id, ghlwire.ContactInput{CompanyName: str(fmt.Sprintf("Company %d", p.pick%97))})
			default:
				_, err = s.UpdateContact(p.id, ghlwire.ContactInput{Source: str("churn edit")})
			}
		case churnAddTag:
			_, err = s.AddTags(p.id, tags[p.pick%len(tags)])
		case churnRemoveTag:
			c, _ := s.Contact(p.id)
			if len(c.Tags) == 0 {
				_, err = s.AddTags(p.id, tags[p.pick%len(tags)])
			} else {
				_, err = s.RemoveTags(p.id, c.Tags[p.pick%len(c.Tags)])
			}
		case churnAddTask:
			due := isoMillis(s.now().Add(time.Duration(p.pick%14+1) * 24 * time.Hour))
			f := false
			_, err = s.AddTask(p.id, ghlwire.TaskInput{Title: str("Follow up"), DueDate: &due, Completed: &f})
		case churnCompleteTask, churnDeleteTask:
			ts := s.Tasks(p.id)
			if len(ts) == 0 {
				_, err = s.AddNote(p.id, ghlwire.NoteInput{Body: str("Checked in; no open tasks.")})
				break
			}
			t := ts[p.pick%len(ts)]
			if p.action == churnDeleteTask {
				err = s.DeleteTask(p.id, t.ID)
			} else {
				_, err = s.CompleteTask(p.id, t.ID, !t.Completed)
			}
		case churnAddNote:
			_, err = s.AddNote(p.id, ghlwire.NoteInput{Body: str(fmt.Sprintf("Churn note %d", p.pick))})
		case churnEditNote:
			ns := s.Notes(p.id)
			if len(ns) == 0 {
				_, err = s.AddNote(p.id, ghlwire.NoteInput{Body: str("First note")})
			} else {
				_, err = s.UpdateNote(p.id, ns[p.pick%len(ns)].ID, ghlwire.NoteInput{Body: str(fmt.Sprintf("Edited %d", p.pick))})
			}
		}
		if err == nil {
			changed = append(changed, p.id)
		}
	}
	return changed
}

// Churn calls ChurnStep at perSecond changes per second until ctx is done.
func (s *Server) Churn(ctx context.Context, perSecond float64) {
	if perSecond <= 0 {
		return
	}
	t := time.NewTicker(time.Duration(float64(time.Second) / perSecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.ChurnStep(1)
		}
	}
}
