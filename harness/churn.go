package harness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptdwire"
)

// Churner makes user edits on both simulators through their control surfaces and records
// each accepted one in a Ledger. The mix (per 100 steps): first name edited on HighLevel 20
// and on PTD 15 (a two-way field both sides edit, so conflicts happen), last name on PTD 10,
// tags added on HighLevel 12 and PTD 10 and removed 8 / 5 (only tags the same side added, and
// only while another of them stays, so a list is never emptied: an emptied list is refilled by
// design), an unmapped HighLevel field 7 (moves dateUpdated, which the newest rule reads),
// contacts created on HighLevel 4, clients on PTD 4, tasks on HighLevel 3 (with a city edit,
// as a user adding a task usually touches the contact: child writes do not move dateUpdated)
// and on PTD 2. Values carry a run-unique sequence number. Not safe for concurrent use.
type Churner struct {
	g    *GHLControl
	p    *PTDControl
	l    *Ledger
	rng  *rand.Rand
	run  string
	n    int
	tags map[[2]int][]string // (pair, side 0 ghl / 1 ptd) -> harness tags present there
	// Refused counts edits the simulators refused (not recorded; not a harness failure).
	Refused int
}

// NewChurner returns a churner over l's pairs; run makes emails unique across runs.
func NewChurner(g *GHLControl, p *PTDControl, l *Ledger, seed int64, run string) *Churner {
	return &Churner{g: g, p: p, l: l, rng: rand.New(rand.NewPCG(uint64(seed), 0x5ca1e)), run: run, tags: map[[2]int][]string{}}
}

// Step makes one edit. A refused edit is counted and not recorded; an error is returned only
// when the simulator cannot be reached.
func (c *Churner) Step(ctx context.Context) error {
	pairs := c.l.pairs
	if len(pairs) == 0 {
		return nil
	}
	c.n++
	n := c.n
	pi := c.rng.IntN(len(pairs))
	pr := pairs[pi]
	str := func(s string) *string { return &s }
	roll := c.rng.IntN(100)
	var err error
	rec := func(e Edit) { c.l.Record(e) }
	switch {
	case roll < 20:
		v := fmt.Sprintf("G%d", n)
		if _, err = c.g.UpdateContact(ctx, pr.GHLID, ghlwire.ContactInput{FirstName: str(v)}); err == nil {
			rec(Edit{Side: SideGHL, Kind: KindField, Pair: pi, Field: "firstName", Value: v})
		}
	case roll < 35:
		v := fmt.Sprintf("P%d", n)
		if _, err = c.p.EditClient(ctx, pr.PTDID, ptdwire.ClientInput{FirstName: str(v)}); err == nil {
			rec(Edit{Side: SidePTD, Kind: KindField, Pair: pi, Field: "firstName", Value: v})
		}
	case roll < 45:
		v := fmt.Sprintf("L%d", n)
		if _, err = c.p.EditClient(ctx, pr.PTDID, ptdwire.ClientInput{LastName: str(v)}); err == nil {
			rec(Edit{Side: SidePTD, Kind: KindField, Pair: pi, Field: "lastName", Value: v})
		}
	case roll < 57 || (roll >= 67 && roll < 75 && len(c.tags[[2]int{pi, 0}]) < 2):
		v := fmt.Sprintf("hg%d", n)
		if _, err = c.g.Tags(ctx, pr.GHLID, true, v); err == nil {
			rec(Edit{Side: SideGHL, Kind: KindTagAdd, Pair: pi, Field: "tags", Value: v})
			c.tags[[2]int{pi, 0}] = append(c.tags[[2]int{pi, 0}], v)
		}
	case roll < 67 || (roll >= 75 && roll < 80 && len(c.tags[[2]int{pi, 1}]) < 2):
		v := fmt.Sprintf("hp%d", n)
		if _, err = c.p.Tags(ctx, pr.PTDID, true, v); err == nil {
			rec(Edit{Side: SidePTD, Kind: KindTagAdd, Pair: pi, Field: "tags", Value: v})
			c.tags[[2]int{pi, 1}] = append(c.tags[[2]int{pi, 1}], v)
		}
	case roll < 75:
		k := [2]int{pi, 0}
		v := c.tags[k][0]
		if _, err = c.g.Tags(ctx, pr.GHLID, false, v); err == nil {
			rec(Edit{Side: SideGHL, Kind: KindTagRemove, Pair: pi, Field: "tags", Value: v})
			c.tags[k] = c.tags[k][1:]
		}
	case roll < 80:
		k := [2]int{pi, 1}
		v := c.tags[k][0]
		if _, err = c.p.Tags(ctx, pr.PTDID, false, v); err == nil {
			rec(Edit{Side: SidePTD, Kind: KindTagRemove, Pair: pi, Field: "tags", Value: v})
			c.tags[k] = c.tags[k][1:]
		}
	case roll < 87:
		v := fmt.Sprintf("City%d", n)
		if _, err = c.g.UpdateContact(ctx, pr.GHLID, ghlwire.ContactInput{City: str(v)}); err == nil {
			rec(Edit{Side: SideGHL, Kind: KindTouch, Pair: pi, Field: "city", Value: v})
		}
	case roll < 91:
		email := fmt.Sprintf("hc%d.%s@harness.example", n, c.run)
		if _, err = c.g.CreateContact(ctx, ghlwire.ContactInput{FirstName: str(fmt.Sprintf("New%d", n)), LastName: str("Harness"), Email: str(email)}); err == nil {
			rec(Edit{Side: SideGHL, Kind: KindCreate, Pair: -1, Field: "email", Value: email})
		}
	case roll < 95:
		email := fmt.Sprintf("pc%d.%s@harness.example", n, c.run)
		if _, err = c.p.CreateClient(ctx, ptdwire.ClientInput{FirstName: str(fmt.Sprintf("Coach%d", n)), LastName: str("Harness"), Email: str(email)}); err == nil {
			rec(Edit{Side: SidePTD, Kind: KindCreate, Pair: -1, Field: "email", Value: email})
		}
	case roll < 98:
		title := fmt.Sprintf("ht%d", n)
		due := time.Now().Add(72 * time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
		f := false
		if _, err = c.g.CreateTask(ctx, pr.GHLID, ghlwire.TaskInput{Title: str(title), DueDate: &due, Completed: &f}); err == nil {
			rec(Edit{Side: SideGHL, Kind: KindCreateTask, Pair: pi, Field: "task", Value: title})
			if _, err = c.g.UpdateContact(ctx, pr.GHLID, ghlwire.ContactInput{City: str(fmt.Sprintf("Task%d", n))}); err == nil {
				rec(Edit{Side: SideGHL, Kind: KindTouch, Pair: pi, Field: "city", Value: fmt.Sprintf("Task%d", n)})
			}
		}
	default:
		title := fmt.Sprintf("pt%d", n)
		due := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
		f := false
		if _, err = c.p.CreateTask(ctx, pr.PTDID, ptdwire.TaskInput{Title: str(title), DueAt: &due, Completed: &f}); err == nil {
			rec(Edit{Side: SidePTD, Kind: KindCreateTask, Pair: pi, Field: "task", Value: title})
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var se *SimError
		if errors.As(err, &se) {
			c.Refused++
			return nil
		}
		return err
	}
	return nil
}

// Run steps perSecond times a second until ctx ends; it returns the first unreachable-simulator
// error, or nil when ctx ended.
func (c *Churner) Run(ctx context.Context, perSecond float64) error {
	t := time.NewTicker(time.Duration(float64(time.Second) / perSecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := c.Step(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
}
