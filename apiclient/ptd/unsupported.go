package ptd

import (
	"context"

	"ptsync/apiclient/ptdwire"
)

// Unsupported implements every Adapter method but Capabilities by refusing it: each returns
// an error wrapping ErrUnsupported that names the operation and the capability, at once and
// without I/O, as the Adapter contract demands of a call the driver cannot serve. A driver
// embeds it and defines only the calls it can make; the zero value is ready to use.
type Unsupported struct{}

// ListClientsPage refuses: the driver lacks CapClientRead.
func (Unsupported) ListClientsPage(context.Context, string, int) (ptdwire.ClientPage, error) {
	return ptdwire.ClientPage{}, unsupported("list clients", CapClientRead)
}

// GetClient refuses: the driver lacks CapClientRead.
func (Unsupported) GetClient(context.Context, string) (ptdwire.Client, error) {
	return ptdwire.Client{}, unsupported("get client", CapClientRead)
}

// FindClientByEmail refuses: the driver lacks CapClientRead.
func (Unsupported) FindClientByEmail(context.Context, string) (*ptdwire.Client, error) {
	return nil, unsupported("find client by email", CapClientRead)
}

// CreateClient refuses: the driver lacks CapClientCreate.
func (Unsupported) CreateClient(context.Context, ptdwire.ClientInput) (ptdwire.Client, error) {
	return ptdwire.Client{}, unsupported("create client", CapClientCreate)
}

// UpdateClient refuses: the driver lacks CapClientUpdate.
func (Unsupported) UpdateClient(context.Context, string, string, ptdwire.ClientInput) (ptdwire.Client, error) {
	return ptdwire.Client{}, unsupported("update client", CapClientUpdate)
}

// AddTags refuses: the driver lacks CapTags.
func (Unsupported) AddTags(context.Context, string, []string) (ptdwire.Client, error) {
	return ptdwire.Client{}, unsupported("add tags", CapTags)
}

// RemoveTags refuses: the driver lacks CapTags.
func (Unsupported) RemoveTags(context.Context, string, []string) (ptdwire.Client, error) {
	return ptdwire.Client{}, unsupported("remove tags", CapTags)
}

// ListGroups refuses: the driver lacks CapCatalog.
func (Unsupported) ListGroups(context.Context) ([]ptdwire.Group, error) {
	return nil, unsupported("list groups", CapCatalog)
}

// ListPackages refuses: the driver lacks CapCatalog.
func (Unsupported) ListPackages(context.Context) ([]ptdwire.Package, error) {
	return nil, unsupported("list packages", CapCatalog)
}

// AddToGroup refuses: the driver lacks CapGroups.
func (Unsupported) AddToGroup(context.Context, string, string) error {
	return unsupported("add client to group", CapGroups)
}

// RemoveFromGroup refuses: the driver lacks CapGroupRemove.
func (Unsupported) RemoveFromGroup(context.Context, string, string) error {
	return unsupported("remove client from group", CapGroupRemove)
}

// AssignPackage refuses: the driver lacks CapPackages.
func (Unsupported) AssignPackage(context.Context, string, string) error {
	return unsupported("assign package", CapPackages)
}

// SetAccess refuses: the driver lacks CapAccess.
func (Unsupported) SetAccess(context.Context, string, string) error {
	return unsupported("set access", CapAccess)
}

// ListTasks refuses: the driver lacks CapTasks.
func (Unsupported) ListTasks(context.Context, string) ([]ptdwire.Task, error) {
	return nil, unsupported("list tasks", CapTasks)
}

// CreateTask refuses: the driver lacks CapTasks.
func (Unsupported) CreateTask(context.Context, string, ptdwire.TaskInput) (ptdwire.Task, error) {
	return ptdwire.Task{}, unsupported("create task", CapTasks)
}

// UpdateTask refuses: the driver lacks CapTasks.
func (Unsupported) UpdateTask(context.Context, string, ptdwire.TaskInput) (ptdwire.Task, error) {
	return ptdwire.Task{}, unsupported("update task", CapTasks)
}

// DeleteTask refuses: the driver lacks CapTasks.
func (Unsupported) DeleteTask(context.Context, string) error {
	return unsupported("delete task", CapTasks)
}

// ListNotes refuses: the driver lacks CapNotes.
func (Unsupported) ListNotes(context.Context, string) ([]ptdwire.Note, error) {
	return nil, unsupported("list notes", CapNotes)
}

// CreateNote refuses: the driver lacks CapNotes.
func (Unsupported) CreateNote(context.Context, string, ptdwire.NoteInput) (ptdwire.Note, error) {
	return ptdwire.Note{}, unsupported("create note", CapNotes)
}

// UpdateNote refuses: the driver lacks CapNotes.
func (Unsupported) UpdateNote(context.Context, string, ptdwire.NoteInput) (ptdwire.Note, error) {
	return ptdwire.Note{}, unsupported("update note", CapNotes)
}

// DeleteNote refuses: the driver lacks CapNotes.
func (Unsupported) DeleteNote(context.Context, string) error {
	return unsupported("delete note", CapNotes)
}

// UpsertAppointment refuses: the driver lacks CapAppointments.
func (Unsupported) UpsertAppointment(context.Context, string, ptdwire.Appointment) (ptdwire.Appointment, error) {
	return ptdwire.Appointment{}, unsupported("upsert appointment", CapAppointments)
}

// ListAppointments refuses: the driver lacks CapAppointments.
func (Unsupported) ListAppointments(context.Context, string) ([]ptdwire.Appointment, error) {
	return nil, unsupported("list appointments", CapAppointments)
}

// SendReminder refuses: the driver lacks CapReminders.
func (Unsupported) SendReminder(context.Context, ptdwire.Reminder) (ptdwire.Reminder, error) {
	return ptdwire.Reminder{}, unsupported("send reminder", CapReminders)
}
