package harness

import (
	"strings"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptdwire"
	"ptsync/sim/ghlsim"
	"ptsync/store"
)

func snapshots(g ghlwire.Contact, p ptdwire.Client, gt []ghlwire.Task, pt []ptdwire.Task, extraG []ghlwire.Contact, extraP []ptdwire.Client) (*GHLSnapshot, *PTDSnapshot) {
	gs := &GHLSnapshot{byID: map[string]int{}, tasks: map[string][]ghlwire.Task{g.ID: gt}, notes: map[string][]ghlwire.Note{}}
	for _, c := range append([]ghlwire.Contact{g}, extraG...) {
		gs.byID[c.ID] = len(gs.contacts)
		gs.contacts = append(gs.contacts, c)
	}
	ps := &PTDSnapshot{byID: map[string]int{}, tasks: map[string][]ptdwire.Task{p.ID: pt}, notes: map[string][]ptdwire.Note{}}
	for _, c := range append([]ptdwire.Client{p}, extraP...) {
		ps.byID[c.ID] = len(ps.clients)
		ps.clients = append(ps.clients, c)
	}
	return gs, ps
}

func TestLedgerVerify(t *testing.T) {
	pair := Pair{GHLID: "g1", PTDID: "p1", Email: "a@x.example"}
	link := store.Link{ID: "L1", Kind: store.KindContact, GHLID: "g1", PTDID: "p1"}
	g := func(first string, tags ...string) ghlwire.Contact {
		return ghlwire.Contact{ID: "g1", Email: "a@x.example", FirstName: first, Tags: tags}
	}
	p := func(first string, tags ...string) ptdwire.Client {
		return ptdwire.Client{ID: "p1", Email: "A@x.example ", FirstName: first, Tags: tags}
	}
	field := func(side, v string) Edit {
		return Edit{Side: side, Kind: KindField, Pair: 0, Field: "firstName", Value: v}
	}
	tests := []struct {
		name             string
		edits            []Edit
		g                ghlwire.Contact
		p                ptdwire.Client
		gt               []ghlwire.Task
		pt               []ptdwire.Task
		extraG           []ghlwire.Contact
		extraP           []ptdwire.Client
		history          []store.HistoryEntry
		lost, dup, ruled int
	}{
		{name: "last edit on both sides", edits: []Edit{field(SideGHL, "G1"), field(SidePTD, "P2")}, g: g("P2"), p: p("P2")},
		{name: "last edit missing on one side", edits: []Edit{field(SideGHL, "G1")}, g: g("G1"), p: p("Old"), lost: 1},
		{name: "older value won without a rule", edits: []Edit{field(SidePTD, "P1"), field(SideGHL, "G2")}, g: g("P1"), p: p("P1"), lost: 1},
		{name: "older value won by the newest rule", edits: []Edit{field(SidePTD, "P1"), field(SideGHL, "G2")}, g: g("P1"), p: p("P1"),
			history: []store.HistoryEntry{{LinkID: "L1", Field: "firstName", New: "P1", Rule: "newest"}}, ruled: 1},
		{name: "a value nobody set", edits: []Edit{field(SidePTD, "P1"), field(SideGHL, "G2")}, g: g("X"), p: p("X"),
			history: []store.HistoryEntry{{LinkID: "L1", Field: "firstName", New: "X", Rule: "newest"}}, lost: 1},
		{name: "tag added reaches both", edits: []Edit{{Side: SideGHL, Kind: KindTagAdd, Field: "tags", Value: "hg1"}}, g: g("", "HG1"), p: p("", "hg1")},
		{name: "tag added missing on ptd", edits: []Edit{{Side: SideGHL, Kind: KindTagAdd, Field: "tags", Value: "hg1"}}, g: g("", "hg1"), p: p(""), lost: 1},
		{name: "tag removed but back", edits: []Edit{{Side: SidePTD, Kind: KindTagAdd, Field: "tags", Value: "hp1"}, {Side: SidePTD, Kind: KindTagRemove, Field: "tags", Value: "hp1"}},
			g: g("", "hp1"), p: p(""), lost: 1},
		{name: "created contact on both once", edits: []Edit{{Side: SideGHL, Kind: KindCreate, Pair: -1, Value: "n@x.example"}}, g: g(""), p: p(""),
			extraG: []ghlwire.Contact{{ID: "g2", Email: "n@x.example"}}, extraP: []ptdwire.Client{{ID: "p2", Email: "N@x.example"}}},
		{name: "created contact never reached ptd", edits: []Edit{{Side: SideGHL, Kind: KindCreate, Pair: -1, Value: "n@x.example"}}, g: g(""), p: p(""),
			extraG: []ghlwire.Contact{{ID: "g2", Email: "n@x.example"}}, lost: 1},
		{name: "created client duplicated", edits: []Edit{{Side: SidePTD, Kind: KindCreate, Pair: -1, Value: "n@x.example"}}, g: g(""), p: p(""),
			extraG: []ghlwire.Contact{{ID: "g2", Email: "n@x.example"}, {ID: "g3", Email: "n@x.example"}}, extraP: []ptdwire.Client{{ID: "p2", Email: "n@x.example"}}, dup: 1},
		{name: "task once on both", edits: []Edit{{Side: SidePTD, Kind: KindCreateTask, Value: "pt1"}}, g: g(""), p: p(""),
			gt: []ghlwire.Task{{ID: "t1", Title: "pt1"}}, pt: []ptdwire.Task{{ID: "u1", Title: "pt1"}}},
		{name: "task twice in highlevel", edits: []Edit{{Side: SidePTD, Kind: KindCreateTask, Value: "pt1"}}, g: g(""), p: p(""),
			gt: []ghlwire.Task{{ID: "t1", Title: "pt1"}, {ID: "t2", Title: "pt1"}}, pt: []ptdwire.Task{{ID: "u1", Title: "pt1"}}, dup: 1},
		{name: "task never reached highlevel", edits: []Edit{{Side: SidePTD, Kind: KindCreateTask, Value: "pt1"}}, g: g(""), p: p(""),
			pt: []ptdwire.Task{{ID: "u1", Title: "pt1"}}, lost: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLedger([]Pair{pair})
			for _, e := range tc.edits {
				l.Record(e)
			}
			gs, ps := snapshots(tc.g, tc.p, tc.gt, tc.pt, tc.extraG, tc.extraP)
			v := l.Verify(Views{GHL: gs, PTD: ps, Links: []store.Link{link}, History: tc.history})
			if len(v.Lost) != tc.lost || len(v.Duplicated) != tc.dup || v.ByRule != tc.ruled {
				t.Fatalf("lost %d dup %d by rule %d, want %d %d %d\nlost: %q\ndup: %q", len(v.Lost), len(v.Duplicated), v.ByRule, tc.lost, tc.dup, tc.ruled, v.Lost, v.Duplicated)
			}
			if v.Edits != len(tc.edits) {
				t.Fatalf("checked %d edits, want %d", v.Edits, len(tc.edits))
			}
		})
	}
}

