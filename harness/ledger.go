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
	c := verifier{pairs: l.pairs, edits: edits, v: v, linkOf: map[string]string{}, ruled: map[string]bool{}, idx: indexEdits(edits)}
	c.out.Edits = len(edits)
	for _, lk := range v.Links {
		if lk.Kind == store.KindContact && lk.GHLID != "" {
			c.linkOf[lk.GHLID] = lk.ID
		}
	}
	for _, h := range v.History {
		if conflictRules()[h.Rule] {
			c.ruled[h.LinkID+"\x00"+h.Field+"\x00"+strings.TrimSpace(h.New)] = true
		}
	}
	for _, k := range c.idx.sortedKeys() {
		c.checkLast(k)
	}
	c.checkCreates()
	c.checkTasks()
	return c.out
}

// editKey names what an edit changed: a pair's field, or one harness tag of it ("tag:" and
// the tag).
type editKey struct {
	pair  int
	field string
}

// editIndex is the ledger's edits as Verify reads them: the last of each field or tag (the
// one that must hold), each side's last of each field (the one a conflict rule may have
// chosen instead), and the creates of records and of tasks in Seq order.
type editIndex struct {
	last       map[editKey]Edit
	lastBySide map[editKey]map[string]Edit
	creates    []Edit
	tasks      []Edit
}

// indexEdits reads edits in Seq order, so a later edit of a key replaces an earlier one.
func indexEdits(edits []Edit) editIndex {
	x := editIndex{last: map[editKey]Edit{}, lastBySide: map[editKey]map[string]Edit{}}
	for _, e := range edits {
		switch e.Kind {
		case KindField:
			k := editKey{e.Pair, e.Field}
			x.last[k] = e
			if x.lastBySide[k] == nil {
				x.lastBySide[k] = map[string]Edit{}
			}
			x.lastBySide[k][e.Side] = e
		case KindTagAdd, KindTagRemove:
			x.last[editKey{e.Pair, "tag:" + e.Value}] = e
		case KindCreate:
			x.creates = append(x.creates, e)
		case KindCreateTask:
			x.tasks = append(x.tasks, e)
		}
	}
	return x
}

// sortedKeys returns the keys of the last edits by pair, then field: the verdict's lines
// come out in the same order whatever the map's.
func (x editIndex) sortedKeys() []editKey {
	keys := make([]editKey, 0, len(x.last))
	for k := range x.last {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].pair != keys[j].pair {
			return keys[i].pair < keys[j].pair
		}
		return keys[i].field < keys[j].field
	})
	return keys
}

// verifier holds what Verify reads while it fills out.
type verifier struct {
	pairs  []Pair
	edits  []Edit
	v      Views
	linkOf map[string]string // HighLevel contact id -> its contact link id
	ruled  map[string]bool   // link \x00 field \x00 value chosen by a conflict rule
	idx    editIndex
	out    Verdict
}

