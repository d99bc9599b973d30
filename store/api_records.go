package store

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Typed record access. Every Put replaces the whole record, rewrites its index entries in the
// same transaction, clears a matching delete-quarantine entry (the record reappeared) and is
// idempotent. Get returns ErrNotFound when absent. ForEach/By* callbacks receive a freshly
// decoded value each time (safe to keep) and may return ErrStop to end early; they run inside
// the transaction and must not do I/O.

// PutGHLContact stores c (Email/Phone already normalized by the caller).
func (tx *Tx) PutGHLContact(c *GHLContact) error { return tx.putRecord(c) }

// GetGHLContact returns the contact with id.
func (tx *Tx) GetGHLContact(id string) (GHLContact, error) {
	var c GHLContact
	return c, tx.get(GHLContacts, id, &c)
}

// DeleteGHLContact removes the contact and, in the same transaction, its tasks, notes and
// appointments. The dirty flag is cleared too. Missing is ErrNotFound.
func (tx *Tx) DeleteGHLContact(id string) error {
	if err := tx.deleteRecord(GHLContacts, id); err != nil {
		return err
	}
	for _, c := range []Collection{GHLTasks, GHLNotes, GHLAppointments} {
		if err := tx.deleteChildren(c, id); err != nil {
			return err
		}
	}
	return tx.clearDirty(id)
}

// ForEachGHLContact calls fn for every contact in id order.
func (tx *Tx) ForEachGHLContact(fn func(*GHLContact) error) error {
	return tx.scanPrefix(GHLContacts, "", collect(tx, GHLContacts, fn))
}

// GHLContactsByEmail returns the contacts whose normalized email equals email (usually 0 or 1).
func (tx *Tx) GHLContactsByEmail(email string) ([]GHLContact, error) {
	return all[GHLContact](tx, GHLContacts, func(f func([]byte) error) error { return tx.lookup(GHLContacts, "email", email, f) })
}

// GHLContactsByPhone returns the contacts whose E.164 phone equals phone.
func (tx *Tx) GHLContactsByPhone(phone string) ([]GHLContact, error) {
	return all[GHLContact](tx, GHLContacts, func(f func([]byte) error) error { return tx.lookup(GHLContacts, "phone", phone, f) })
}

// GHLContactsByTag calls fn for every contact carrying tag (compared trimmed, case-folded).
func (tx *Tx) GHLContactsByTag(tag string, fn func(*GHLContact) error) error {
	return tx.lookup(GHLContacts, "tag", tagKey(tag), collect(tx, GHLContacts, fn))
}

// GHLContactsUpdatedSince calls fn for contacts with DateUpdated >= since, oldest first.
func (tx *Tx) GHLContactsUpdatedSince(since time.Time, fn func(*GHLContact) error) error {
	return tx.rangeIndex(GHLContacts, "updated", TimeKey(since), "", collect(tx, GHLContacts, fn))
}

// PutGHLTask stores t under its contact.
func (tx *Tx) PutGHLTask(t *GHLTask) error { return tx.putRecord(t) }

// GetGHLTask returns the task id of contactID.
func (tx *Tx) GetGHLTask(contactID, id string) (GHLTask, error) {
	var t GHLTask
	return t, tx.get(GHLTasks, childKey(contactID, id), &t)
}

// GHLTaskByID finds a task by its id alone (through the id index).
func (tx *Tx) GHLTaskByID(id string) (GHLTask, error) {
	return byID[GHLTask](tx, GHLTasks, id)
}

// DeleteGHLTask removes one task.
func (tx *Tx) DeleteGHLTask(contactID, id string) error {
	return tx.deleteRecord(GHLTasks, childKey(contactID, id))
}

// GHLTasksOf returns the tasks of a contact in id order (a prefix scan).
func (tx *Tx) GHLTasksOf(contactID string) ([]GHLTask, error) {
	return all[GHLTask](tx, GHLTasks, func(f func([]byte) error) error { return tx.scanPrefix(GHLTasks, contactID+"\x00", f) })
}

// ForEachGHLTask calls fn for every task, grouped by contact.
func (tx *Tx) ForEachGHLTask(fn func(*GHLTask) error) error {
	return tx.scanPrefix(GHLTasks, "", collect(tx, GHLTasks, fn))
}

