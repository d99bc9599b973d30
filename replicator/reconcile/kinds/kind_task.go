package kinds

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/diff"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/store"
)

// The tasks' outbox ops (either target).
const (
	OpTaskCreate = "task.create"
	OpTaskUpdate = "task.update" // HighLevel completion via PUT .../completed
	OpTaskDelete = "task.delete"
)

// taskSpecs are the merged fields of a task, the same on both sides.
func taskSpecs() []diff.FieldSpec {
	return []diff.FieldSpec{
		{Name: "title", Normalizer: diff.NormName},
		{Name: "body", AllowEmpty: true},
		{Name: "due", Normalizer: diff.NormTime},
		{Name: "completed"},
	}
}

func taskKey(title string, due string) string { return strings.ToLower(diff.Name(title)) + "|" + due }

// Task is the tasks' entry: merged both ways, matched by title and due time.
func (kindFiles) Task() ChildKind {
	return ChildKind{Name: store.KindTask, Order: 10, Direction: BothWays,
		Cap: ptd.CapTasks, Work: "sync tasks", Specs: taskSpecs(),
		Ops: ChildOps{Create: OpTaskCreate, Update: OpTaskUpdate, Delete: OpTaskDelete},
		Key: func(v diff.Snapshot) string { return taskKey(v.Values["title"].S, v.Values["due"].S) },
		GHL: ChildSide{Values: func(r store.ChildRecord) diff.Snapshot { return ghlTaskValues(*r.(*store.GHLTask)) },
			Calls: ghlTaskCalls()},
		PTD: ChildSide{Values: func(r store.ChildRecord) diff.Snapshot { return ptdTaskValues(*r.(*store.PTDTask)) },
			Calls: ptdTaskCalls()},
		Same: func(stored, listed store.ChildRecord) bool {
			a, b := stored.(*store.PTDTask), listed.(*store.PTDTask)
			return a.UpdatedAt.Equal(b.UpdatedAt) && a.Title == b.Title && a.Completed == b.Completed
		}}
}

func ghlTaskValues(t store.GHLTask) diff.Snapshot {
	return diff.Snapshot{Values: diff.Values{"title": diff.Scalar(t.Title), "body": diff.Scalar(t.Body),
		"due": diff.Scalar(mapping.TimeStr(t.DueDate)), "completed": diff.Scalar(mapping.BoolStr(t.Completed))}}
}

func ptdTaskValues(t store.PTDTask) diff.Snapshot {
	return diff.Snapshot{Values: diff.Values{"title": diff.Scalar(t.Title), "body": diff.Scalar(t.Body),
		"due": diff.Scalar(mapping.TimeStr(t.DueAt)), "completed": diff.Scalar(mapping.BoolStr(t.Completed))}, UpdatedAt: t.UpdatedAt}
}

// taskFields reads a write's task fields; has* say which are present.
type taskFields struct {
	title, body, due                   string
	completed                          bool
	hasTitle, hasBody, hasDue, hasDone bool
}

func readTaskFields(w Write) taskFields {
	var f taskFields
	f.title, f.hasTitle = w.Fields["title"]
	f.body, f.hasBody = w.Fields["body"]
	f.due, f.hasDue = w.Fields["due"]
	var done string
	done, f.hasDone = w.Fields["completed"]
	f.completed = done == "true"
	return f
}