// checkLast decides whether the last edit of k holds on both sides. A pair whose record is
// gone loses it; a tag must be present on both sides iff its last edit was an add; a field
// must hold the edit's value on both, or the other side's last value when history shows a
// conflict rule chose it (ByRule), or, for a HighLevel edit, the journal must prove the
// API's race (Raced). Anything else is lost, printed with its timeline.
func (c *verifier) checkLast(k editKey) {
	e := c.idx.last[k]
	p := c.pairs[k.pair]
	gc, okG := c.v.GHL.Contact(p.GHLID)
	pc, okP := c.v.PTD.Client(p.PTDID)
	if !okG || !okP {
		c.out.Lost = append(c.out.Lost, fmt.Sprintf("pair %s: record gone (ghl %v, ptd %v)", p.Email, okG, okP))
		return
	}
	if tag, ok := strings.CutPrefix(k.field, "tag:"); ok {
		want := e.Kind == KindTagAdd
		inG, inP := hasTag(gc.Tags, tag), hasTag(pc.Tags, tag)
		if inG != want || inP != want {
			c.out.Lost = append(c.out.Lost, fmt.Sprintf("pair %s: tag %q last %s on %s (edit %d), now ghl %v ptd %v", p.Email, tag, e.Kind, e.Side, e.Seq, inG, inP)+
				timeline(c.edits, c.v.History, k.pair, c.linkOf[p.GHLID], "tags", tag))
		}
		return
	}
	gv, pv := fieldOf(k.field, gc.FirstName, gc.LastName), fieldOf(k.field, pc.FirstName, pc.LastName)
	if gv == e.Value && pv == e.Value {
		return
	}
	other := SidePTD
	if e.Side == SidePTD {
		other = SideGHL
	}
	if o, ok := c.idx.lastBySide[k][other]; ok && gv == o.Value && pv == o.Value && c.ruled[c.linkOf[p.GHLID]+"\x00"+k.field+"\x00"+o.Value] {
		c.out.ByRule++
		return
	}
	if e.Side == SideGHL {
		if why, ok := racedByUpdate(c.v.Journal, p.GHLID, k.field, e.Value); ok {
			c.out.Raced = append(c.out.Raced, fmt.Sprintf("pair %s: %s set to %q on ghl (edit %d): %s", p.Email, k.field, e.Value, e.Seq, why))
			return
		}
	}
	c.out.Lost = append(c.out.Lost, fmt.Sprintf("pair %s: %s last set to %q on %s (edit %d), now ghl %q ptd %q", p.Email, k.field, e.Value, e.Side, e.Seq, gv, pv)+
		timeline(c.edits, c.v.History, k.pair, c.linkOf[p.GHLID], k.field, ""))
}

// checkCreates decides, for each created contact or client, by its normalized email: held
// by no record on a side is lost, by more than one on a side is duplicated.
func (c *verifier) checkCreates() {
	ghlByEmail, ptdByEmail := map[string]int{}, map[string]int{}
	for _, r := range c.v.GHL.Contacts() {
		ghlByEmail[normEmail(r.Email)]++
	}
	for _, r := range c.v.PTD.Clients() {
		ptdByEmail[normEmail(r.Email)]++
	}
	for _, e := range c.idx.creates {
		em := normEmail(e.Value)
		g, p := ghlByEmail[em], ptdByEmail[em]
		switch {
		case g == 0 || p == 0:
			c.out.Lost = append(c.out.Lost, fmt.Sprintf("created on %s: %s (edit %d) held by ghl %d, ptd %d records", e.Side, em, e.Seq, g, p))
		case g > 1 || p > 1:
			c.out.Duplicated = append(c.out.Duplicated, fmt.Sprintf("created on %s: %s (edit %d) held by ghl %d, ptd %d records", e.Side, em, e.Seq, g, p))
		}
	}
}

// checkTasks decides, for each created task, by its title under the pair's two records:
// missing on a side is lost, more than once on a side is duplicated.
func (c *verifier) checkTasks() {
	for _, e := range c.idx.tasks {
		p := c.pairs[e.Pair]
		g, q := 0, 0
		for _, t := range c.v.GHL.Tasks(p.GHLID) {
			if strings.TrimSpace(t.Title) == e.Value {
				g++
			}
		}
		for _, t := range c.v.PTD.Tasks(p.PTDID) {
			if strings.TrimSpace(t.Title) == e.Value {
				q++
			}
		}
		switch {
		case g == 0 || q == 0:
			c.out.Lost = append(c.out.Lost, fmt.Sprintf("task %q created on %s for %s (edit %d): ghl %d, ptd %d", e.Value, e.Side, p.Email, e.Seq, g, q))
		case g > 1 || q > 1:
			c.out.Duplicated = append(c.out.Duplicated, fmt.Sprintf("task %q created on %s for %s (edit %d): ghl %d, ptd %d", e.Value, e.Side, p.Email, e.Seq, g, q))
		}
	}
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
