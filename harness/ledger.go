package harness

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"ptsync/sim/ghlsim"
	"ptsync/store"
)

// Sides of an edit.
const (
	SideGHL = "ghl"
	SidePTD = "ptd"
)

// Edit kinds the churn makes and the ledger checks.
const (
	KindField      = "field"      // a two-way scalar field set to Value
	KindTagAdd     = "tag-add"    // tag Value added
	KindTagRemove  = "tag-remove" // tag Value removed
	KindTouch      = "touch"      // an unmapped field edited (moves the record's timestamp only)
	KindCreate     = "create"     // a contact/client created with email Value
	KindCreateTask = "create-task"
)

// Pair is a HighLevel contact and the PTD client it is linked to, found by email once the
// first sync converged.
type Pair struct {
	GHLID, PTDID, Email string
}

// Edit is one change the churn made, recorded only after the simulator accepted it. Seq
// orders edits across both sides exactly (one churn goroutine makes them).
type Edit struct {
	Seq   int
	At    time.Time
	Side  string
	Kind  string
	Pair  int // index into Ledger pairs; -1 for creates of new records
	Field string
	Value string
}

// Ledger records every edit. Record is safe for concurrent use; Verify reads a consistent copy.
type Ledger struct {
	mu    sync.Mutex
	pairs []Pair
	edits []Edit
}

// NewLedger returns a ledger over the given pairs.
func NewLedger(pairs []Pair) *Ledger { return &Ledger{pairs: slices.Clone(pairs)} }

// Record appends e, assigning its Seq (and At if zero), and returns it.
func (l *Ledger) Record(e Edit) Edit {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Seq = len(l.edits) + 1
	if e.At.IsZero() {
		e.At = time.Now()
	}
	l.edits = append(l.edits, e)
	return e
}

// Edits returns a copy of the edits in Seq order.
func (l *Ledger) Edits() []Edit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.edits)
}

// Verdict is what Verify found. Lost and Duplicated list one line per problem.
type Verdict struct {
	Edits  int // edits checked
	ByRule int // edits overridden by the configured conflict rule (history shows the rule)
	// Raced lists HighLevel edits overwritten inside the pusher's read-then-write round trip,
	// as the simulator's journal proves (see racedByUpdate); they are not counted as lost.
	Raced      []string
	Lost       []string
	Duplicated []string
}

// Views are the two sides as Verify reads them.
type Views struct {
	GHL *GHLSnapshot
	PTD *PTDSnapshot
	// Links and History come from the mirror after the service stopped; without them an edit
	// overridden by a conflict rule cannot be told from a lost one and counts as lost.
	Links   []store.Link
	History []store.HistoryEntry
	// Journal is the HighLevel simulator's journal of contact reads and updates; without it no
	// lost HighLevel edit can be shown to be the API's race, and every one counts as lost.
	Journal []ghlsim.JournalEntry
}

// conflictRules are the history rules by which a later edit may lose to an earlier one.
func conflictRules() map[string]bool {
	return map[string]bool{"newest": true, "ghl": true, "ptd": true}
}

