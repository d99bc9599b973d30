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

// The notes' outbox ops (either target; appointments surfaced as notes use them too).
const (
	OpNoteCreate = "note.create"
	OpNoteUpdate = "note.update"
	OpNoteDelete = "note.delete"
)

func noteKey(body string) string { return diff.Name(body) }

// Note is the notes' entry: merged both ways, matched by body. A blank HighLevel note is not
// created in PTD; a PTD note that surfaces an appointment is not a free note (claimers).
func (kindFiles) Note() ChildKind {
	return ChildKind{Name: store.KindNote, Order: 20, Direction: BothWays,
		Cap: ptd.CapNotes, Work: "sync notes", Specs: []diff.FieldSpec{{Name: "body"}},
		Ops: ChildOps{Create: OpNoteCreate, Update: OpNoteUpdate, Delete: OpNoteDelete},
		Key: func(v diff.Snapshot) string { return noteKey(v.Values["body"].S) },
		GHL: ChildSide{
			Values: func(r store.ChildRecord) diff.Snapshot {
				return diff.Snapshot{Values: diff.Values{"body": diff.Scalar(r.(*store.GHLNote).Body)}}
			},
			Creatable: func(r store.ChildRecord) bool { return strings.TrimSpace(r.(*store.GHLNote).Body) != "" },
			Calls:     ghlNoteCalls()},
		PTD: ChildSide{
			Values: func(r store.ChildRecord) diff.Snapshot {
				n := r.(*store.PTDNote)
				return diff.Snapshot{Values: diff.Values{"body": diff.Scalar(n.Body)}, UpdatedAt: n.UpdatedAt}
			},
			Calls: ptdNoteCalls()},
		Same: func(stored, listed store.ChildRecord) bool {
			a, b := stored.(*store.PTDNote), listed.(*store.PTDNote)
			return a.UpdatedAt.Equal(b.UpdatedAt) && a.Body == b.Body
		}}
}

func ghlNoteCalls() ChildCalls {
	return ChildCalls{
		List: func(ctx context.Context, env ChildEnv, gid string) ([]store.ChildRecord, error) {
			ns, err := env.GHL.ListNotes(ctx, gid)
			return childRecords(ns, func(n ghlwire.Note) store.ChildRecord { return ghlNoteRecord(n, gid, env) }), err
		},
		Create: func(ctx context.Context, env ChildEnv, gid string, w Write) (store.ChildRecord, error) {
			body := w.Fields["body"]
			n, err := env.GHL.CreateNote(ctx, gid, ghlwire.NoteInput{Body: &body})
			return ghlNoteRecord(n, gid, env), err
		},
		Update: func(ctx context.Context, env ChildEnv, gid, id string, w Write) (store.ChildRecord, error) {
			body := w.Fields["body"]
			n, err := env.GHL.UpdateNote(ctx, gid, id, ghlwire.NoteInput{Body: &body})
			n.Body = body
			return ghlNoteRecord(n, gid, env), err
		},
		Delete: func(ctx context.Context, env ChildEnv, gid, id string) error {
			return alreadyGone(env.GHL.DeleteNote(ctx, gid, id), ghl.ErrNotFound)
		},
	}
}

// ptdNoteCalls write PTD notes: the notes' PTD side, and appointments surfaced as notes.
func ptdNoteCalls() ChildCalls {
	record := func(n ptdwire.Note, pid string, env ChildEnv) store.ChildRecord {
		if n.ClientID == "" {
			n.ClientID = pid
		}
		r := ptdNoteRecord(n, env.Now())
		return &r
	}
	return ChildCalls{
		List: func(ctx context.Context, env ChildEnv, pid string) ([]store.ChildRecord, error) {
			ns, err := env.PTD.ListNotes(ctx, pid)
			return childRecords(ns, func(n ptdwire.Note) store.ChildRecord { return record(n, pid, env) }), err
		},
		Create: func(ctx context.Context, env ChildEnv, pid string, w Write) (store.ChildRecord, error) {
			body := w.Fields["body"]
			n, err := env.PTD.CreateNote(ctx, pid, ptdwire.NoteInput{Body: &body})
			return record(n, pid, env), err
		},
		Update: func(ctx context.Context, env ChildEnv, pid, id string, w Write) (store.ChildRecord, error) {
			body := w.Fields["body"]
			n, err := env.PTD.UpdateNote(ctx, id, ptdwire.NoteInput{Body: &body})
			return record(n, pid, env), err
		},
		Delete: func(ctx context.Context, env ChildEnv, _, id string) error {
			return alreadyGone(env.PTD.DeleteNote(ctx, id), ptd.ErrNotFound)
		},
	}
}

func ptdNoteRecord(n ptdwire.Note, now time.Time) store.PTDNote {
	raw, _ := json.Marshal(n)
	return store.PTDNote{ID: n.ID, ClientID: n.ClientID, Body: n.Body, CreatedAt: mapping.ParseTime(n.CreatedAt, time.UTC),
		UpdatedAt: mapping.ParseTime(n.UpdatedAt, time.UTC), Raw: raw, FetchedAt: now}
}

func ghlNoteRecord(n ghlwire.Note, contactID string, env ChildEnv) *store.GHLNote {
	raw := n.Raw
	if len(raw) == 0 {
		raw, _ = json.Marshal(n)
	}
	return &store.GHLNote{ID: n.ID, ContactID: contactID, Body: n.Body, DateAdded: mapping.ParseTime(n.DateAdded, env.TimeZone),
		Raw: raw, FetchedAt: env.Now()}
}