func TestParseMetrics(t *testing.T) {
	m := ParseMetrics([]byte("# HELP x\nptsync_breaker_transitions_total{state=\"open\",upstream=\"ghl\"} 2\nptsync_breaker_transitions_total{state=\"closed\",upstream=\"ghl\"} 1\nptsync_outbox_entries{target=\"ptd\"} 0\n"))
	tests := []struct {
		name  string
		got   float64
		wantV float64
	}{
		{"open transitions", SumMetric(m, "ptsync_breaker_transitions_total", `state="open"`), 2},
		{"all transitions", SumMetric(m, "ptsync_breaker_transitions_total"), 3},
		{"outbox", SumMetric(m, "ptsync_outbox_entries"), 0},
		{"absent metric", SumMetric(m, "ptsync_nope"), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.wantV {
				t.Fatalf("%v, want %v", tc.got, tc.wantV)
			}
		})
	}
}

// A lost edit's line carries its timeline: the churn's edits of that field and the mirror's
// decisions about it, so a failing run explains itself.
func TestLostEditShowsItsTimeline(t *testing.T) {
	pair := Pair{GHLID: "g1", PTDID: "p1", Email: "a@x.example"}
	l := NewLedger([]Pair{pair})
	l.Record(Edit{Side: SidePTD, Kind: KindField, Field: "firstName", Value: "P1"})
	l.Record(Edit{Side: SidePTD, Kind: KindField, Field: "lastName", Value: "L2"})
	l.Record(Edit{Side: SidePTD, Kind: KindField, Field: "firstName", Value: "P3"})
	gs, ps := snapshots(ghlwire.Contact{ID: "g1", Email: "a@x.example", FirstName: "P1", LastName: "L2"}, ptdwire.Client{ID: "p1", Email: "a@x.example", FirstName: "P1", LastName: "L2"}, nil, nil, nil, nil)
	v := l.Verify(Views{GHL: gs, PTD: ps, Links: []store.Link{{ID: "L1", Kind: store.KindContact, GHLID: "g1", PTDID: "p1"}},
		History: []store.HistoryEntry{{LinkID: "L1", Field: "firstName", Old: "P3", New: "P1", Direction: "ghl->ptd", Rule: "only-ghl-changed", Cycle: 7}}})
	if len(v.Lost) != 1 {
		t.Fatalf("lost %q, want one", v.Lost)
	}
	for _, want := range []string{"edit 1 on ptd: field P1", "edit 3 on ptd: field P3", "cycle 7 history: P3 -> P1 (ghl->ptd, only-ghl-changed)"} {
		if !strings.Contains(v.Lost[0], want) {
			t.Errorf("lost line lacks %q:\n%s", want, v.Lost[0])
		}
	}
	if strings.Contains(v.Lost[0], "L2") {
		t.Errorf("lost line shows another field's edit:\n%s", v.Lost[0])
	}
}