// Verify checks every recorded edit against the final state of both sides:
//   - a field's last edit (by Seq) holds on both sides, unless history shows a conflict rule
//     chose the other side's last value for that link and field (counted in ByRule);
//   - a harness tag is on both sides iff its last edit was an add;
//   - each created contact/client exists exactly once on each side (by email), each created
//     task exactly once under the pair on each side (by title).
func (l *Ledger) Verify(v Views) Verdict {
	edits := l.Edits()
	var out Verdict
	out.Edits = len(edits)
	linkOf := map[string]string{}
	for _, lk := range v.Links {
		if lk.Kind == store.KindContact && lk.GHLID != "" {
			linkOf[lk.GHLID] = lk.ID
		}
	}
	ruled := map[string]bool{} // link \x00 field \x00 value chosen by a conflict rule
	for _, h := range v.History {
		if conflictRules()[h.Rule] {
			ruled[h.LinkID+"\x00"+h.Field+"\x00"+strings.TrimSpace(h.New)] = true
		}
	}
	type key struct {
		pair  int
		field string
	}
	last := map[key]Edit{}                  // last edit of a field or tag (either side)
	lastBySide := map[key]map[string]Edit{} // last edit of a field per side
	var creates, tasks []Edit
	for _, e := range edits {
		switch e.Kind {
		case KindField:
			k := key{e.Pair, e.Field}
			last[k] = e
			if lastBySide[k] == nil {
				lastBySide[k] = map[string]Edit{}
			}
			lastBySide[k][e.Side] = e
		case KindTagAdd, KindTagRemove:
			last[key{e.Pair, "tag:" + e.Value}] = e
		case KindCreate:
			creates = append(creates, e)
		case KindCreateTask:
			tasks = append(tasks, e)
		}
	}
	keys := make([]key, 0, len(last))
	for k := range last {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].pair != keys[j].pair {
			return keys[i].pair < keys[j].pair
		}
		return keys[i].field < keys[j].field
	})
	for _, k := range keys {
		e := last[k]
		p := l.pairs[k.pair]
		gc, okG := v.GHL.Contact(p.GHLID)
		pc, okP := v.PTD.Client(p.PTDID)
		if !okG || !okP {
			out.Lost = append(out.Lost, fmt.Sprintf("pair %s: record gone (ghl %v, ptd %v)", p.Email, okG, okP))
			continue
		}
		if tag, ok := strings.CutPrefix(k.field, "tag:"); ok {
			want := e.Kind == KindTagAdd
			inG, inP := hasTag(gc.Tags, tag), hasTag(pc.Tags, tag)
			if inG != want || inP != want {
				out.Lost = append(out.Lost, fmt.Sprintf("pair %s: tag %q last %s on %s (edit %d), now ghl %v ptd %v", p.Email, tag, e.Kind, e.Side, e.Seq, inG, inP)+
					timeline(edits, v.History, k.pair, linkOf[p.GHLID], "tags", tag))
			}
			continue
		}
		gv, pv := fieldOf(k.field, gc.FirstName, gc.LastName), fieldOf(k.field, pc.FirstName, pc.LastName)
		if gv == e.Value && pv == e.Value {
			continue
		}
		other := SidePTD
		if e.Side == SidePTD {
			other = SideGHL
		}
		if o, ok := lastBySide[k][other]; ok && gv == o.Value && pv == o.Value && ruled[linkOf[p.GHLID]+"\x00"+k.field+"\x00"+o.Value] {
			out.ByRule++
			continue
		}
		if e.Side == SideGHL {
			if why, ok := racedByUpdate(v.Journal, p.GHLID, k.field, e.Value); ok {
				out.Raced = append(out.Raced, fmt.Sprintf("pair %s: %s set to %q on ghl (edit %d): %s", p.Email, k.field, e.Value, e.Seq, why))
				continue
			}
		}
		out.Lost = append(out.Lost, fmt.Sprintf("pair %s: %s last set to %q on %s (edit %d), now ghl %q ptd %q", p.Email, k.field, e.Value, e.Side, e.Seq, gv, pv)+
			timeline(edits, v.History, k.pair, linkOf[p.GHLID], k.field, ""))
	}
	ghlByEmail, ptdByEmail := map[string]int{}, map[string]int{}
	for _, c := range v.GHL.Contacts() {
		ghlByEmail[normEmail(c.Email)]++
	}
	for _, c := range v.PTD.Clients() {
		ptdByEmail[normEmail(c.Email)]++
	}
	for _, e := range creates {
		em := normEmail(e.Value)
		g, p := ghlByEmail[em], ptdByEmail[em]
		switch {
		case g == 0 || p == 0:
			out.Lost = append(out.Lost, fmt.Sprintf("created on %s: %s (edit %d) held by ghl %d, ptd %d records", e.Side, em, e.Seq, g, p))
		case g > 1 || p > 1:
			out.Duplicated = append(out.Duplicated, fmt.Sprintf("created on %s: %s (edit %d) held by ghl %d, ptd %d records", e.Side, em, e.Seq, g, p))
		}
	}
	for _, e := range tasks {
		p := l.pairs[e.Pair]
		g, q := 0, 0
		for _, t := range v.GHL.Tasks(p.GHLID) {
			if strings.TrimSpace(t.Title) == e.Value {
				g++
			}
		}
		for _, t := range v.PTD.Tasks(p.PTDID) {
			if strings.TrimSpace(t.Title) == e.Value {
				q++
			}
		}
		switch {
		case g == 0 || q == 0:
			out.Lost = append(out.Lost, fmt.Sprintf("task %q created on %s for %s (edit %d): ghl %d, ptd %d", e.Value, e.Side, p.Email, e.Seq, g, q))
		case g > 1 || q > 1:
			out.Duplicated = append(out.Duplicated, fmt.Sprintf("task %q created on %s for %s (edit %d): ghl %d, ptd %d", e.Value, e.Side, p.Email, e.Seq, g, q))
		}
	}
	return out
}