func ghlTaskCalls() ChildCalls {
	return ChildCalls{
		List: func(ctx context.Context, env ChildEnv, gid string) ([]store.ChildRecord, error) {
			ts, err := env.GHL.ListTasks(ctx, gid)
			return childRecords(ts, func(t ghlwire.Task) store.ChildRecord { return ghlTaskRecord(t, gid, env) }), err
		},
		Create: func(ctx context.Context, env ChildEnv, gid string, w Write) (store.ChildRecord, error) {
			f := readTaskFields(w)
			in := ghlwire.TaskInput{Title: &f.title, Body: &f.body, Completed: &f.completed}
			if f.due != "" {
				in.DueDate = &f.due
			}
			t, err := env.GHL.CreateTask(ctx, gid, in)
			return ghlTaskRecord(t, gid, env), err
		},
		Update: func(ctx context.Context, env ChildEnv, gid, id string, w Write) (store.ChildRecord, error) {
			f := readTaskFields(w)
			var t ghlwire.Task
			in := ghlwire.TaskInput{}
			if f.hasTitle {
				in.Title = &f.title
			}
			if f.hasBody {
				in.Body = &f.body
			}
			if f.hasDue {
				in.DueDate = &f.due
			}
			var err error
			if in != (ghlwire.TaskInput{}) {
				if t, err = env.GHL.UpdateTask(ctx, gid, id, in); err != nil {
					return nil, err
				}
			}
			if f.hasDone { // completion has its own endpoint: PUT .../tasks/{id}/completed
				if t, err = env.GHL.SetTaskCompleted(ctx, gid, id, f.completed); err != nil {
					return nil, err
				}
			}
			return ghlTaskRecord(t, gid, env), nil
		},
		// The answers of the two update calls may each lack what the other wrote: the stored
		// copy takes the answer, then what was written.
		Patch: func(stored, got store.ChildRecord, w Write) store.ChildRecord {
			old, ok := stored.(*store.GHLTask)
			if !ok {
				return got
			}
			rec, f := got.(*store.GHLTask), readTaskFields(w)
			old.Title, old.Body, old.DueDate, old.Completed = rec.Title, rec.Body, rec.DueDate, rec.Completed
			if f.hasTitle {
				old.Title = f.title
			}
			if f.hasBody {
				old.Body = f.body
			}
			if f.hasDue {
				old.DueDate = mapping.ParseTime(f.due, nil)
			}
			if f.hasDone {
				old.Completed = f.completed
			}
			return old
		},
		Delete: func(ctx context.Context, env ChildEnv, gid, id string) error {
			return alreadyGone(env.GHL.DeleteTask(ctx, gid, id), ghl.ErrNotFound)
		},
	}
}

func ptdTaskCalls() ChildCalls {
	record := func(t ptdwire.Task, pid string, env ChildEnv) store.ChildRecord {
		if t.ClientID == "" {
			t.ClientID = pid
		}
		r := ptdTaskRecord(t, env.Now())
		return &r
	}
	return ChildCalls{
		List: func(ctx context.Context, env ChildEnv, pid string) ([]store.ChildRecord, error) {
			ts, err := env.PTD.ListTasks(ctx, pid)
			return childRecords(ts, func(t ptdwire.Task) store.ChildRecord { return record(t, pid, env) }), err
		},
		Create: func(ctx context.Context, env ChildEnv, pid string, w Write) (store.ChildRecord, error) {
			f := readTaskFields(w)
			in := ptdwire.TaskInput{Title: &f.title, Body: &f.body, Completed: &f.completed}
			if f.due != "" {
				in.DueAt = &f.due
			}
			t, err := env.PTD.CreateTask(ctx, pid, in)
			return record(t, pid, env), err
		},
		Update: func(ctx context.Context, env ChildEnv, pid, id string, w Write) (store.ChildRecord, error) {
			f := readTaskFields(w)
			in := ptdwire.TaskInput{}
			if f.hasTitle {
				in.Title = &f.title
			}
			if f.hasBody {
				in.Body = &f.body
			}
			if f.hasDue {
				in.DueAt = &f.due
			}
			if f.hasDone {
				in.Completed = &f.completed
			}
			t, err := env.PTD.UpdateTask(ctx, id, in)
			return record(t, pid, env), err
		},
		Delete: func(ctx context.Context, env ChildEnv, _, id string) error {
			return alreadyGone(env.PTD.DeleteTask(ctx, id), ptd.ErrNotFound)
		},
	}
}

func ptdTaskRecord(t ptdwire.Task, now time.Time) store.PTDTask {
	raw, _ := json.Marshal(t)
	return store.PTDTask{ID: t.ID, ClientID: t.ClientID, Title: t.Title, Body: t.Body, DueAt: mapping.ParseTime(t.DueAt, time.UTC),
		Completed: t.Completed, UpdatedAt: mapping.ParseTime(t.UpdatedAt, time.UTC), Raw: raw, FetchedAt: now}
}

func ghlTaskRecord(t ghlwire.Task, contactID string, env ChildEnv) *store.GHLTask {
	raw := t.Raw
	if len(raw) == 0 {
		raw, _ = json.Marshal(t)
	}
	return &store.GHLTask{ID: t.ID, ContactID: contactID, Title: t.Title, Body: t.Body, AssignedTo: t.AssignedTo,
		DueDate: mapping.ParseTime(t.DueDate, env.TimeZone), Completed: t.Completed, Raw: raw, FetchedAt: env.Now()}
}