// A HighLevel edit overwritten by a PUT whose guarding read came before it (the round trip
// HighLevel's lack of a conditional update leaves open) is reported as raced with its proof;
// every other overwrite stays lost.
func TestRacedOnlyWhenTheJournalProvesTheRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	get := func(ms int) ghlsim.JournalEntry {
		return ghlsim.JournalEntry{At: at(ms), Contact: "g1", Source: ghlsim.JournalAPI, Op: ghlsim.JournalGet}
	}
	put := func(ms int, v string) ghlsim.JournalEntry {
		return ghlsim.JournalEntry{At: at(ms), Contact: "g1", Source: ghlsim.JournalAPI, Op: ghlsim.JournalUpdate, Set: map[string]string{"firstName": v}}
	}
	user := func(ms int) ghlsim.JournalEntry {
		return ghlsim.JournalEntry{At: at(ms), Contact: "g1", Source: ghlsim.JournalControl, Op: ghlsim.JournalUpdate, Set: map[string]string{"firstName": "G2"}}
	}
	other := ghlsim.JournalEntry{At: at(200), Contact: "g1", Source: ghlsim.JournalAPI, Op: ghlsim.JournalUpdate, Set: map[string]string{"city": "X"}}
	tests := []struct {
		name    string
		journal []ghlsim.JournalEntry
		raced   bool
	}{
		{"edit between the read and the put", []ghlsim.JournalEntry{get(0), user(100), put(300, "P1")}, true},
		{"no journal", nil, false},
		{"read after the edit, put overwrote anyway", []ghlsim.JournalEntry{user(0), get(100), put(300, "P1")}, false},
		{"put long after its read", []ghlsim.JournalEntry{get(0), user(100), put(2500, "P1")}, false},
		{"another api call between read and put", []ghlsim.JournalEntry{get(0), user(100), other, put(300, "P1")}, false},
		{"unguarded put", []ghlsim.JournalEntry{user(100), put(300, "P1")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLedger([]Pair{{GHLID: "g1", PTDID: "p1", Email: "a@x.example"}})
			l.Record(Edit{Side: SidePTD, Kind: KindField, Field: "firstName", Value: "P1"})
			l.Record(Edit{Side: SideGHL, Kind: KindField, Field: "firstName", Value: "G2"})
			gs, ps := snapshots(ghlwire.Contact{ID: "g1", Email: "a@x.example", FirstName: "P1"}, ptdwire.Client{ID: "p1", Email: "a@x.example", FirstName: "P1"}, nil, nil, nil, nil)
			v := l.Verify(Views{GHL: gs, PTD: ps, Journal: tc.journal})
			if got := len(v.Raced) == 1 && len(v.Lost) == 0; got != tc.raced || len(v.Raced)+len(v.Lost) != 1 {
				t.Fatalf("raced %q lost %q; want raced=%v", v.Raced, v.Lost, tc.raced)
			}
		})
	}
}
