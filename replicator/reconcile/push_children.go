package reconcile

import (
	"context"
	"errors"
	"fmt"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/diff"
	"ptsync/store"
)

// parentIDs returns the contact ids of a child's parent on both sides.
func parentIDs(j *job) (gid, pid string) { return j.parent.GHLID, j.parent.PTDID }

// linkedElsewhere reports whether a record of kind on side is already linked (so a look-up
// must not adopt it).
func (e *Engine) linkedElsewhere(kind, side, id string) bool {
	found := false
	_ = e.db.View(func(tx *store.Tx) error {
		var err error
		if side == store.SideGHL {
			_, err = tx.LinkByGHL(kind, id)
		} else {
			_, err = tx.LinkByPTD(kind, id)
		}
		found = err == nil
		return nil
	})
	return found
}

func val(fields map[string]fieldWrite, name string) (string, bool) {
	w, ok := fields[name]
	return w.Value.S, ok
}

func (e *Engine) pushTask(ctx context.Context, j *job) (commitFn, error) {
	gid, pid := parentIDs(j)
	l := j.link
	now := e.now().UTC()
	title, hasTitle := val(j.pl.Fields, "title")
	body, hasBody := val(j.pl.Fields, "body")
	due, hasDue := val(j.pl.Fields, "due")
	done, hasDone := val(j.pl.Fields, "completed")
	completed := done == "true"
	switch {
	case j.o.Op == OpTaskCreate && j.o.Target == store.SidePTD:
		if l.PTDID != "" {
			return nil, nil
		}
		if pid == "" {
			return nil, errDefer
		}
		ts, err := e.ptd.ListTasks(ctx, pid)
		if err != nil {
			return nil, err
		}
		var t ptdwire.Task
		for _, x := range ts { // look up first: a create whose outcome was unknown may have landed
			n, _ := diff.Time(x.DueAt, nil)
			if taskKey(x.Title, n) == taskKey(title, due) && !e.linkedElsewhere(store.KindTask, store.SidePTD, x.ID) {
				t = x
				break
			}
		}
		if t.ID == "" {
			in := ptdwire.TaskInput{Title: &title, Body: &body, Completed: &completed}
			if due != "" {
				in.DueAt = &due
			}
			if t, err = e.ptd.CreateTask(ctx, pid, in); err != nil {
				return nil, err
			}
		}
		if t.ClientID == "" {
			t.ClientID = pid
		}
		rec := ptdTaskRecord(t, e.now().UTC())
		return func(tx *store.Tx) error {
			l.PTDID = t.ID
			if err := tx.PutLink(&l); err != nil {
				return err
			}
			if err := tx.PutPTDTask(&rec); err != nil {
				return err
			}
			return baseCommit(tx, l.ID, j.pl.Fields, now)
		}, nil
	case j.o.Op == OpTaskCreate:
		if l.GHLID != "" {
			return nil, nil
		}
		if gid == "" {
			return nil, errDefer
		}
		ts, err := e.ghl.ListTasks(ctx, gid)
		if err != nil {
			return nil, err
		}
		var t ghlwire.Task
		for _, x := range ts {
			n, _ := diff.Time(x.DueDate, e.dopts.Locale.Location)
			if taskKey(x.Title, n) == taskKey(title, due) && !e.linkedElsewhere(store.KindTask, store.SideGHL, x.ID) {
				t = x
				break
			}
		}
		if t.ID == "" {
			in := ghlwire.TaskInput{Title: &title, Body: &body, Completed: &completed}
			if due != "" {
				in.DueDate = &due
			}
			if t, err = e.ghl.CreateTask(ctx, gid, in); err != nil {
				return nil, err
			}
		}
		rec := e.ghlTaskRecord(t, gid, e.now().UTC())
		return func(tx *store.Tx) error {
			l.GHLID = t.ID
			if err := tx.PutLink(&l); err != nil {
				return err
			}
			if err := tx.PutGHLTask(&rec); err != nil {
				return err
			}
			return baseCommit(tx, l.ID, j.pl.Fields, now)
		}, nil
	case j.o.Op == OpTaskUpdate && j.o.Target == store.SidePTD:
		in := ptdwire.TaskInput{}
		if hasTitle {
			in.Title = &title
		}
		if hasBody {
			in.Body = &body
		}
		if hasDue {
			in.DueAt = &due
		}
		if hasDone {
			in.Completed = &completed
		}
		t, err := e.ptd.UpdateTask(ctx, l.PTDID, in)
		if err != nil {
			return nil, err
		}
		if t.ClientID == "" {
			t.ClientID = pid
		}
		rec := ptdTaskRecord(t, e.now().UTC())
		return func(tx *store.Tx) error {
			if err := tx.PutPTDTask(&rec); err != nil {
				return err
			}
			return baseCommit(tx, l.ID, j.pl.Fields, now)
		}, nil
	case j.o.Op == OpTaskUpdate:
		var t ghlwire.Task
		in := ghlwire.TaskInput{}
		if hasTitle {
			in.Title = &title
		}
		if hasBody {
			in.Body = &body
		}
		if hasDue {
			in.DueDate = &due
		}
		var err error
		if in != (ghlwire.TaskInput{}) {
			if t, err = e.ghl.UpdateTask(ctx, gid, l.GHLID, in); err != nil {
				return nil, err
			}
		}
		if hasDone { // completion has its own endpoint: PUT .../tasks/{id}/completed
			if t, err = e.ghl.SetTaskCompleted(ctx, gid, l.GHLID, completed); err != nil {
				return nil, err
			}
		}
		rec := e.ghlTaskRecord(t, gid, e.now().UTC())
		return func(tx *store.Tx) error {
			if old, err := tx.GetGHLTask(gid, l.GHLID); err == nil {
				old.Title, old.Body, old.DueDate, old.Completed = rec.Title, rec.Body, rec.DueDate, rec.Completed
				if hasTitle {
					old.Title = title
				}
				if hasBody {
					old.Body = body
				}
				if hasDue {
					old.DueDate = parseTime(due, nil)
				}
				if hasDone {
					old.Completed = completed
				}
				rec = old
			}
			if err := tx.PutGHLTask(&rec); err != nil {
				return err
			}
			return baseCommit(tx, l.ID, j.pl.Fields, now)
		}, nil
	case j.o.Op == OpTaskDelete && j.o.Target == store.SidePTD:
		if err := e.ptd.DeleteTask(ctx, l.PTDID); err != nil && !errors.Is(err, ptd.ErrNotFound) {
			return nil, err
		}
		return func(tx *store.Tx) error {
			if t, err := tx.PTDTaskByID(l.PTDID); err == nil {
				if err := tx.DeletePTDTask(t.ClientID, t.ID); err != nil {
					return err
				}
			}
			if err := tx.ClearQuarantine(store.KindTask, store.SideGHL, l.GHLID); err != nil {
				return err
			}
			return tx.DeleteLink(l.ID)
		}, nil
	case j.o.Op == OpTaskDelete:
		if err := e.ghl.DeleteTask(ctx, gid, l.GHLID); err != nil && !errors.Is(err, ghl.ErrNotFound) {
			return nil, err
		}
		return func(tx *store.Tx) error {
			if err := ignoreMissing(tx.DeleteGHLTask(gid, l.GHLID)); err != nil {
				return err
			}
			if err := tx.ClearQuarantine(store.KindTask, store.SidePTD, l.PTDID); err != nil {
				return err
			}
			return tx.DeleteLink(l.ID)
		}, nil
	}
	return nil, fmt.Errorf("cannot push task op %q: %w", j.o.Op, ptd.ErrInvalidInput)
}

