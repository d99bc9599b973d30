package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Tasks: a contact's to-dos, merged both ways with PTD tasks. Both sides keep a due-date
// index ("due", only tasks with a due date) for reminders and --due-before.

// Task is the kind's registry entry.
func (kindFiles) Task() ChildKind {
	return ChildKind{Name: KindTask, Order: 10, Since: 1,
		GHL: ChildSide{Collection: GHLTasks, Indexes: []string{"due"}, New: func() ChildRecord { return new(GHLTask) }},
		PTD: ChildSide{Collection: PTDTasks, Indexes: []string{"due"}, New: func() ChildRecord { return new(PTDTask) }}}
}

// GHLTask is a HighLevel task of a contact; keyed by (ContactID, ID).
type GHLTask struct {
	ID         string          `json:"id"`
	ContactID  string          `json:"contactId"`
	Title      string          `json:"title,omitempty"`
	Body       string          `json:"body,omitempty"`
	AssignedTo string          `json:"assignedTo,omitempty"`
	DueDate    time.Time       `json:"dueDate"`
	Completed  bool            `json:"completed"`
	Raw        json.RawMessage `json:"raw,omitempty"`
	FetchedAt  time.Time       `json:"fetchedAt"`
}

// PTDTask is a PT Distinction task; keyed by (ClientID, ID).
type PTDTask struct {
	ID        string          `json:"id"`
	ClientID  string          `json:"clientId"`
	Title     string          `json:"title,omitempty"`
	Body      string          `json:"body,omitempty"`
	DueAt     time.Time       `json:"dueAt"`
	Completed bool            `json:"completed"`
	UpdatedAt time.Time       `json:"updatedAt"`
	Raw       json.RawMessage `json:"raw,omitempty"`
	FetchedAt time.Time       `json:"fetchedAt"`
}

// ChildID, ParentID and FetchedTime implement ChildRecord: the store keys the record by
// (ParentID, ChildID), and a refresh older than FetchedTime does not overwrite it.
func (r *GHLTask) ChildID() string        { return r.ID }
func (r *GHLTask) ParentID() string       { return r.ContactID }
func (r *GHLTask) FetchedTime() time.Time { return r.FetchedAt }
func (r *PTDTask) ChildID() string        { return r.ID }
func (r *PTDTask) ParentID() string       { return r.ClientID }
func (r *PTDTask) FetchedTime() time.Time { return r.FetchedAt }

func (r *GHLTask) collection() Collection { return GHLTasks }
func (r *GHLTask) primaryKey() string     { return childKey(r.ContactID, r.ID) }
func (r *GHLTask) updated() time.Time     { return time.Time{} }
func (r *GHLTask) quarantineKey() string  { return qkey(KindTask, SideGHL, r.ID) }
func (r *GHLTask) validate() error        { return checkChild("ghl task", r.ContactID, r.ID) }
func (r *GHLTask) entries() []entry       { return dueEntries(r.ID, r.DueDate) }

func (r *PTDTask) collection() Collection { return PTDTasks }
func (r *PTDTask) primaryKey() string     { return childKey(r.ClientID, r.ID) }
func (r *PTDTask) updated() time.Time     { return r.UpdatedAt }
func (r *PTDTask) quarantineKey() string  { return qkey(KindTask, SidePTD, r.ID) }
func (r *PTDTask) validate() error        { return checkChild("ptd task", r.ClientID, r.ID) }
func (r *PTDTask) entries() []entry       { return dueEntries(r.ID, r.DueAt) }

func dueEntries(id string, due time.Time) []entry {
	es := []entry{{"id", id}}
	if !due.IsZero() {
		es = append(es, entry{"due", TimeKey(due)})
	}
	return es
}

func (r *GHLTask) rawField() *json.RawMessage { return &r.Raw }
func (r *GHLTask) appendHeader(e *enc) {
	e.str(r.ID)
	e.str(r.ContactID)
	e.str(r.Title)
	e.str(r.Body)
	e.str(r.AssignedTo)
	e.boolean(r.Completed)
	e.times(r.DueDate, r.FetchedAt)
}
func (r *GHLTask) readHeader(d *dec) {
	r.ID, r.ContactID, r.Title, r.Body, r.AssignedTo = d.str(), d.str(), d.str(), d.str(), d.str()
	r.Completed = d.boolean()
	r.DueDate, r.FetchedAt = d.time(), d.time()
}

func (r *PTDTask) rawField() *json.RawMessage { return &r.Raw }
func (r *PTDTask) appendHeader(e *enc) {
	e.str(r.ID)
	e.str(r.ClientID)
	e.str(r.Title)
	e.str(r.Body)
	e.boolean(r.Completed)
	e.times(r.DueAt, r.UpdatedAt, r.FetchedAt)
}
func (r *PTDTask) readHeader(d *dec) {
	r.ID, r.ClientID, r.Title, r.Body = d.str(), d.str(), d.str(), d.str()
	r.Completed = d.boolean()
	r.DueAt, r.UpdatedAt, r.FetchedAt = d.time(), d.time(), d.time()
}

var (
	_ binRecord = (*GHLTask)(nil)
	_ binRecord = (*PTDTask)(nil)
)

// Typed access to tasks, the typed forms of the generic child methods (PutChild,
// ChildrenOf, ChildByID, DeleteChild) with the contract of api_records.go: a Put replaces the
// whole record and its index entries and is idempotent; Get, *ByID and Delete return
// ErrNotFound when the record is absent; *Of returns one parent's records in id order, and
// ForEach visits every record in (parent id, id) order, a fresh value each time unless the
// Tx came from ReuseValues.

// PutGHLTask stores t under its contact.
func (tx *Tx) PutGHLTask(t *GHLTask) error { return tx.putRecord(t) }

// GetGHLTask returns task id of contactID; ErrNotFound when absent.
func (tx *Tx) GetGHLTask(contactID, id string) (GHLTask, error) {
	var t GHLTask
	return t, tx.get(GHLTasks, childKey(contactID, id), &t)
}

// GHLTaskByID finds a HighLevel task by its id alone, whatever its contact (through the id
// index); ErrNotFound when none has it.
func (tx *Tx) GHLTaskByID(id string) (GHLTask, error) {
	return byID[GHLTask](tx, GHLTasks, id)
}

// DeleteGHLTask removes one task and its index entries; missing is ErrNotFound.
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

// PutPTDTask stores t under its client.
func (tx *Tx) PutPTDTask(t *PTDTask) error { return tx.putRecord(t) }

// GetPTDTask returns task id of clientID; ErrNotFound when absent.
func (tx *Tx) GetPTDTask(clientID, id string) (PTDTask, error) {
	var t PTDTask
	return t, tx.get(PTDTasks, childKey(clientID, id), &t)
}

// PTDTaskByID finds a PTD task by its id alone, whatever its client (through the id index);
// ErrNotFound when none has it.
func (tx *Tx) PTDTaskByID(id string) (PTDTask, error) { return byID[PTDTask](tx, PTDTasks, id) }

// DeletePTDTask removes one task and its index entries; missing is ErrNotFound.
func (tx *Tx) DeletePTDTask(clientID, id string) error {
	return tx.deleteRecord(PTDTasks, childKey(clientID, id))
}

// PTDTasksOf returns the tasks of a client in id order (a prefix scan); none is an empty
// result, not an error.
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
