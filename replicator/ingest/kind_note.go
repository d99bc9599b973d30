package ingest

import (
	"context"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ghlwire"
	"ptsync/store"
)

// Note is the notes' entry: GET /contacts/{id}/notes, guarded (deletions propagate to PTD).
func (kindFiles) Note() ChildKind {
	return ChildKind{Name: store.KindNote, Order: 20, Label: "notes", Guarded: true,
		Events: []string{"NoteCreate", "NoteUpdate", "NoteDelete"},
		Fetch: func(ctx context.Context, c *ghl.Client, id string) (Convert, error) {
			ns, err := c.ListNotes(ctx, id)
			return converter(ns, func(n ghlwire.Note, s Stamp) store.GHLNote {
				added, _ := parseTime(n.DateAdded, s.TimeZone)
				return store.GHLNote{ID: n.ID, ContactID: id, Body: n.Body, DateAdded: added, Raw: n.Raw, FetchedAt: s.At}
			}), err
		}}
}
