package store_test

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"ptsync/store"
)

// widget is a child kind that exists only in this test: stored as JSON, indexed by colour.
type widget struct {
	ID, Contact, Colour string
	At                  time.Time
}

func (w *widget) ChildID() string                     { return w.ID }
func (w *widget) ParentID() string                    { return w.Contact }
func (w *widget) FetchedTime() time.Time              { return w.At }
func (w *widget) ChildIndexValues() map[string]string { return map[string]string{"colour": w.Colour} }

func widgetKind() store.ChildKind {
	return store.ChildKind{Name: "widget", Order: 99, Since: 1,
		GHL: store.ChildSide{Collection: "ghl.widgets", Indexes: []string{"colour"}, New: func() store.ChildRecord { return new(widget) }}}
}

func TestDefaultChildKindsAreTheMirroredCollections(t *testing.T) {
	var names []string
	for _, k := range store.DefaultChildKinds() {
		names = append(names, k.Name)
	}
	if want := []string{store.KindTask, store.KindNote, store.KindAppointment}; !slices.Equal(names, want) {
		t.Fatalf("kinds %v, want %v", names, want)
	}
	want := []store.Collection{store.GHLContacts, store.GHLTasks, store.GHLNotes, store.GHLAppointments,
		store.PTDClients, store.PTDTasks, store.PTDNotes, store.PTDAppointments}
	if got := store.Collections(); !slices.Equal(got, want) {
		t.Fatalf("Collections() = %v, want %v", got, want)
	}
}

func TestRegisteredChildKindIsStoredIndexedAndCascaded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	kinds := append(store.DefaultChildKinds(), widgetKind())
	db, err := store.Open(path, store.Options{ChildKinds: kinds})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	err = db.Update(func(tx *store.Tx) error {
		if err := tx.PutGHLContact(&store.GHLContact{ID: "c1", Email: "a@x.io"}); err != nil {
			return err
		}
		for _, w := range []*widget{{"w1", "c1", "red", at}, {"w2", "c1", "blue", at}} {
			if err := tx.PutChild("widget", store.SideGHL, w); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Fatalf("check after puts: %v", err)
	}
	err = db.View(func(tx *store.Tx) error {
		ws, err := tx.ChildrenOf("widget", store.SideGHL, "c1")
		if err != nil || len(ws) != 2 || ws[0].(*widget).Colour != "red" {
			t.Fatalf("children %v, %v", ws, err)
		}
		w, err := tx.ChildByID("widget", store.SideGHL, "w2")
		if err != nil || w.(*widget).Colour != "blue" || !w.FetchedTime().Equal(at) {
			t.Fatalf("by id %+v, %v", w, err)
		}
		if _, err := tx.ChildrenOf("widget", store.SidePTD, "c1"); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("unregistered side: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *store.Tx) error { return tx.DeleteGHLContact("c1") }); err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx *store.Tx) error {
		ws, err := tx.ChildrenOf("widget", store.SideGHL, "c1")
		if err != nil || len(ws) != 0 {
			t.Fatalf("after the contact's delete: %v, %v", ws, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Check(); err != nil {
		t.Fatalf("check after the cascade: %v", err)
	}
}

func TestBadChildKindsAreRefused(t *testing.T) {
	clash := widgetKind()
	clash.GHL.Collection = store.GHLTasks
	late := widgetKind()
	late.Since = store.SchemaVersion + 1
	for name, kinds := range map[string][]store.ChildKind{
		"twice":            {widgetKind(), widgetKind()},
		"collection taken": append(store.DefaultChildKinds(), clash),
		"newer than build": {late},
		"reserved name":    {{Name: store.KindContact, Since: 1}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := store.Open(filepath.Join(t.TempDir(), "m.db"), store.Options{ChildKinds: kinds})
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("opened: %v", err)
			}
		})
	}
}
