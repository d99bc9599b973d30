package ghlsim

import (
	"slices"
	"strings"
	"time"

	"ptsync/apiclient/ghlwire"
)

// The operations below are shared by the HTTP handlers and the Go control API, so both move
// dateUpdated and enforce the same rules. Each takes s.mu itself.

func (s *Server) opCreateContact(in ghlwire.ContactInput) (ghlwire.Contact, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createLocked(in)
}

func (s *Server) createLocked(in ghlwire.ContactInput) (ghlwire.Contact, *Error) {
	c := ghlwire.Contact{LocationID: s.opts.LocationID, Type: "lead", Tags: []string{}}
	if e := applyInput(&c, in); e != nil {
		return ghlwire.Contact{}, e
	}
	if !s.allowDup {
		if dup, field := s.st.findDuplicate(c.Email, c.Phone, ""); dup != nil {
			return ghlwire.Contact{}, &Error{Status: 400, Messages: []string{ghlwire.MsgDuplicateContact},
				Meta: &ghlwire.DuplicateMeta{ContactID: dup.c.ID, ContactName: dup.c.Name, MatchingField: field}}
		}
	}
	now := s.now()
	t := now.UTC().Truncate(time.Millisecond)
	c.ID = s.st.newID()
	c.DateAdded, c.DateUpdated = isoMillis(t), isoMillis(t)
	s.st.put(c.ID, &snap{c: c, added: t, updated: t}, now, s.lag)
	return cloneContact(c), nil
}

// opUpdateContact updates a contact and journals it under source (JournalAPI, JournalControl).
func (s *Server) opUpdateContact(id string, in ghlwire.ContactInput, source string) (ghlwire.Contact, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, e := s.updateLocked(id, in)
	if e == nil {
		s.jrn.add(JournalEntry{At: s.now(), Contact: id, Source: source, Op: JournalUpdate, Set: journalSet(in)})
	}
	return c, e
}

func (s *Server) updateLocked(id string, in ghlwire.ContactInput) (ghlwire.Contact, *Error) {
	rec := s.st.contacts[id]
	if rec == nil {
		return ghlwire.Contact{}, errNotFound("Contact")
	}
	now := s.now()
	ns := touch(rec, now)
	if e := applyInput(&ns.c, in); e != nil {
		return ghlwire.Contact{}, e
	}
	if !s.allowDup && (in.Email != nil || in.Phone != nil) {
		email, phone := "", ""
		if in.Email != nil {
			email = ns.c.Email
		}
		if in.Phone != nil {
			phone = ns.c.Phone
		}
		if dup, field := s.st.findDuplicate(email, phone, id); dup != nil {
			return ghlwire.Contact{}, &Error{Status: 400, Messages: []string{ghlwire.MsgDuplicateContact},
				Meta: &ghlwire.DuplicateMeta{ContactID: dup.c.ID, ContactName: dup.c.Name, MatchingField: field}}
		}
	}
	s.st.put(id, ns, now, s.lag)
	return cloneContact(ns.c), nil
}

// opUpsert follows the spec: with duplicates allowed and createNewIfDuplicateAllowed set it
// always creates; otherwise it updates the contact matching email first, then phone.
func (s *Server) opUpsert(in ghlwire.ContactInput) (ghlwire.Contact, bool, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	forceNew := in.CreateNewIfDuplicateAllowed != nil && *in.CreateNewIfDuplicateAllowed && s.allowDup
	in.CreateNewIfDuplicateAllowed = nil
	if !forceNew {
		var probe ghlwire.Contact
		if e := applyInput(&probe, in); e != nil {
			return ghlwire.Contact{}, false, e
		}
		if dup, _ := s.st.findDuplicate(probe.Email, "", ""); dup != nil {
			c, e := s.updateLocked(dup.c.ID, in)
			return c, false, e
		}
		if dup, _ := s.st.findDuplicate("", probe.Phone, ""); dup != nil {
			c, e := s.updateLocked(dup.c.ID, in)
			return c, false, e
		}
	}
	saved := s.allowDup
	s.allowDup = true // nothing matched, or duplicates were explicitly requested
	c, e := s.createLocked(in)
	s.allowDup = saved
	return c, e == nil, e
}

