package ghl

import (
	"context"
	"encoding/json"
	"net/http"

	"ptsync/apiclient/ghlwire"
)

// decodeRecord decodes {field: object} leniently, keeping the object's raw bytes via setRaw.
func decodeRecord[T any](op string, r *response, field string, setRaw func(*T, json.RawMessage)) (T, error) {
	var zero T
	var env map[string]json.RawMessage
	if err := decodeInto(op, r, &env); err != nil {
		return zero, err
	}
	raw, ok := env[field]
	if !ok || string(raw) == "null" {
		return zero, &OpError{Op: op, Kind: ErrDecode, Detail: "response has no " + field}
	}
	var v T
	if err := lenient(raw, &v); err != nil {
		return zero, &OpError{Op: op, Kind: ErrDecode, Detail: "malformed " + field, Cause: err}
	}
	setRaw(&v, append(json.RawMessage(nil), raw...))
	return v, nil
}

// ChildList names one of a contact's child listings: GET /contacts/{id}/<Segment>, answered
// with {<Field>: [object...]} and no paging. Op names the call in metrics, logs and errors.
type ChildList struct {
	Op, Segment, Field string
}

// The listings of the kinds this client has typed methods for.
func taskList() ChildList { return ChildList{Op: OpGetAllTasks, Segment: "tasks", Field: "tasks"} }
func noteList() ChildList { return ChildList{Op: OpGetAllNotes, Segment: "notes", Field: "notes"} }
func appointmentList() ChildList {
	return ChildList{Op: OpGetAppointments, Segment: "appointments", Field: "events"}
}

// ListChildren returns one contact's children of listing l, each object exactly as received
// (decode them with DecodeChildren). A missing field reads as no children; a field that is
// not an array is an ErrDecode. A contact HighLevel does not have is ErrNotFound. It is
// idempotent and retried like every read.
func (c *Client) ListChildren(ctx context.Context, l ChildList, contactID string) ([]json.RawMessage, error) {
	if err := requireID(l.Op, "contact id", contactID); err != nil {
		return nil, err
	}
	r, err := c.do(ctx, call{op: l.Op, method: http.MethodGet, path: "/contacts/" + esc(contactID) + "/" + l.Segment, idempotent: true})
	if err != nil {
		return nil, err
	}
	var env map[string]json.RawMessage
	if err := decodeInto(l.Op, r, &env); err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(env[l.Field], &raws); err != nil && env[l.Field] != nil {
		return nil, &OpError{Op: l.Op, Kind: ErrDecode, Detail: l.Field + " is not an array", Cause: err}
	}
	return raws, nil
}

// DecodeChildren decodes listed objects leniently (a field of an unexpected JSON type is left
// zero, as the real API's extra shapes require), keeping each object's bytes via setRaw. what
// names an object in the error (ErrDecode) a malformed one gives.
func DecodeChildren[T any](op, what string, raws []json.RawMessage, setRaw func(*T, json.RawMessage)) ([]T, error) {
	out := make([]T, 0, len(raws))
	for _, raw := range raws {
		var v T
		if err := lenient(raw, &v); err != nil {
			return nil, &OpError{Op: op, Kind: ErrDecode, Detail: "malformed " + what, Cause: err}
		}
		setRaw(&v, append(json.RawMessage(nil), raw...))
		out = append(out, v)
	}
	return out, nil
}

// listDecoded is ListChildren followed by DecodeChildren.
func listDecoded[T any](ctx context.Context, c *Client, l ChildList, what, contactID string, setRaw func(*T, json.RawMessage)) ([]T, error) {
	raws, err := c.ListChildren(ctx, l, contactID)
	if err != nil {
		return nil, err
	}
	return DecodeChildren(l.Op, what, raws, setRaw)
}

func setTaskRaw(t *ghlwire.Task, raw json.RawMessage)               { t.Raw = raw }
func setNoteRaw(n *ghlwire.Note, raw json.RawMessage)               { n.Raw = raw }
func setAppointmentRaw(a *ghlwire.Appointment, raw json.RawMessage) { a.Raw = raw }

func taskPath(contactID string) string { return "/contacts/" + esc(contactID) + "/tasks" }
func notePath(contactID string) string { return "/contacts/" + esc(contactID) + "/notes" }

// ListTasks returns every task of a contact (GET /contacts/{id}/tasks; no paging exists).
func (c *Client) ListTasks(ctx context.Context, contactID string) ([]ghlwire.Task, error) {
	return listDecoded(ctx, c, taskList(), "tasks", contactID, setTaskRaw)
}

// GetTask returns one task of a contact (GET /contacts/{id}/tasks/{taskId}). A task or
// contact HighLevel does not know is an *APIError matching ErrNotFound. Idempotent: retried
// after transport errors and 5xx like every read.
func (c *Client) GetTask(ctx context.Context, contactID, taskID string) (ghlwire.Task, error) {
	return c.taskCall(ctx, call{op: OpGetTask, method: http.MethodGet, idempotent: true}, contactID, taskID, true)
}

