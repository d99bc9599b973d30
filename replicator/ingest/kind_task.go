package ingest

import (
	"context"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ghlwire"
	"ptsync/store"
)

// Task is the tasks' entry: GET /contacts/{id}/tasks, guarded (deletions propagate to PTD).
func (kindFiles) Task() ChildKind {
	return ChildKind{Name: store.KindTask, Order: 10, Label: "tasks", Guarded: true,
		Events: []string{"TaskCreate", "TaskComplete", "TaskDelete"},
		Fetch: func(ctx context.Context, c *ghl.Client, id string) (Convert, error) {
			ts, err := c.ListTasks(ctx, id)
			return converter(ts, func(t ghlwire.Task, s Stamp) store.GHLTask {
				due, _ := parseTime(t.DueDate, s.TimeZone)
				return store.GHLTask{ID: t.ID, ContactID: id, Title: t.Title, Body: t.Body, AssignedTo: t.AssignedTo,
					DueDate: due, Completed: t.Completed, Raw: t.Raw, FetchedAt: s.At}
			}), err
		}}
}