// GHLTasksDueBefore calls fn for tasks with a due date before t, earliest first. Tasks without
// a due date are not indexed and never returned.
func (tx *Tx) GHLTasksDueBefore(t time.Time, fn func(*GHLTask) error) error {
	return tx.rangeIndex(GHLTasks, "due", "", TimeKey(t), collect(tx, GHLTasks, fn))
}

// PutGHLNote stores n under its contact.
func (tx *Tx) PutGHLNote(n *GHLNote) error { return tx.putRecord(n) }

// GetGHLNote returns note id of contactID.
func (tx *Tx) GetGHLNote(contactID, id string) (GHLNote, error) {
	var n GHLNote
	return n, tx.get(GHLNotes, childKey(contactID, id), &n)
}

// GHLNoteByID finds a note by its id alone.
func (tx *Tx) GHLNoteByID(id string) (GHLNote, error) { return byID[GHLNote](tx, GHLNotes, id) }

// DeleteGHLNote removes one note.
func (tx *Tx) DeleteGHLNote(contactID, id string) error {
	return tx.deleteRecord(GHLNotes, childKey(contactID, id))
}

// GHLNotesOf returns the notes of a contact.
func (tx *Tx) GHLNotesOf(contactID string) ([]GHLNote, error) {
	return all[GHLNote](tx, GHLNotes, func(f func([]byte) error) error { return tx.scanPrefix(GHLNotes, contactID+"\x00", f) })
}

// ForEachGHLNote calls fn for every note.
func (tx *Tx) ForEachGHLNote(fn func(*GHLNote) error) error {
	return tx.scanPrefix(GHLNotes, "", collect(tx, GHLNotes, fn))
}

// PutGHLAppointment stores a under its contact.
func (tx *Tx) PutGHLAppointment(a *GHLAppointment) error { return tx.putRecord(a) }

// GetGHLAppointment returns appointment id of contactID.
func (tx *Tx) GetGHLAppointment(contactID, id string) (GHLAppointment, error) {
	var a GHLAppointment
	return a, tx.get(GHLAppointments, childKey(contactID, id), &a)
}

// GHLAppointmentByID finds an appointment by its id alone.
func (tx *Tx) GHLAppointmentByID(id string) (GHLAppointment, error) {
	return byID[GHLAppointment](tx, GHLAppointments, id)
}

// DeleteGHLAppointment removes one appointment.
func (tx *Tx) DeleteGHLAppointment(contactID, id string) error {
	return tx.deleteRecord(GHLAppointments, childKey(contactID, id))
}

// GHLAppointmentsOf returns the appointments of a contact.
func (tx *Tx) GHLAppointmentsOf(contactID string) ([]GHLAppointment, error) {
	return all[GHLAppointment](tx, GHLAppointments, func(f func([]byte) error) error {
		return tx.scanPrefix(GHLAppointments, contactID+"\x00", f)
	})
}

// ForEachGHLAppointment calls fn for every appointment.
func (tx *Tx) ForEachGHLAppointment(fn func(*GHLAppointment) error) error {
	return tx.scanPrefix(GHLAppointments, "", collect(tx, GHLAppointments, fn))
}

// PutPTDClient stores c (Email/Phone already normalized by the caller).
func (tx *Tx) PutPTDClient(c *PTDClient) error { return tx.putRecord(c) }

// GetPTDClient returns the client with id.
func (tx *Tx) GetPTDClient(id string) (PTDClient, error) {
	var c PTDClient
	return c, tx.get(PTDClients, id, &c)
}

// DeletePTDClient removes the client and its tasks, notes and appointments.
func (tx *Tx) DeletePTDClient(id string) error {
	if err := tx.deleteRecord(PTDClients, id); err != nil {
		return err
	}
	for _, c := range []Collection{PTDTasks, PTDNotes, PTDAppointments} {
		if err := tx.deleteChildren(c, id); err != nil {
			return err
		}
	}
	return nil
}

// ForEachPTDClient calls fn for every client in id order.
func (tx *Tx) ForEachPTDClient(fn func(*PTDClient) error) error {
	return tx.scanPrefix(PTDClients, "", collect(tx, PTDClients, fn))
}

