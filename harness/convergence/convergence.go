// Package convergence checks, against the two simulators, that a sync has converged: every
// linked pair agrees on every two-way field, linked tasks and notes agree, every record is
// linked at most once and neither side holds two records of one person. Scenario tests and the
// reliability harness share it.
package convergence

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptdwire"
	"ptsync/config"
	"ptsync/diff"
	"ptsync/replicator/reconcile/mapping"
	"ptsync/sim/ghlsim"
	"ptsync/sim/ptdsim"
	"ptsync/store"
)

// GHLView is the read side of the HighLevel simulator that Check needs: *ghlsim.Server, or a
// snapshot of it taken over HTTP by a harness running the simulator in another process.
type GHLView interface {
	Contacts() []ghlwire.Contact
	Contact(id string) (ghlwire.Contact, bool)
	Tasks(contactID string) []ghlwire.Task
	Notes(contactID string) []ghlwire.Note
}

// PTDView is the read side of the PT Distinction simulator that Check needs: *ptdsim.Sim or a
// snapshot of it.
type PTDView interface {
	Clients() []ptdwire.Client
	Client(id string) (ptdwire.Client, bool)
	Tasks(clientID string) []ptdwire.Task
	Notes(clientID string) []ptdwire.Note
}

var (
	_ GHLView = (*ghlsim.Server)(nil)
	_ PTDView = (*ptdsim.Sim)(nil)
)

// Mismatch is one field on which a linked pair disagrees (values normalized).
type Mismatch struct {
	LinkID string
	Kind   string // contact, task, note
	Field  string
	GHL    string
	PTD    string
}

// Report is the outcome of Check.
type Report struct {
	Pairs int // contact links with both records present on the simulators
	Tasks int // task links checked
	Notes int // note links checked
	// Held counts fields that differ while an open conflict waits for the operator (a manual
	// rule, or a value HighLevel refused as a duplicate); they are not mismatches.
	Held       int
	Mismatches []Mismatch
	// Problems lists structural faults: a record linked twice, a link to a record the
	// simulator no longer has, two records of one email on one side.
	Problems []string
}

// OK reports whether nothing disagrees.
func (r Report) OK() bool { return len(r.Mismatches) == 0 && len(r.Problems) == 0 }

// String summarizes the report with up to 10 details.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d pairs, %d tasks, %d notes, %d held by conflicts, %d mismatches, %d problems", r.Pairs, r.Tasks, r.Notes, r.Held, len(r.Mismatches), len(r.Problems))
	for i, m := range r.Mismatches {
		if i == 10 {
			break
		}
		fmt.Fprintf(&b, "\n  %s %s %s: ghl %q ptd %q", m.Kind, m.LinkID, m.Field, m.GHL, m.PTD)
	}
	for i, p := range r.Problems {
		if i == 10 {
			break
		}
		fmt.Fprintf(&b, "\n  %s", p)
	}
	return b.String()
}

func fields(v any) map[string]json.RawMessage {
	b, _ := json.Marshal(v)
	m := map[string]json.RawMessage{}
	_ = json.Unmarshal(b, &m)
	return m
}

func norm(spec diff.FieldSpec, raw json.RawMessage, loc diff.Locale) string {
	if spec.Set {
		var items []string
		_ = json.Unmarshal(raw, &items)
		t := diff.Tags(items)
		for i := range t {
			t[i] = strings.ToLower(t[i])
		}
		return strings.Join(t, ",")
	}
	var s string
	if len(raw) > 0 && json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	n, err := spec.Normalizer.Apply(s, loc)
	if err != nil {
		return "invalid:" + s
	}
	return n
}

// Check reads the links from db and compares the simulators' current records. Only two-way
// fields are compared (one-way fields may legitimately differ while their source is empty).
// g and p are usually the simulators themselves; the reliability harness passes snapshots
// read over the simulators' HTTP control surfaces (see GHLView and PTDView).
func Check(db *store.DB, g GHLView, p PTDView, m config.Mapping) (Report, error) {
	var rep Report
	specs, fmap, err := mapping.Specs(m)
	if err != nil {
		return rep, err
	}
	links, open, err := readLinks(db)
	if err != nil {
		return rep, err
	}
	c := checker{g: g, p: p, specs: specs, fmap: fmap, loc: diff.Locale{Region: m.PhoneRegion, Location: m.Location},
		open: open, byID: map[string]store.Link{}, rep: &rep}
	for _, l := range links {
		c.byID[l.ID] = l
	}
	rep.Problems = linkedTwice(links)
	for _, l := range links {
		switch l.Kind {
		case store.KindContact:
			c.contact(l)
		case store.KindTask:
			c.task(l)
		case store.KindNote:
			c.note(l)
		}
	}
	rep.Problems = append(rep.Problems, Duplicates(g, p)...)
	return rep, nil
}

// readLinks returns every link of db in the store's order, and the open conflicts as a set
// of "linkID\x00field" keys: a field that differs while one waits is held, not a mismatch.
func readLinks(db *store.DB) ([]store.Link, map[string]bool, error) {
	var links []store.Link
	open := map[string]bool{}
	if err := db.View(func(tx *store.Tx) error {
		cs, err := tx.Conflicts("", false)
		if err != nil {
			return err
		}
		for _, c := range cs {
			open[c.LinkID+"\x00"+c.Field] = true
		}
		return tx.ForEachLink(func(l *store.Link) error { links = append(links, *l); return nil })
	}); err != nil {
		return nil, nil, fmt.Errorf("cannot read links: %w", err)
	}
	return links, open, nil
}

