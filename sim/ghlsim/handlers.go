package ghlsim

import (
	"net/http"
	"strings"

	"ptsync/apiclient/ghlwire"
)

// decode reads the request body into v (decodeBody); false means the error has been answered.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if e := decodeBody(r, v); e != nil {
		s.writeErr(w, e)
		return false
	}
	return true
}

// readReply runs read under the read lock and answers what it returns with 200, or its error.
// read must copy what it returns out of the store: the answer is encoded after the unlock.
func (s *Server) readReply(w http.ResponseWriter, read func() (any, *Error)) {
	s.mu.RLock()
	v, e := read()
	s.mu.RUnlock()
	s.reply(w, 200, v, e)
}

// contactLocked returns the contact's record, or the 404 HighLevel answers for an unknown
// contact; s.mu must be held.
func (s *Server) contactLocked(id string) (*contactRec, *Error) {
	if rec := s.st.contacts[id]; rec != nil {
		return rec, nil
	}
	return nil, errNotFound("Contact")
}

func (s *Server) hGetContact(w http.ResponseWriter, r *http.Request) {
	s.readReply(w, func() (any, *Error) {
		id := r.PathValue("contactId")
		rec, e := s.contactLocked(id)
		if e != nil {
			return nil, e
		}
		s.jrn.add(JournalEntry{At: s.now(), Contact: id, Source: JournalAPI, Op: JournalGet})
		return ghlwire.ContactResponse{Contact: cloneContact(rec.cur.c)}, nil
	})
}

// checkLocation validates a locationId from a body or query.
func (s *Server) checkLocation(loc string) *Error {
	if strings.TrimSpace(loc) == "" {
		return errUnprocessable("locationId should not be empty")
	}
	if loc != s.opts.LocationID {
		return &Error{Status: 403, Messages: []string{"The token does not have access to this location."}}
	}
	return nil
}

func (s *Server) hCreateContact(w http.ResponseWriter, r *http.Request) {
	var in ghlwire.ContactInput
	if !s.decode(w, r, &in) {
		return
	}
	if e := s.checkLocation(in.LocationID); e != nil {
		s.writeErr(w, e)
		return
	}
	if in.CreateNewIfDuplicateAllowed != nil {
		s.writeErr(w, errUnprocessable("property createNewIfDuplicateAllowed should not exist"))
		return
	}
	c, e := s.opCreateContact(in)
	s.reply(w, 201, ghlwire.ContactResponse{Contact: c}, e)
}

func (s *Server) hUpsert(w http.ResponseWriter, r *http.Request) {
	var in ghlwire.ContactInput
	if !s.decode(w, r, &in) {
		return
	}
	if e := s.checkLocation(in.LocationID); e != nil {
		s.writeErr(w, e)
		return
	}
	c, isNew, e := s.opUpsert(in)
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.writeJSON(w, 200, ghlwire.UpsertContactResponse{New: isNew, Contact: c, TraceID: s.traceID()})
}

func (s *Server) hUpdateContact(w http.ResponseWriter, r *http.Request) {
	var in ghlwire.ContactInput
	if !s.decode(w, r, &in) {
		return
	}
	if in.LocationID != "" && in.LocationID != s.opts.LocationID {
		s.writeErr(w, errUnprocessable("property locationId should not exist"))
		return
	}
	if in.CreateNewIfDuplicateAllowed != nil {
		s.writeErr(w, errUnprocessable("property createNewIfDuplicateAllowed should not exist"))
		return
	}
	c, e := s.opUpdateContact(r.PathValue("contactId"), in, JournalAPI)
	s.reply(w, 200, ghlwire.UpdateContactResponse{Succeded: true, Contact: c}, e)
}

func (s *Server) hDeleteContact(w http.ResponseWriter, r *http.Request) {
	s.reply(w, 200, ghlwire.SucceededResponse{Succeded: true}, s.opDeleteContact(r.PathValue("contactId")))
}

func (s *Server) hDuplicate(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := s.checkLocation(q.Get("locationId")); e != nil {
		s.writeErr(w, e)
		return
	}
	phone := ""
	if n := strings.TrimSpace(q.Get("number")); n != "" {
		p, ok := NormalizePhone(n)
		if !ok {
			s.writeErr(w, errUnprocessable("number must be a valid phone number"))
			return
		}
		phone = p
	}
	s.mu.RLock()
	dup, _ := s.st.findDuplicate(q.Get("email"), "", "")
	if dup == nil {
		dup, _ = s.st.findDuplicate("", phone, "")
	}
	var out struct {
		Contact *ghlwire.Contact `json:"contact"`
		TraceID string           `json:"traceId"`
	}
	if dup != nil {
		c := cloneContact(dup.c)
		out.Contact = &c
	}
	s.mu.RUnlock()
	out.TraceID = s.traceID()
	s.writeJSON(w, 200, out)
}