// PTDClientsByEmail returns the clients with that normalized email.
func (tx *Tx) PTDClientsByEmail(email string) ([]PTDClient, error) {
	return all[PTDClient](tx, PTDClients, func(f func([]byte) error) error { return tx.lookup(PTDClients, "email", email, f) })
}

// PTDClientsByPhone returns the clients with that E.164 phone.
func (tx *Tx) PTDClientsByPhone(phone string) ([]PTDClient, error) {
	return all[PTDClient](tx, PTDClients, func(f func([]byte) error) error { return tx.lookup(PTDClients, "phone", phone, f) })
}

// PTDClientsByTag calls fn for every client carrying tag.
func (tx *Tx) PTDClientsByTag(tag string, fn func(*PTDClient) error) error {
	return tx.lookup(PTDClients, "tag", tagKey(tag), collect(tx, PTDClients, fn))
}

// PTDClientsUpdatedSince calls fn for clients with UpdatedAt >= since, oldest first.
func (tx *Tx) PTDClientsUpdatedSince(since time.Time, fn func(*PTDClient) error) error {
	return tx.rangeIndex(PTDClients, "updated", TimeKey(since), "", collect(tx, PTDClients, fn))
}

// PutPTDTask stores t under its client.
func (tx *Tx) PutPTDTask(t *PTDTask) error { return tx.putRecord(t) }

// GetPTDTask returns task id of clientID.
func (tx *Tx) GetPTDTask(clientID, id string) (PTDTask, error) {
	var t PTDTask
	return t, tx.get(PTDTasks, childKey(clientID, id), &t)
}

// PTDTaskByID finds a task by its id alone.
func (tx *Tx) PTDTaskByID(id string) (PTDTask, error) { return byID[PTDTask](tx, PTDTasks, id) }

// DeletePTDTask removes one task.
func (tx *Tx) DeletePTDTask(clientID, id string) error {
	return tx.deleteRecord(PTDTasks, childKey(clientID, id))
}

// PTDTasksOf returns the tasks of a client.
func (tx *Tx) PTDTasksOf(clientID string) ([]PTDTask, error) {
	return all[PTDTask](tx, PTDTasks, func(f func([]byte) error) error { return tx.scanPrefix(PTDTasks, clientID+"\x00", f) })
}

// ForEachPTDTask calls fn for every PTD task.
func (tx *Tx) ForEachPTDTask(fn func(*PTDTask) error) error {
	return tx.scanPrefix(PTDTasks, "", collect(tx, PTDTasks, fn))
}

// PTDTasksDueBefore calls fn for PTD tasks due before t, earliest first.
func (tx *Tx) PTDTasksDueBefore(t time.Time, fn func(*PTDTask) error) error {
	return tx.rangeIndex(PTDTasks, "due", "", TimeKey(t), collect(tx, PTDTasks, fn))
}

// PutPTDNote stores n under its client.
func (tx *Tx) PutPTDNote(n *PTDNote) error { return tx.putRecord(n) }

// PTDNoteByID finds a note by its id alone.
func (tx *Tx) PTDNoteByID(id string) (PTDNote, error) { return byID[PTDNote](tx, PTDNotes, id) }

// DeletePTDNote removes one note.
func (tx *Tx) DeletePTDNote(clientID, id string) error {
	return tx.deleteRecord(PTDNotes, childKey(clientID, id))
}

// PTDNotesOf returns the notes of a client.
func (tx *Tx) PTDNotesOf(clientID string) ([]PTDNote, error) {
	return all[PTDNote](tx, PTDNotes, func(f func([]byte) error) error { return tx.scanPrefix(PTDNotes, clientID+"\x00", f) })
}

// ForEachPTDNote calls fn for every PTD note.
func (tx *Tx) ForEachPTDNote(fn func(*PTDNote) error) error {
	return tx.scanPrefix(PTDNotes, "", collect(tx, PTDNotes, fn))
}

// PutPTDAppointment stores a under its client.
func (tx *Tx) PutPTDAppointment(a *PTDAppointment) error { return tx.putRecord(a) }