func (e *Engine) pushNoteOrAppt(ctx context.Context, j *job) (commitFn, error) {
	gid, pid := parentIDs(j)
	l := j.link
	now := e.now().UTC()
	body, _ := val(j.pl.Fields, "body")
	switch {
	case j.o.Op == OpApptUpsert:
		if pid == "" {
			return nil, errDefer
		}
		a, err := e.ptd.UpsertAppointment(ctx, pid, *j.pl.Appointment)
		if err != nil {
			return nil, err
		}
		rec := store.PTDAppointment{ID: a.ID, ClientID: pid, ExternalID: j.pl.Appointment.ExternalID, Title: a.Title,
			StartAt: parseTime(a.StartAt, nil), EndAt: parseTime(a.EndAt, nil), Status: a.Status, FetchedAt: now}
		if rec.ID == "" {
			rec.ID = "ext-" + rec.ExternalID
		}
		return func(tx *store.Tx) error {
			l.PTDID = rec.ID
			if err := tx.PutLink(&l); err != nil {
				return err
			}
			if err := tx.PutPTDAppointment(&rec); err != nil {
				return err
			}
			return baseCommit(tx, l.ID, j.pl.Fields, now)
		}, nil
	case j.o.Op == OpNoteCreate && j.o.Target == store.SidePTD:
		if l.PTDID != "" {
			return nil, nil
		}
		if pid == "" {
			return nil, errDefer
		}
		ns, err := e.ptd.ListNotes(ctx, pid)
		if err != nil {
			return nil, err
		}
		var n ptdwire.Note
		for _, x := range ns {
			if noteKey(x.Body) == noteKey(body) && !e.linkedElsewhere(store.KindNote, store.SidePTD, x.ID) && !e.linkedElsewhere(store.KindAppointment, store.SidePTD, x.ID) {
				n = x
				break
			}
		}
		if n.ID == "" {
			if n, err = e.ptd.CreateNote(ctx, pid, ptdwire.NoteInput{Body: &body}); err != nil {
				return nil, err
			}
		}
		if n.ClientID == "" {
			n.ClientID = pid
		}
		rec := ptdNoteRecord(n, e.now().UTC())
		return func(tx *store.Tx) error {
			l.PTDID = n.ID
			if err := tx.PutLink(&l); err != nil {
				return err
			}
			if err := tx.PutPTDNote(&rec); err != nil {
				return err
			}
			return baseCommit(tx, l.ID, j.pl.Fields, now)
		}, nil
	case j.o.Op == OpNoteCreate:
		if l.GHLID != "" {
			return nil, nil
		}
		if gid == "" {
			return nil, errDefer
		}
		ns, err := e.ghl.ListNotes(ctx, gid)
		if err != nil {
			return nil, err
		}
		var n ghlwire.Note
		for _, x := range ns {
			if noteKey(x.Body) == noteKey(body) && !e.linkedElsewhere(store.KindNote, store.SideGHL, x.ID) {
				n = x
				break
			}
		}
		if n.ID == "" {
			if n, err = e.ghl.CreateNote(ctx, gid, ghlwire.NoteInput{Body: &body}); err != nil {
				return nil, err
			}
		}
		rec := e.ghlNoteRecord(n, gid, e.now().UTC())
		return func(tx *store.Tx) error {
			l.GHLID = n.ID
			if err := tx.PutLink(&l); err != nil {
				return err
			}
			if err := tx.PutGHLNote(&rec); err != nil {
				return err
			}
			return baseCommit(tx, l.ID, j.pl.Fields, now)
		}, nil
	case j.o.Op == OpNoteUpdate && j.o.Target == store.SidePTD:
		n, err := e.ptd.UpdateNote(ctx, l.PTDID, ptdwire.NoteInput{Body: &body})
		if err != nil {
			return nil, err
		}
		if n.ClientID == "" {
			n.ClientID = pid
		}
		rec := ptdNoteRecord(n, e.now().UTC())
		return func(tx *store.Tx) error {
			if err := tx.PutPTDNote(&rec); err != nil {
				return err
			}
			return baseCommit(tx, l.ID, j.pl.Fields, now)
		}, nil
	case j.o.Op == OpNoteUpdate:
		n, err := e.ghl.UpdateNote(ctx, gid, l.GHLID, ghlwire.NoteInput{Body: &body})
		if err != nil {
			return nil, err
		}
		n.Body = body
		rec := e.ghlNoteRecord(n, gid, e.now().UTC())
		return func(tx *store.Tx) error {
			if err := tx.PutGHLNote(&rec); err != nil {
				return err
			}
			return baseCommit(tx, l.ID, j.pl.Fields, now)
		}, nil
	case j.o.Op == OpNoteDelete && j.o.Target == store.SidePTD:
		if err := e.ptd.DeleteNote(ctx, l.PTDID); err != nil && !errors.Is(err, ptd.ErrNotFound) {
			return nil, err
		}
		return func(tx *store.Tx) error {
			if n, err := tx.PTDNoteByID(l.PTDID); err == nil {
				if err := tx.DeletePTDNote(n.ClientID, n.ID); err != nil {
					return err
				}
			}
			if err := tx.ClearQuarantine(store.KindNote, store.SideGHL, l.GHLID); err != nil {
				return err
			}
			return tx.DeleteLink(l.ID)
		}, nil
	case j.o.Op == OpNoteDelete:
		if err := e.ghl.DeleteNote(ctx, gid, l.GHLID); err != nil && !errors.Is(err, ghl.ErrNotFound) {
			return nil, err
		}
		return func(tx *store.Tx) error {
			if err := ignoreMissing(tx.DeleteGHLNote(gid, l.GHLID)); err != nil {
				return err
			}
			if err := tx.ClearQuarantine(store.KindNote, store.SidePTD, l.PTDID); err != nil {
				return err
			}
			return tx.DeleteLink(l.ID)
		}, nil
	}
	return nil, fmt.Errorf("cannot push note op %q: %w", j.o.Op, ptd.ErrInvalidInput)
}