func (s *Server) hAddTags(w http.ResponseWriter, r *http.Request)    { s.tags(w, r, true) }
func (s *Server) hRemoveTags(w http.ResponseWriter, r *http.Request) { s.tags(w, r, false) }

func (s *Server) tags(w http.ResponseWriter, r *http.Request, add bool) {
	var in struct {
		Tags *[]string `json:"tags"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	if in.Tags == nil {
		s.writeErr(w, errUnprocessable("tags must be an array", "tags should not be empty"))
		return
	}
	tags, e := s.opTags(r.PathValue("contactId"), *in.Tags, add)
	status := 200
	if add {
		status = 201
	}
	s.reply(w, status, ghlwire.TagsResponse{Tags: tags}, e)
}

func (s *Server) hListTasks(w http.ResponseWriter, r *http.Request) {
	s.readReply(w, func() (any, *Error) {
		rec, e := s.contactLocked(r.PathValue("contactId"))
		if e != nil {
			return nil, e
		}
		out := ghlwire.TasksResponse{Tasks: []ghlwire.Task{}}
		for _, t := range rec.tasks {
			out.Tasks = append(out.Tasks, t.t)
		}
		return out, nil
	})
}

func (s *Server) hGetTask(w http.ResponseWriter, r *http.Request) {
	s.readReply(w, func() (any, *Error) {
		rec, i, e := s.findTask(r.PathValue("contactId"), r.PathValue("taskId"))
		if e != nil {
			return nil, e
		}
		return ghlwire.TaskResponse{Task: rec.tasks[i].t}, nil
	})
}

func (s *Server) hCreateTask(w http.ResponseWriter, r *http.Request) {
	var in ghlwire.TaskInput
	if !s.decode(w, r, &in) {
		return
	}
	t, e := s.opCreateTask(r.PathValue("contactId"), in)
	s.reply(w, 201, ghlwire.TaskResponse{Task: t}, e)
}

func (s *Server) hUpdateTask(w http.ResponseWriter, r *http.Request) {
	var in ghlwire.TaskInput
	if !s.decode(w, r, &in) {
		return
	}
	t, e := s.opUpdateTask(r.PathValue("contactId"), r.PathValue("taskId"), in)
	s.reply(w, 200, ghlwire.TaskResponse{Task: t}, e)
}

func (s *Server) hCompleteTask(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Completed *bool `json:"completed"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	if in.Completed == nil {
		s.writeErr(w, errUnprocessable("completed must be a boolean value"))
		return
	}
	t, e := s.opUpdateTask(r.PathValue("contactId"), r.PathValue("taskId"), ghlwire.TaskInput{Completed: in.Completed})
	s.reply(w, 200, ghlwire.TaskResponse{Task: t}, e)
}

func (s *Server) hDeleteTask(w http.ResponseWriter, r *http.Request) {
	s.reply(w, 200, ghlwire.SucceededResponse{Succeded: true}, s.opDeleteTask(r.PathValue("contactId"), r.PathValue("taskId")))
}

func (s *Server) hListNotes(w http.ResponseWriter, r *http.Request) {
	s.readReply(w, func() (any, *Error) {
		rec, e := s.contactLocked(r.PathValue("contactId"))
		if e != nil {
			return nil, e
		}
		return ghlwire.NotesResponse{Notes: append([]ghlwire.Note{}, rec.notes...)}, nil
	})
}

func (s *Server) hGetNote(w http.ResponseWriter, r *http.Request) {
	s.readReply(w, func() (any, *Error) {
		rec, i, e := s.findNote(r.PathValue("contactId"), r.PathValue("id"))
		if e != nil {
			return nil, e
		}
		return ghlwire.NoteResponse{Note: rec.notes[i]}, nil
	})
}

func (s *Server) hCreateNote(w http.ResponseWriter, r *http.Request) {
	var in ghlwire.NoteInput
	if !s.decode(w, r, &in) {
		return
	}
	n, e := s.opCreateNote(r.PathValue("contactId"), in)
	s.reply(w, 201, ghlwire.NoteResponse{Note: n}, e)
}

func (s *Server) hUpdateNote(w http.ResponseWriter, r *http.Request) {
	var in ghlwire.NoteInput
	if !s.decode(w, r, &in) {
		return
	}
	n, e := s.opUpdateNote(r.PathValue("contactId"), r.PathValue("id"), in)
	s.reply(w, 200, ghlwire.NoteResponse{Note: n}, e)
}

func (s *Server) hDeleteNote(w http.ResponseWriter, r *http.Request) {
	s.reply(w, 200, ghlwire.SucceededResponse{Succeded: true}, s.opDeleteNote(r.PathValue("contactId"), r.PathValue("id")))
}

func (s *Server) hAppointments(w http.ResponseWriter, r *http.Request) {
	s.readReply(w, func() (any, *Error) {
		rec, e := s.contactLocked(r.PathValue("contactId"))
		if e != nil {
			return nil, e
		}
		return ghlwire.AppointmentsResponse{Events: append([]ghlwire.Appointment{}, rec.appts...)}, nil
	})
}