// PTDAppointmentByID finds a PTD appointment by its id alone.
func (tx *Tx) PTDAppointmentByID(id string) (PTDAppointment, error) {
	return byID[PTDAppointment](tx, PTDAppointments, id)
}

// PTDAppointmentByExternalID finds the PTD appointment mirroring HighLevel appointment ghlID.
func (tx *Tx) PTDAppointmentByExternalID(ghlID string) (PTDAppointment, error) {
	return first[PTDAppointment](tx, PTDAppointments, "external", ghlID)
}

// DeletePTDAppointment removes one appointment.
func (tx *Tx) DeletePTDAppointment(clientID, id string) error {
	return tx.deleteRecord(PTDAppointments, childKey(clientID, id))
}

// PTDAppointmentsOf returns the appointments of a client.
func (tx *Tx) PTDAppointmentsOf(clientID string) ([]PTDAppointment, error) {
	return all[PTDAppointment](tx, PTDAppointments, func(f func([]byte) error) error {
		return tx.scanPrefix(PTDAppointments, clientID+"\x00", f)
	})
}

// ForEachPTDAppointment calls fn for every PTD appointment.
func (tx *Tx) ForEachPTDAppointment(fn func(*PTDAppointment) error) error {
	return tx.scanPrefix(PTDAppointments, "", collect(tx, PTDAppointments, fn))
}

func byID[T any](tx *Tx, c Collection, id string) (T, error) { return first[T](tx, c, "id", id) }

func first[T any](tx *Tx, c Collection, index, value string) (T, error) {
	var out T
	found := false
	err := tx.lookup(c, index, value, collect(tx, c, func(r *T) error { out, found = *r, true; return ErrStop }))
	if err != nil {
		return out, err
	}
	if !found {
		return out, fmt.Errorf("cannot find %s by %s %q: %w", c, index, value, ErrNotFound)
	}
	return out, nil
}

// deleteChildren removes every record of c keyed under parent, with their index entries.
func (tx *Tx) deleteChildren(c Collection, parent string) error {
	var keys []string
	b, err := tx.bucket([]byte(c))
	if err != nil {
		return err
	}
	p := []byte(parent + "\x00")
	cur := b.Cursor()
	for k, _ := cur.Seek(p); k != nil && len(k) >= len(p) && string(k[:len(p)]) == string(p); k, _ = cur.Next() {
		keys = append(keys, string(k))
	}
	for _, k := range keys {
		if err := tx.deleteRecord(c, k); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// GHLTaskReader reads the tasks of many contacts with one cursor. Asked for contacts in
// increasing id order (a scan of the contacts), it moves forward instead of searching the
// tasks bucket from its root for every contact; any order gives correct answers. It is valid
// only inside the transaction that created it and must not be shared between goroutines.
type GHLTaskReader struct {
	tx       *Tx
	s        seeker
	pre, end []byte // contactID+"\x00" and contactID+"\x01", reused from call to call
}

// NewGHLTaskReader returns a reader over the tasks bucket of tx.
func (tx *Tx) NewGHLTaskReader() (*GHLTaskReader, error) {
	b, err := tx.bucket([]byte(GHLTasks))
	if err != nil {
		return nil, err
	}
	return &GHLTaskReader{tx: tx, s: seeker{cur: b.Cursor()}}, nil
}

// TasksOf returns the tasks of a contact in id order, like Tx.GHLTasksOf.
func (r *GHLTaskReader) TasksOf(contactID string) ([]GHLTask, error) {
	r.pre = append(append(r.pre[:0], contactID...), 0)
	p := r.pre
	var out []GHLTask
	k, v := r.s.at(p)
	for ; k != nil && bytes.HasPrefix(k, p); k, v = r.s.cur.Next() {
		var t GHLTask
		if err := decodeValue(v, &t, r.tx.st.skipRaw); err != nil {
			r.s.pos = false // position unknown: search next time
			return nil, fmt.Errorf("cannot decode %s %q: %w: %v", GHLTasks, k, ErrCorrupt, err)
		}
		out = append(out, t)
	}
	// The cursor now rests on the first key past the prefix: where the next contact's tasks
	// start when contacts come in id order.
	r.end = append(append(r.end[:0], contactID...), 1)
	r.s.from, r.s.k, r.s.v = r.end, k, v
	return out, nil
}