func (s *Server) opDeleteContact(id string) *Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.contacts[id] == nil {
		return errNotFound("Contact")
	}
	delete(s.st.contacts, id)
	s.st.indexAdd(id, nil, s.now(), s.lag)
	return nil
}

// opTags adds (add=true) or removes tags and returns the contact's tags afterwards.
func (s *Server) opTags(id string, tags []string, add bool) ([]string, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.st.contacts[id]
	if rec == nil {
		return nil, errNotFound("Contact")
	}
	norm := normalizeTags(tags)
	now := s.now()
	ns := touch(rec, now)
	if add {
		ns.c.Tags = normalizeTags(append(ns.c.Tags, norm...))
	} else {
		ns.c.Tags = slices.DeleteFunc(ns.c.Tags, func(t string) bool { return slices.Contains(norm, t) })
	}
	s.st.put(id, ns, now, s.lag)
	return slices.Clone(ns.c.Tags), nil
}

// childWritten bumps the contact's dateUpdated after a task or note write, if configured.
func (s *Server) childWritten(id string, rec *contactRec) {
	if s.childBump {
		now := s.now()
		s.st.put(id, touch(rec, now), now, s.lag)
	}
}

func validateTask(in ghlwire.TaskInput, create bool) *Error {
	var msgs []string
	if create && (in.Title == nil || strings.TrimSpace(*in.Title) == "") {
		msgs = append(msgs, "title should not be empty")
	}
	if create && in.DueDate == nil {
		msgs = append(msgs, "dueDate must be a valid ISO 8601 date string")
	} else if in.DueDate != nil {
		if _, ok := parseTimeValue(*in.DueDate); !ok {
			msgs = append(msgs, "dueDate must be a valid ISO 8601 date string")
		}
	}
	if create && in.Completed == nil {
		msgs = append(msgs, "completed must be a boolean value")
	}
	if len(msgs) > 0 {
		return errUnprocessable(msgs...)
	}
	return nil
}

func applyTask(t *ghlwire.Task, in ghlwire.TaskInput) {
	if in.Title != nil {
		t.Title = *in.Title
	}
	if in.Body != nil {
		t.Body = *in.Body
	}
	if in.DueDate != nil {
		d, _ := parseTimeValue(*in.DueDate)
		t.DueDate = isoMillis(d)
	}
	if in.Completed != nil {
		t.Completed = *in.Completed
	}
	if in.AssignedTo != nil {
		t.AssignedTo = *in.AssignedTo
	}
}

func (s *Server) opCreateTask(contactID string, in ghlwire.TaskInput) (ghlwire.Task, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.st.contacts[contactID]
	if rec == nil {
		return ghlwire.Task{}, errNotFound("Contact")
	}
	if e := validateTask(in, true); e != nil {
		return ghlwire.Task{}, e
	}
	tr := &taskRec{t: ghlwire.Task{ID: s.st.newID(), ContactID: contactID}, added: s.now()}
	applyTask(&tr.t, in)
	rec.tasks = append(rec.tasks, tr)
	s.childWritten(contactID, rec)
	return tr.t, nil
}

func (s *Server) findTask(contactID, taskID string) (*contactRec, int, *Error) {
	rec := s.st.contacts[contactID]
	if rec == nil {
		return nil, -1, errNotFound("Contact")
	}
	i := slices.IndexFunc(rec.tasks, func(t *taskRec) bool { return t.t.ID == taskID })
	if i < 0 {
		return nil, -1, errNotFound("Task")
	}
	return rec, i, nil
}

