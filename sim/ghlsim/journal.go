package ghlsim

import (
	"sync"
	"time"

	"ptsync/apiclient/ghlwire"
)

// Journal sources and operations.
const (
	JournalAPI     = "api"     // through the HighLevel API routes
	JournalControl = "control" // through the Go control API or /_sim/
	JournalGet     = "get"     // GET /contacts/{id}
	JournalUpdate  = "update"  // PUT /contacts/{id} or the control surface's update
)

// JournalEntry is one read or update of a contact, in the order the simulator applied them
// (Seq). The journal lets a test tell a write that overwrote a concurrent edit because
// HighLevel has no conditional update (the writer read, someone edited, then the write
// landed) from a write that lost an edit on its own.
type JournalEntry struct {
	Seq     uint64    `json:"seq"`
	At      time.Time `json:"at"`
	Contact string    `json:"contact"`
	Source  string    `json:"source"`
	Op      string    `json:"op"`
	// Set holds the scalar fields an update set (firstName, lastName, email, phone, city), by
	// their wire names.
	Set map[string]string `json:"set,omitempty"`
}

// journalMax bounds the journal; past it the oldest half is dropped.
const journalMax = 200_000

type journal struct {
	mu      sync.Mutex
	seq     uint64
	entries []JournalEntry
}

func (j *journal) add(e JournalEntry) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	e.Seq = j.seq
	if len(j.entries) >= journalMax {
		j.entries = append(j.entries[:0], j.entries[len(j.entries)/2:]...)
	}
	j.entries = append(j.entries, e)
}

func (j *journal) all() []JournalEntry {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]JournalEntry(nil), j.entries...)
}

// journalSet names the scalar fields in sets.
func journalSet(in ghlwire.ContactInput) map[string]string {
	out := map[string]string{}
	for name, v := range map[string]*string{"firstName": in.FirstName, "lastName": in.LastName, "email": in.Email, "phone": in.Phone, "city": in.City} {
		if v != nil {
			out[name] = *v
		}
	}
	return out
}

// Journal returns every contact read and update the journal holds, oldest first.
func (s *Server) Journal() []JournalEntry { return s.jrn.all() }
