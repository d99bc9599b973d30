// Package storetest builds realistic mirrors for tests and benchmarks of the store, the query
// engine, the CLI and the replicator. It is test support: nothing in production imports it.
package storetest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"ptsync/store"
)

// Now is the fixed clock of the fixture (2025-03-10 12:00 UTC): every relative date is
// computed from it. Pass it as store.Options.Now.
func Now() time.Time { return time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC) }

// Fixture names the records Seed writes that tests refer to.
type Fixture struct {
	AnnID, BobID, CarolID, DaveID string // HighLevel contacts
	AnnClientID, CarolClientID    string // PT Distinction clients
	AnnLinkID                     string
	OverdueTaskID                 string // Ann's open task due yesterday
	DeadSeq, LiveSeq              uint64 // outbox entries
	Contacts                      int    // HighLevel contacts written in total
}

func raw(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// Open creates a fresh mirror in t.TempDir() with the fixed clock, seeds it and returns it
// open read-write together with its path. It is closed by t.Cleanup.
func Open(t testing.TB) (*store.DB, string, Fixture) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mirror.db")
	db, err := store.Open(path, store.Options{Now: Now})
	if err != nil {
		t.Fatalf("open fixture: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	var f Fixture
	if err := db.Update(func(tx *store.Tx) error { f, err = Seed(tx); return err }); err != nil {
		t.Fatalf("seed fixture: %v", err)
	}
	return db, path, f
}

// Seed writes a small but realistic mirror: 24 HighLevel contacts (vip and lead tags, tasks
// overdue, due soon and completed, notes, an appointment), 3 PTD clients with tasks, links,
// a base, two outbox entries (one dead), a conflict, history and the search cursor. Every
// record is dated from Now and the writes happen in a fixed order, so what the store assigns
// (link ids, outbox sequences) is the same in every run.
func Seed(tx *store.Tx) (Fixture, error) {
	f := Fixture{AnnID: "c-ann", BobID: "c-bob", CarolID: "c-carol", DaveID: "c-dave",
		AnnClientID: "p-ann", CarolClientID: "p-carol", OverdueTaskID: "t-ann-1"}
	newest, err := seedContacts(tx, &f)
	if err != nil {
		return f, err
	}
	for _, seed := range []func(*store.Tx, *Fixture) error{seedGHLChildren, seedPTD, seedLinks, seedWork} {
		if err := seed(tx, &f); err != nil {
			return f, err
		}
	}
	return f, tx.SetCursor("ghl.search", store.Cursor{Value: fmt.Sprintf("[%d,%q]", newest.UnixMilli(), f.CarolID),
		Covers: store.GHLContacts, Through: newest})
}

// day is the unit of the fixture's relative dates.
const day = 24 * time.Hour

// seedContacts writes Ann, Bob, Carol, Dave and 20 members, sets f.Contacts, and returns the
// newest dateUpdated (where the search cursor stands).
func seedContacts(tx *store.Tx, f *Fixture) (time.Time, error) {
	now := Now()
	contacts := []store.GHLContact{
		{ID: f.AnnID, Email: "ann@example.com", Phone: "+15550100001", FirstName: "Ann", LastName: "Archer",
			Tags: []string{"vip", "online"}, DateAdded: now.Add(-90 * day), DateUpdated: now.Add(-2 * day)},
		{ID: f.BobID, Email: "bob@example.com", Phone: "+15550100002", FirstName: "Bob", LastName: "Baker",
			Tags: []string{"vip"}, DateAdded: now.Add(-60 * day), DateUpdated: now.Add(-10 * day)},
		{ID: f.CarolID, Email: "carol@example.org", Phone: "+447700900003", FirstName: "Carol", LastName: "Cole",
			Tags: []string{"lead"}, DateAdded: now.Add(-5 * day), DateUpdated: now.Add(-1 * day)},
		{ID: f.DaveID, FirstName: "Dave", Tags: nil, DateAdded: now.Add(-3 * day), DateUpdated: now.Add(-3 * day)},
	}
	for i := 5; i <= 24; i++ {
		tags := []string{"newsletter"}
		if i%5 == 0 {
			tags = append(tags, "vip")
		}
		contacts = append(contacts, store.GHLContact{
			ID: fmt.Sprintf("c-%03d", i), Email: fmt.Sprintf("member%d@example.net", i),
			Phone: fmt.Sprintf("+1555010%04d", i), FirstName: fmt.Sprintf("Member%d", i), LastName: "Smith",
			Tags: tags, DateAdded: now.Add(-time.Duration(100+i) * day), DateUpdated: now.Add(-time.Duration(20+i) * day),
		})
	}
	var newest time.Time
	for i := range contacts {
		c := &contacts[i]
		c.Raw = raw(map[string]any{"id": c.ID, "email": c.Email, "firstName": c.FirstName, "tags": c.Tags,
			"dateUpdated": c.DateUpdated.Format(time.RFC3339)})
		c.FetchedAt = now.Add(-time.Hour)
		if err := tx.PutGHLContact(c); err != nil {
			return newest, err
		}
		if c.DateUpdated.After(newest) {
			newest = c.DateUpdated
		}
	}
	f.Contacts = len(contacts)
	return newest, nil
}

// seedGHLChildren writes the HighLevel tasks (Ann's overdue one, her completed one, one
// without a due date), two notes and Ann's booked appointment.
func seedGHLChildren(tx *store.Tx, f *Fixture) error {
	now := Now()
	tasks := []store.GHLTask{
		{ID: f.OverdueTaskID, ContactID: f.AnnID, Title: "Send meal plan", DueDate: now.Add(-day)},
		{ID: "t-ann-2", ContactID: f.AnnID, Title: "Check-in call", DueDate: now.Add(2 * day)},
		{ID: "t-ann-3", ContactID: f.AnnID, Title: "Intake form", DueDate: now.Add(-30 * day), Completed: true},
		{ID: "t-carol-1", ContactID: f.CarolID, Title: "Book assessment", DueDate: now.Add(-3 * day)},
		{ID: "t-bob-1", ContactID: f.BobID, Title: "Renewal", DueDate: now.Add(20 * day)},
		{ID: "t-dave-1", ContactID: f.DaveID, Title: "No due date"},
	}
	for i := range tasks {
		tasks[i].Raw = raw(map[string]any{"id": tasks[i].ID, "title": tasks[i].Title})
		if err := tx.PutGHLTask(&tasks[i]); err != nil {
			return err
		}
	}
	notes := []store.GHLNote{
		{ID: "n-ann-1", ContactID: f.AnnID, Body: "Prefers morning sessions", DateAdded: now.Add(-40 * day)},
		{ID: "n-carol-1", ContactID: f.CarolID, Body: "Came from the spring campaign", DateAdded: now.Add(-4 * day)},
	}
	for i := range notes {
		if err := tx.PutGHLNote(&notes[i]); err != nil {
			return err
		}
	}
	return tx.PutGHLAppointment(&store.GHLAppointment{ID: "a-ann-1", ContactID: f.AnnID, Title: "Assessment",
		Status: "booked", StartTime: now.Add(3 * day), EndTime: now.Add(3*day + time.Hour), DateUpdated: now.Add(-day)})
}

// seedPTD writes the PTD clients (Ann, Carol, and Erin who has no HighLevel contact) and
// Ann's PTD task and note.
func seedPTD(tx *store.Tx, f *Fixture) error {
	now := Now()
	clients := []store.PTDClient{
		{ID: f.AnnClientID, Email: "ann@example.com", Phone: "+15550100001", FirstName: "Ann", LastName: "Archer-Smith",
			Tags: []string{"vip"}, Groups: []string{"g-online"}, Access: "online", UpdatedAt: now.Add(-3 * day)},
		{ID: f.CarolClientID, Email: "carol@example.org", FirstName: "Carol", LastName: "Cole",
			Tags: []string{"lead"}, Access: "print_only", UpdatedAt: now.Add(-4 * day)},
		{ID: "p-erin", Email: "erin@example.com", FirstName: "Erin", Access: "online", UpdatedAt: now.Add(-7 * day)},
	}
	for i := range clients {
		if err := tx.PutPTDClient(&clients[i]); err != nil {
			return err
		}
	}
	if err := tx.PutPTDTask(&store.PTDTask{ID: "pt-ann-1", ClientID: f.AnnClientID, Title: "Send meal plan",
		DueAt: now.Add(-day), UpdatedAt: now.Add(-2 * day)}); err != nil {
		return err
	}
	return tx.PutPTDNote(&store.PTDNote{ID: "pn-ann-1", ClientID: f.AnnClientID, Body: "Prefers morning sessions",
		CreatedAt: now.Add(-40 * day)})
}

// seedLinks links Ann (by email, with her overdue task and a base) and Carol (by phone), and
// sets f.AnnLinkID.
func seedLinks(tx *store.Tx, f *Fixture) error {
	now := Now()
	annLink := store.Link{Kind: store.KindContact, GHLID: f.AnnID, PTDID: f.AnnClientID, MatchedBy: "email"}
	if err := tx.PutLink(&annLink); err != nil {
		return err
	}
	f.AnnLinkID = annLink.ID
	if err := tx.PutLink(&store.Link{Kind: store.KindTask, GHLID: f.OverdueTaskID, PTDID: "pt-ann-1",
		ParentLinkID: annLink.ID, MatchedBy: "created"}); err != nil {
		return err
	}
	if err := tx.PutLink(&store.Link{Kind: store.KindContact, GHLID: f.CarolID, PTDID: f.CarolClientID, MatchedBy: "phone"}); err != nil {
		return err
	}
	return tx.PutBase(store.Base{LinkID: annLink.ID, AgreedAt: now.Add(-5 * day),
		Fields: map[string]string{"firstName": "Ann", "lastName": "Archer", "email": "ann@example.com", "tags": `["vip"]`}})
}

// seedWork writes what waits for the service or the operator, all on Ann's link: a live and
// a dead outbox entry (setting f.LiveSeq and f.DeadSeq), a conflict, two history entries; and
// a quarantined PTD client and Carol marked dirty.
func seedWork(tx *store.Tx, f *Fixture) error {
	now := Now()
	live := store.OutboxEntry{Target: store.SidePTD, Op: "contact.update", LinkID: f.AnnLinkID, RecordKind: store.KindContact,
		RecordID: f.AnnClientID, Payload: raw(map[string]string{"lastName": "Archer"}), IdempotencyKey: "k1", CreatedAt: now.Add(-10 * time.Minute)}
	dead := store.OutboxEntry{Target: store.SideGHL, Op: "tags.add", LinkID: f.AnnLinkID, RecordKind: store.KindContact,
		RecordID: f.AnnID, Payload: raw(map[string][]string{"tags": {"online"}}), IdempotencyKey: "k2", CreatedAt: now.Add(-2 * time.Hour)}
	for _, e := range []*store.OutboxEntry{&live, &dead} {
		if err := tx.Enqueue(e); err != nil {
			return err
		}
	}
	f.LiveSeq, f.DeadSeq = live.Seq, dead.Seq
	if _, err := tx.DeadLetter(dead.Seq, "422: tag name too long"); err != nil {
		return err
	}
	if err := tx.PutConflict(store.Conflict{LinkID: f.AnnLinkID, Field: "lastName", Base: "Archer", GHL: "Archer",
		PTD: "Archer-Smith", DetectedAt: now.Add(-time.Hour)}); err != nil {
		return err
	}
	for _, h := range []store.HistoryEntry{
		{At: now.Add(-5 * day), LinkID: f.AnnLinkID, Field: "email", Old: "", New: "ann@example.com", Direction: "ghl->ptd", Rule: "initial", Cycle: 1},
		{At: now.Add(-2 * day), LinkID: f.AnnLinkID, Field: "tags", Old: `["vip"]`, New: `["online","vip"]`, Direction: "ghl->ptd", Rule: "set", Cycle: 7},
	} {
		if err := tx.AppendHistory(&h); err != nil {
			return err
		}
	}
	if _, err := tx.QuarantineDelete(store.KindContact, store.SidePTD, "p-gone"); err != nil {
		return err
	}
	return tx.MarkDirty(f.CarolID, "webhook ContactUpdate")
}

// Big writes n synthetic contacts (1 in 10 tagged vip, 1 in 3 with an open task, half of
// those overdue) in transactions of 2,000 records, for benchmarks.
func Big(tb testing.TB, db *store.DB, n int) {
	tb.Helper()
	const batch = 2000
	now := Now()
	for start := 0; start < n; start += batch {
		err := db.Update(func(tx *store.Tx) error {
			for i := start; i < min(start+batch, n); i++ {
				tags := []string{"newsletter"}
				if i%10 == 0 {
					tags = append(tags, "vip")
				}
				c := store.GHLContact{ID: fmt.Sprintf("big-%07d", i), Email: fmt.Sprintf("user%d@example.com", i),
					Phone: fmt.Sprintf("+1555%07d", i), FirstName: fmt.Sprintf("First%d", i), LastName: "Last",
					Tags: tags, DateAdded: now.Add(-time.Duration(i) * time.Minute), DateUpdated: now.Add(-time.Duration(i) * time.Second)}
				c.Raw = raw(map[string]any{"id": c.ID, "email": c.Email, "firstName": c.FirstName, "tags": c.Tags,
					"city": "Springfield", "source": "import"})
				if err := tx.PutGHLContact(&c); err != nil {
					return err
				}
				if i%3 == 0 {
					due := now.Add(48 * time.Hour)
					if i%2 == 0 {
						due = now.Add(-48 * time.Hour)
					}
					if err := tx.PutGHLTask(&store.GHLTask{ID: fmt.Sprintf("bt-%07d", i), ContactID: c.ID,
						Title: "Follow up", DueDate: due}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("build big mirror: %v", err)
		}
	}
}