func (s *Server) opUpdateTask(contactID, taskID string, in ghlwire.TaskInput) (ghlwire.Task, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, i, e := s.findTask(contactID, taskID)
	if e != nil {
		return ghlwire.Task{}, e
	}
	if e := validateTask(in, false); e != nil {
		return ghlwire.Task{}, e
	}
	nt := &taskRec{t: rec.tasks[i].t, added: rec.tasks[i].added}
	applyTask(&nt.t, in)
	rec.tasks[i] = nt
	s.childWritten(contactID, rec)
	return nt.t, nil
}

func (s *Server) opDeleteTask(contactID, taskID string) *Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, i, e := s.findTask(contactID, taskID)
	if e != nil {
		return e
	}
	rec.tasks = slices.Delete(slices.Clone(rec.tasks), i, i+1)
	s.childWritten(contactID, rec)
	return nil
}

func applyNote(n *ghlwire.Note, in ghlwire.NoteInput) {
	if in.Body != nil {
		n.Body = *in.Body
	}
	if in.UserID != nil {
		n.UserID = *in.UserID
	}
	if in.Title != nil {
		n.Title = *in.Title
	}
	if in.Color != nil {
		n.Color = *in.Color
	}
	if in.Pinned != nil {
		n.Pinned = *in.Pinned
	}
}

func (s *Server) opCreateNote(contactID string, in ghlwire.NoteInput) (ghlwire.Note, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.st.contacts[contactID]
	if rec == nil {
		return ghlwire.Note{}, errNotFound("Contact")
	}
	if in.Body == nil || strings.TrimSpace(*in.Body) == "" {
		return ghlwire.Note{}, errUnprocessable("body should not be empty")
	}
	n := ghlwire.Note{ID: s.st.newID(), ContactID: contactID, DateAdded: isoMillis(s.now())}
	applyNote(&n, in)
	rec.notes = append(rec.notes, n)
	s.childWritten(contactID, rec)
	return n, nil
}

func (s *Server) findNote(contactID, id string) (*contactRec, int, *Error) {
	rec := s.st.contacts[contactID]
	if rec == nil {
		return nil, -1, errNotFound("Contact")
	}
	i := slices.IndexFunc(rec.notes, func(n ghlwire.Note) bool { return n.ID == id })
	if i < 0 {
		return nil, -1, errNotFound("Note")
	}
	return rec, i, nil
}

func (s *Server) opUpdateNote(contactID, id string, in ghlwire.NoteInput) (ghlwire.Note, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, i, e := s.findNote(contactID, id)
	if e != nil {
		return ghlwire.Note{}, e
	}
	if in.Body != nil && strings.TrimSpace(*in.Body) == "" {
		return ghlwire.Note{}, errUnprocessable("body should not be empty")
	}
	rec.notes = slices.Clone(rec.notes)
	applyNote(&rec.notes[i], in)
	s.childWritten(contactID, rec)
	return rec.notes[i], nil
}

func (s *Server) opDeleteNote(contactID, id string) *Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, i, e := s.findNote(contactID, id)
	if e != nil {
		return e
	}
	rec.notes = slices.Delete(slices.Clone(rec.notes), i, i+1)
	s.childWritten(contactID, rec)
	return nil
}

func (s *Server) opAddAppointment(contactID string, a ghlwire.Appointment) (ghlwire.Appointment, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.st.contacts[contactID]
	if rec == nil {
		return ghlwire.Appointment{}, errNotFound("Contact")
	}
	now := isoMillis(s.now())
	a.Raw = nil
	a.ID = s.st.newID()
	a.ContactID, a.LocationID = contactID, s.opts.LocationID
	if a.CalendarID == "" {
		a.CalendarID = "simCalendar000000001"
	}
	if a.Status == "" {
		a.Status = "booked"
	}
	if a.AppointmentStatus == "" {
		a.AppointmentStatus = a.Status
	}
	if a.DateAdded == "" {
		a.DateAdded = now
	}
	a.DateUpdated = now
	a.Users = slices.Clone(a.Users)
	rec.appts = append(slices.Clone(rec.appts), a)
	return a, nil
}