// raceWindow bounds the read-then-write round trip racedByUpdate accepts: the soak's
// HighLevel latency is at most 500 ms per request.
const raceWindow = 2 * time.Second

// racedByUpdate reports whether the journal shows a user's HighLevel edit of field (to value)
// overwritten by the API race HighLevel's lack of a conditional update leaves open: the
// first API update of that field after the edit came straight after an API read of the
// contact (nothing else through the API in between, within raceWindow) that preceded the
// edit. The pusher re-reads right before each PUT; an edit landing between the two cannot be
// seen. Any other overwrite is not a race and stays lost.
func racedByUpdate(journal []ghlsim.JournalEntry, contactID, field, value string) (string, bool) {
	var mine []ghlsim.JournalEntry
	for _, j := range journal {
		if j.Contact == contactID {
			mine = append(mine, j)
		}
	}
	edit := -1
	for i, j := range mine {
		if j.Source == ghlsim.JournalControl && j.Op == ghlsim.JournalUpdate && j.Set[field] == value {
			edit = i
		}
	}
	if edit < 0 {
		return "", false
	}
	for i := edit + 1; i < len(mine); i++ {
		put := mine[i]
		if put.Source != ghlsim.JournalAPI || put.Op != ghlsim.JournalUpdate {
			continue
		}
		if _, ok := put.Set[field]; !ok {
			continue
		}
		for r := i - 1; r >= 0; r-- {
			read := mine[r]
			if read.Source != ghlsim.JournalAPI {
				continue
			}
			if read.Op == ghlsim.JournalGet && r < edit && put.At.Sub(read.At) <= raceWindow {
				return fmt.Sprintf("the pusher read the contact at %s, the edit landed at %s, its PUT of %q at %s (HighLevel has no conditional update)",
					read.At.UTC().Format("15:04:05.000"), mine[edit].At.UTC().Format("15:04:05.000"), put.Set[field], put.At.UTC().Format("15:04:05.000")), true
			}
			break
		}
		return "", false
	}
	return "", false
}

// timeline renders, for a lost edit, the last few edits the churn made to that field (or
// tag) of the pair and the last few decisions the mirror's history holds for it, oldest
// first, one indented line each: what a reader needs to tell which step lost it.
func timeline(edits []Edit, hist []store.HistoryEntry, pair int, linkID, field, tag string) string {
	const keep = 5
	var lines []string
	for _, e := range edits {
		switch {
		case e.Pair != pair:
		case tag == "" && e.Kind == KindField && e.Field == field,
			tag != "" && (e.Kind == KindTagAdd || e.Kind == KindTagRemove) && e.Value == tag:
			lines = append(lines, fmt.Sprintf("\n    %s edit %d on %s: %s %s", e.At.UTC().Format("15:04:05.000"), e.Seq, e.Side, e.Kind, e.Value))
		}
	}
	lines = lines[max(0, len(lines)-keep):]
	var hs []string
	for _, h := range hist {
		if h.LinkID != linkID || h.Field != field || tag != "" && !strings.Contains(h.Old+h.New, `"`+tag+`"`) {
			continue
		}
		hs = append(hs, fmt.Sprintf("\n    %s cycle %d history: %s -> %s (%s, %s)", h.At.UTC().Format("15:04:05.000"), h.Cycle, h.Old, h.New, h.Direction, h.Rule))
	}
	lines = append(lines, hs[max(0, len(hs)-keep):]...)
	sort.SliceStable(lines, func(i, j int) bool { return lines[i][5:17] < lines[j][5:17] })
	return strings.Join(lines, "")
}

func fieldOf(field, first, last string) string {
	switch field {
	case "firstName":
		return strings.Join(strings.Fields(first), " ")
	case "lastName":
		return strings.Join(strings.Fields(last), " ")
	}
	return ""
}

func hasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if strings.EqualFold(strings.TrimSpace(t), tag) {
			return true
		}
	}
	return false
}

func normEmail(e string) string { return strings.ToLower(strings.Join(strings.Fields(e), "")) }
