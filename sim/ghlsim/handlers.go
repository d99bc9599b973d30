package ghlsim

import (
	"net/http"
	"strings"

	"ptsync/apiclient/ghlwire"
)

func (s *Server) hGetContact(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	rec := s.st.contacts[r.PathValue("contactId")]
	var c ghlwire.Contact
	if rec != nil {
		c = cloneContact(rec.cur.c)
	}
	s.mu.RUnlock()
	if rec == nil {
		s.writeErr(w, errNotFound("Contact"))
		return
	}
	s.writeJSON(w, 200, ghlwire.ContactResponse{Contact: c})
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
	if e := decodeBody(r, &in); e != nil {
		s.writeErr(w, e)
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
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.writeJSON(w, 201, ghlwire.ContactResponse{Contact: c})
}

func (s *Server) hUpsert(w http.ResponseWriter, r *http.Request) {
	var in ghlwire.ContactInput
	if e := decodeBody(r, &in); e != nil {
		s.writeErr(w, e)
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
	if e := decodeBody(r, &in); e != nil {
		s.writeErr(w, e)
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
	c, e := s.opUpdateContact(r.PathValue("contactId"), in)
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.writeJSON(w, 200, ghlwire.UpdateContactResponse{Succeded: true, Contact: c})
}

func (s *Server) hDeleteContact(w http.ResponseWriter, r *http.Request) {
	if e := s.opDeleteContact(r.PathValue("contactId")); e != nil {
		s.writeErr(w, e)
		return
	}
	s.writeJSON(w, 200, ghlwire.SucceededResponse{Succeded: true})
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
	if e := decodeBody(r, &in); e != nil {
		s.writeErr(w, e)
		return
	}
	if in.Tags == nil {
		s.writeErr(w, errUnprocessable("tags must be an array", "tags should not be empty"))
		return
	}
	tags, e := s.opTags(r.PathValue("contactId"), *in.Tags, add)
	if e != nil {
		s.writeErr(w, e)
		return
	}
	status := 200
	if add {
		status = 201
	}
	s.writeJSON(w, status, ghlwire.TagsResponse{Tags: tags})
}

func (s *Server) hListTasks(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	rec := s.st.contacts[r.PathValue("contactId")]
	out := ghlwire.TasksResponse{Tasks: []ghlwire.Task{}}
	if rec != nil {
		for _, t := range rec.tasks {
			out.Tasks = append(out.Tasks, t.t)
		}
	}
	s.mu.RUnlock()
	if rec == nil {
		s.writeErr(w, errNotFound("Contact"))
		return
	}
	s.writeJSON(w, 200, out)
}

func (s *Server) hGetTask(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	rec, i, e := s.findTask(r.PathValue("contactId"), r.PathValue("taskId"))
	var t ghlwire.Task
	if e == nil {
		t = rec.tasks[i].t
	}
	s.mu.RUnlock()
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.writeJSON(w, 200, ghlwire.TaskResponse{Task: t})
}

func (s *Server) hCreateTask(w http.ResponseWriter, r *http.Request) {
	var in ghlwire.TaskInput
	if e := decodeBody(r, &in); e != nil {
		s.writeErr(w, e)
		return
	}
	t, e := s.opCreateTask(r.PathValue("contactId"), in)
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.writeJSON(w, 201, ghlwire.TaskResponse{Task: t})
}

func (s *Server) hUpdateTask(w http.ResponseWriter, r *http.Request) {
	var in ghlwire.TaskInput
	if e := decodeBody(r, &in); e != nil {
		s.writeErr(w, e)
		return
	}
	t, e := s.opUpdateTask(r.PathValue("contactId"), r.PathValue("taskId"), in)
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.writeJSON(w, 200, ghlwire.TaskResponse{Task: t})
}

func (s *Server) hCompleteTask(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Completed *bool `json:"completed"`
	}
	if e := decodeBody(r, &in); e != nil {
		s.writeErr(w, e)
		return
	}
	if in.Completed == nil {
		s.writeErr(w, errUnprocessable("completed must be a boolean value"))
		return
	}
	t, e := s.opUpdateTask(r.PathValue("contactId"), r.PathValue("taskId"), ghlwire.TaskInput{Completed: in.Completed})
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.writeJSON(w, 200, ghlwire.TaskResponse{Task: t})
}

func (s *Server) hDeleteTask(w http.ResponseWriter, r *http.Request) {
	if e := s.opDeleteTask(r.PathValue("contactId"), r.PathValue("taskId")); e != nil {
		s.writeErr(w, e)
		return
	}
	s.writeJSON(w, 200, ghlwire.SucceededResponse{Succeded: true})
}

func (s *Server) hListNotes(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	rec := s.st.contacts[r.PathValue("contactId")]
	out := ghlwire.NotesResponse{Notes: []ghlwire.Note{}}
	if rec != nil {
		out.Notes = append(out.Notes, rec.notes...)
	}
	s.mu.RUnlock()
	if rec == nil {
		s.writeErr(w, errNotFound("Contact"))
		return
	}
	s.writeJSON(w, 200, out)
}

func (s *Server) hGetNote(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	rec, i, e := s.findNote(r.PathValue("contactId"), r.PathValue("id"))
	var n ghlwire.Note
	if e == nil {
		n = rec.notes[i]
	}
	s.mu.RUnlock()
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.writeJSON(w, 200, ghlwire.NoteResponse{Note: n})
}

func (s *Server) hCreateNote(w http.ResponseWriter, r *http.Request) {
	var in ghlwire.NoteInput
	if e := decodeBody(r, &in); e != nil {
		s.writeErr(w, e)
		return
	}
	n, e := s.opCreateNote(r.PathValue("contactId"), in)
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.writeJSON(w, 201, ghlwire.NoteResponse{Note: n})
}

func (s *Server) hUpdateNote(w http.ResponseWriter, r *http.Request) {
	var in ghlwire.NoteInput
	if e := decodeBody(r, &in); e != nil {
		s.writeErr(w, e)
		return
	}
	n, e := s.opUpdateNote(r.PathValue("contactId"), r.PathValue("id"), in)
	if e != nil {
		s.writeErr(w, e)
		return
	}
	s.writeJSON(w, 200, ghlwire.NoteResponse{Note: n})
}

func (s *Server) hDeleteNote(w http.ResponseWriter, r *http.Request) {
	if e := s.opDeleteNote(r.PathValue("contactId"), r.PathValue("id")); e != nil {
		s.writeErr(w, e)
		return
	}
	s.writeJSON(w, 200, ghlwire.SucceededResponse{Succeded: true})
}

func (s *Server) hAppointments(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	rec := s.st.contacts[r.PathValue("contactId")]
	out := ghlwire.AppointmentsResponse{Events: []ghlwire.Appointment{}}
	if rec != nil {
		out.Events = append(out.Events, rec.appts...)
	}
	s.mu.RUnlock()
	if rec == nil {
		s.writeErr(w, errNotFound("Contact"))
		return
	}
	s.writeJSON(w, 200, out)
}
