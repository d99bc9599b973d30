package query

import (
	"fmt"
	"strings"
	"time"

	"ptsync/store"
)

// Note is the notes' entry: `query notes`, `query ptd-notes` and the contact view's notes.
func (kindFiles) Note() ChildKind {
	return ChildKind{Name: store.KindNote, Order: 20,
		GHL: ChildQuery{Kind: "notes",
			Fields: []Field{
				Str("id", func(r *store.GHLNote) string { return r.ID }),
				Str("contactId", func(r *store.GHLNote) string { return r.ContactID }),
				Str("body", func(r *store.GHLNote) string { return r.Body }),
				Time("dateAdded", func(r *store.GHLNote) time.Time { return r.DateAdded }),
			},
			Defaults: []string{"id", "contactId", "dateAdded", "body"},
			Scan: func(tx *store.Tx, fn func(any) error) error {
				return tx.ForEachGHLNote(each[store.GHLNote](fn))
			}},
		PTD: ChildQuery{Kind: "ptd-notes",
			Fields: []Field{
				Str("id", func(r *store.PTDNote) string { return r.ID }),
				Str("clientId", func(r *store.PTDNote) string { return r.ClientID }),
				Str("body", func(r *store.PTDNote) string { return r.Body }),
				Time("createdAt", func(r *store.PTDNote) time.Time { return r.CreatedAt }),
				Time("updatedAt", func(r *store.PTDNote) time.Time { return r.UpdatedAt }),
			},
			Defaults: []string{"id", "clientId", "createdAt", "body"},
			Scan: func(tx *store.Tx, fn func(any) error) error {
				return tx.ForEachPTDNote(each[store.PTDNote](fn))
			}},
		Show: ChildShow{Heading: "notes", New: func() any { return new(store.GHLNote) },
			Line: func(rec any) string {
				n := rec.(*store.GHLNote)
				return fmt.Sprintf("%s  %s  %s", n.ID, showTime(n.DateAdded), strings.ReplaceAll(n.Body, "\n", " "))
			}},
	}
}