// CreateTask creates a task (201). Title, DueDate and Completed are required by HighLevel.
// Not idempotent: see CreateContact for ErrOutcomeUnknown.
func (c *Client) CreateTask(ctx context.Context, contactID string, in ghlwire.TaskInput) (ghlwire.Task, error) {
	if in.Completed == nil {
		f := false
		in.Completed = &f
	}
	return c.taskCall(ctx, call{op: OpCreateTask, method: http.MethodPost, body: in, write: true}, contactID, "", false)
}

// UpdateTask updates a task's fields (PUT); nil fields are left alone. Idempotent.
func (c *Client) UpdateTask(ctx context.Context, contactID, taskID string, in ghlwire.TaskInput) (ghlwire.Task, error) {
	return c.taskCall(ctx, call{op: OpUpdateTask, method: http.MethodPut, body: in, idempotent: true, write: true}, contactID, taskID, true)
}

// SetTaskCompleted marks a task completed or open (PUT .../completed). Idempotent.
func (c *Client) SetTaskCompleted(ctx context.Context, contactID, taskID string, completed bool) (ghlwire.Task, error) {
	cl := call{op: OpUpdateTaskCompleted, method: http.MethodPut, body: ghlwire.TaskCompletedInput{Completed: completed}, idempotent: true, write: true}
	if err := requireID(cl.op, "task id", taskID); err != nil {
		return ghlwire.Task{}, err
	}
	return c.taskCall(ctx, cl, contactID, taskID+"/completed", false)
}

// DeleteTask deletes a task. Idempotent; a 404 on a retry after an uncertain attempt is success.
func (c *Client) DeleteTask(ctx context.Context, contactID, taskID string) error {
	for _, a := range [][2]string{{"contact id", contactID}, {"task id", taskID}} {
		if err := requireID(OpDeleteTask, a[0], a[1]); err != nil {
			return err
		}
	}
	return c.succeeded(ctx, call{op: OpDeleteTask, method: http.MethodDelete, path: taskPath(contactID) + "/" + esc(taskID), idempotent: true, write: true})
}

// taskCall fills the path: suffix is appended after /tasks/ (escaped when escape is set).
func (c *Client) taskCall(ctx context.Context, cl call, contactID, suffix string, needID bool) (ghlwire.Task, error) {
	if err := requireID(cl.op, "contact id", contactID); err != nil {
		return ghlwire.Task{}, err
	}
	if needID {
		if err := requireID(cl.op, "task id", suffix); err != nil {
			return ghlwire.Task{}, err
		}
		suffix = esc(suffix)
	}
	cl.path = taskPath(contactID)
	if suffix != "" {
		cl.path += "/" + suffix
	}
	r, err := c.do(ctx, cl)
	if err != nil {
		return ghlwire.Task{}, err
	}
	return decodeRecord(cl.op, r, "task", setTaskRaw)
}

// ListNotes returns every note of a contact (GET /contacts/{id}/notes; no paging exists).
func (c *Client) ListNotes(ctx context.Context, contactID string) ([]ghlwire.Note, error) {
	return listDecoded(ctx, c, noteList(), "notes", contactID, setNoteRaw)
}

// GetNote returns one note of a contact (GET /contacts/{id}/notes/{noteId}). A note or
// contact HighLevel does not know is an *APIError matching ErrNotFound. Idempotent.
func (c *Client) GetNote(ctx context.Context, contactID, noteID string) (ghlwire.Note, error) {
	return c.noteCall(ctx, call{op: OpGetNote, method: http.MethodGet, idempotent: true}, contactID, noteID)
}

// CreateNote creates a note (201; Body required). Not idempotent.
func (c *Client) CreateNote(ctx context.Context, contactID string, in ghlwire.NoteInput) (ghlwire.Note, error) {
	return c.noteCall(ctx, call{op: OpCreateNote, method: http.MethodPost, body: in, write: true}, contactID, "")
}

// UpdateNote updates a note (PUT); nil fields are left alone. Idempotent.
func (c *Client) UpdateNote(ctx context.Context, contactID, noteID string, in ghlwire.NoteInput) (ghlwire.Note, error) {
	return c.noteCall(ctx, call{op: OpUpdateNote, method: http.MethodPut, body: in, idempotent: true, write: true}, contactID, noteID)
}

// DeleteNote deletes a note. Idempotent; a 404 on a retry after an uncertain attempt is success.
func (c *Client) DeleteNote(ctx context.Context, contactID, noteID string) error {
	for _, a := range [][2]string{{"contact id", contactID}, {"note id", noteID}} {
		if err := requireID(OpDeleteNote, a[0], a[1]); err != nil {
			return err
		}
	}
	return c.succeeded(ctx, call{op: OpDeleteNote, method: http.MethodDelete, path: notePath(contactID) + "/" + esc(noteID), idempotent: true, write: true})
}

func (c *Client) noteCall(ctx context.Context, cl call, contactID, noteID string) (ghlwire.Note, error) {
	if err := requireID(cl.op, "contact id", contactID); err != nil {
		return ghlwire.Note{}, err
	}
	cl.path = notePath(contactID)
	if cl.method != http.MethodPost {
		if err := requireID(cl.op, "note id", noteID); err != nil {
			return ghlwire.Note{}, err
		}
		cl.path += "/" + esc(noteID)
	}
	r, err := c.do(ctx, cl)
	if err != nil {
		return ghlwire.Note{}, err
	}
	return decodeRecord(cl.op, r, "note", setNoteRaw)
}