// linkedTwice lists every record (side, kind and id) that more than one link claims, one
// line per extra claim, in link order. A side a link does not hold yet is not a claim.
func linkedTwice(links []store.Link) []string {
	var problems []string
	seen := map[string]string{}
	for _, l := range links {
		for _, k := range []string{"ghl/" + l.Kind + "/" + l.GHLID, "ptd/" + l.Kind + "/" + l.PTDID} {
			if strings.HasSuffix(k, "/") {
				continue
			}
			if other, dup := seen[k]; dup {
				problems = append(problems, fmt.Sprintf("%s is in links %s and %s", k, other, l.ID))
			}
			seen[k] = l.ID
		}
	}
	return problems
}

// checker compares one link at a time against the simulators and adds what it finds to rep.
// A link with a side still empty (not pushed yet) is skipped, not reported.
type checker struct {
	g     GHLView
	p     PTDView
	specs []diff.FieldSpec
	fmap  map[string]config.Field
	loc   diff.Locale
	open  map[string]bool       // "linkID\x00field" of open conflicts
	byID  map[string]store.Link // every link, for a child's parent
	rep   *Report
}

// contact compares a contact link's two records on every two-way field, normalized as the
// merge normalizes them; a difference on a field with an open conflict counts as held.
func (c *checker) contact(l store.Link) {
	if l.GHLID == "" || l.PTDID == "" {
		return
	}
	gc, okG := c.g.Contact(l.GHLID)
	pc, okP := c.p.Client(l.PTDID)
	if !okG || !okP {
		c.rep.Problems = append(c.rep.Problems, fmt.Sprintf("contact link %s points at a missing record (ghl %v, ptd %v)", l.ID, okG, okP))
		return
	}
	c.rep.Pairs++
	gf, pf := fields(gc), fields(pc)
	for _, s := range c.specs {
		if s.Direction != diff.Both {
			continue
		}
		f := c.fmap[s.Name]
		gv, pv := norm(s, gf[f.GHL], c.loc), norm(s, pf[f.PTD], c.loc)
		if gv != pv && c.open[l.ID+"\x00"+s.Name] {
			c.rep.Held++
			continue
		}
		if gv != pv {
			c.rep.Mismatches = append(c.rep.Mismatches, Mismatch{LinkID: l.ID, Kind: l.Kind, Field: s.Name, GHL: gv, PTD: pv})
		}
	}
}

// task compares a task link's two tasks, found under the parent link's records, on title,
// due time, completion and body; a task missing on either side is a problem.
func (c *checker) task(l store.Link) {
	parent, ok := c.byID[l.ParentLinkID]
	if !ok || l.GHLID == "" || l.PTDID == "" {
		return
	}
	var gt *ghlwire.Task
	for _, t := range c.g.Tasks(parent.GHLID) {
		if t.ID == l.GHLID {
			gt = &t
			break
		}
	}
	var found bool
	for _, pt := range c.p.Tasks(parent.PTDID) {
		if pt.ID != l.PTDID {
			continue
		}
		found = true
		if gt == nil {
			break
		}
		c.rep.Tasks++
		gd, _ := diff.Time(gt.DueDate, c.loc.Location)
		pd, _ := diff.Time(pt.DueAt, nil)
		cmp := [][3]string{{"title", diff.Name(gt.Title), diff.Name(pt.Title)}, {"due", gd, pd},
			{"completed", fmt.Sprint(gt.Completed), fmt.Sprint(pt.Completed)}, {"body", gt.Body, pt.Body}}
		for _, f := range cmp {
			if f[1] != f[2] {
				c.rep.Mismatches = append(c.rep.Mismatches, Mismatch{LinkID: l.ID, Kind: l.Kind, Field: f[0], GHL: f[1], PTD: f[2]})
			}
		}
	}
	if gt == nil || !found {
		c.rep.Problems = append(c.rep.Problems, fmt.Sprintf("task link %s points at a missing task (ghl %v, ptd %v)", l.ID, gt != nil, found))
	}
}

// note compares a note link's two bodies (whitespace-normalized), found under the parent
// link's records; a note missing on either side is a problem.
func (c *checker) note(l store.Link) {
	parent, ok := c.byID[l.ParentLinkID]
	if !ok || l.GHLID == "" || l.PTDID == "" {
		return
	}
	var gb, pb *string
	for _, n := range c.g.Notes(parent.GHLID) {
		if n.ID == l.GHLID {
			gb = &n.Body
		}
	}
	for _, n := range c.p.Notes(parent.PTDID) {
		if n.ID == l.PTDID {
			pb = &n.Body
		}
	}
	if gb == nil || pb == nil {
		c.rep.Problems = append(c.rep.Problems, fmt.Sprintf("note link %s points at a missing note", l.ID))
		return
	}
	c.rep.Notes++
	if diff.Name(*gb) != diff.Name(*pb) {
		c.rep.Mismatches = append(c.rep.Mismatches, Mismatch{LinkID: l.ID, Kind: l.Kind, Field: "body", GHL: *gb, PTD: *pb})
	}
}

// Duplicates lists emails held by more than one contact on HighLevel or client on PTD.
func Duplicates(g GHLView, p PTDView) []string {
	var out []string
	count := map[string]int{}
	for _, c := range g.Contacts() {
		if e, _ := diff.Email(c.Email); e != "" {
			count["ghl "+e]++
		}
	}
	for _, c := range p.Clients() {
		if e, _ := diff.Email(c.Email); e != "" {
			count["ptd "+e]++
		}
	}
	for k, n := range count {
		if n > 1 {
			out = append(out, fmt.Sprintf("%s held by %d records", k, n))
		}
	}
	sort.Strings(out)
	return out
}
