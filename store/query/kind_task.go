package query

import (
	"fmt"
	"time"

	"ptsync/store"
)

// Task is the tasks' entry: `query tasks` and `query ptd-tasks` (--due-before from the due
// indexes), and the contact view's tasks.
func (kindFiles) Task() ChildKind {
	return ChildKind{Name: store.KindTask, Order: 10,
		GHL: ChildQuery{Kind: "tasks",
			Fields: []Field{
				Str("id", func(r *store.GHLTask) string { return r.ID }),
				Str("contactId", func(r *store.GHLTask) string { return r.ContactID }),
				Str("title", func(r *store.GHLTask) string { return r.Title }),
				Str("body", func(r *store.GHLTask) string { return r.Body }),
				Str("assignedTo", func(r *store.GHLTask) string { return r.AssignedTo }),
				Time("dueDate", func(r *store.GHLTask) time.Time { return r.DueDate }),
				Bool("completed", func(r *store.GHLTask) bool { return r.Completed }),
				BoolAt("overdue", func(r *store.GHLTask, now time.Time) bool {
					return !r.Completed && !r.DueDate.IsZero() && r.DueDate.Before(now)
				}),
				Time("fetchedAt", func(r *store.GHLTask) time.Time { return r.FetchedAt }),
			},
			Defaults: []string{"id", "contactId", "title", "dueDate", "completed"},
			Scan: func(tx *store.Tx, fn func(any) error) error {
				return tx.ForEachGHLTask(each[store.GHLTask](fn))
			},
			DueField: "dueDate",
			DueBefore: func(tx *store.Tx, t time.Time, fn func(any) error) error {
				return tx.GHLTasksDueBefore(t, each[store.GHLTask](fn))
			}},
		PTD: ChildQuery{Kind: "ptd-tasks",
			Fields: []Field{
				Str("id", func(r *store.PTDTask) string { return r.ID }),
				Str("clientId", func(r *store.PTDTask) string { return r.ClientID }),
				Str("title", func(r *store.PTDTask) string { return r.Title }),
				Str("body", func(r *store.PTDTask) string { return r.Body }),
				Time("dueAt", func(r *store.PTDTask) time.Time { return r.DueAt }),
				Bool("completed", func(r *store.PTDTask) bool { return r.Completed }),
				BoolAt("overdue", func(r *store.PTDTask, now time.Time) bool {
					return !r.Completed && !r.DueAt.IsZero() && r.DueAt.Before(now)
				}),
				Time("updatedAt", func(r *store.PTDTask) time.Time { return r.UpdatedAt }),
			},
			Defaults: []string{"id", "clientId", "title", "dueAt", "completed"},
			Scan: func(tx *store.Tx, fn func(any) error) error {
				return tx.ForEachPTDTask(each[store.PTDTask](fn))
			},
			DueField: "dueAt",
			DueBefore: func(tx *store.Tx, t time.Time, fn func(any) error) error {
				return tx.PTDTasksDueBefore(t, each[store.PTDTask](fn))
			}},
		Show: ChildShow{Heading: "tasks", New: func() any { return new(store.GHLTask) },
			Line: func(rec any) string {
				t := rec.(*store.GHLTask)
				state := "open"
				if t.Completed {
					state = "done"
				}
				return fmt.Sprintf("%s  %-4s due %s  %s", t.ID, state, showTime(t.DueDate), t.Title)
			}},
	}
}
