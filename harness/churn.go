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
	if len(c.l.pairs) == 0 {
		return nil
	}
	c.n++
	// The pair is drawn before the roll: the order of draws fixes a seed's churn.
	pi := c.rng.IntN(len(c.l.pairs))
	roll := c.rng.IntN(100)
	var err error
	switch {
	case roll < 45 || roll >= 80 && roll < 87:
		err = c.editField(ctx, roll, pi)
	case roll < 80:
		err = c.editTags(ctx, roll, pi)
	default:
		err = c.create(ctx, roll, pi)
	}
	return c.refusedOrFailed(ctx, err)
}

// refusedOrFailed decides what a step's error means: nil when the edit went through or a
// simulator refused it (counted in Refused: a refusal is the simulator's right, not a harness
// failure), the context's error once it ended, and err itself when a simulator could not be
// reached.
func (c *Churner) refusedOrFailed(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
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

// editField sets a scalar field of pair pi (rolls 0-44 and 80-86 of Step's mix): first name
// on HighLevel or PTD, last name on PTD, or the unmapped city on HighLevel (a touch, which only
// moves dateUpdated). The edit is recorded only once the simulator accepted it.
func (c *Churner) editField(ctx context.Context, roll, pi int) error {
	pr, n := c.l.pairs[pi], c.n
	var err error
	switch {
	case roll < 20:
		v := fmt.Sprintf("G%d", n)
		if _, err = c.g.UpdateContact(ctx, pr.GHLID, ghlwire.ContactInput{FirstName: &v}); err == nil {
			c.l.Record(Edit{Side: SideGHL, Kind: KindField, Pair: pi, Field: "firstName", Value: v})
		}
	case roll < 35:
		v := fmt.Sprintf("P%d", n)
		if _, err = c.p.EditClient(ctx, pr.PTDID, ptdwire.ClientInput{FirstName: &v}); err == nil {
			c.l.Record(Edit{Side: SidePTD, Kind: KindField, Pair: pi, Field: "firstName", Value: v})
		}
	case roll < 45:
		v := fmt.Sprintf("L%d", n)
		if _, err = c.p.EditClient(ctx, pr.PTDID, ptdwire.ClientInput{LastName: &v}); err == nil {
			c.l.Record(Edit{Side: SidePTD, Kind: KindField, Pair: pi, Field: "lastName", Value: v})
		}
	default:
		v := fmt.Sprintf("City%d", n)
		if _, err = c.g.UpdateContact(ctx, pr.GHLID, ghlwire.ContactInput{City: &v}); err == nil {
			c.l.Record(Edit{Side: SideGHL, Kind: KindTouch, Pair: pi, Field: "city", Value: v})
		}
	}
	return err
}

// editTags adds or removes a harness tag of pair pi (rolls 45-79 of Step's mix). A removal
// takes the oldest tag the same side added, and only while another of them stays: a side
// holding fewer than two turns its removal roll into an add, so a list is never emptied (an
// emptied list is refilled by design and would read as a lost removal).
func (c *Churner) editTags(ctx context.Context, roll, pi int) error {
	pr, n := c.l.pairs[pi], c.n
	ghlKey, ptdKey := [2]int{pi, 0}, [2]int{pi, 1}
	var err error
	switch {
	case roll < 57 || roll >= 67 && roll < 75 && len(c.tags[ghlKey]) < 2:
		v := fmt.Sprintf("hg%d", n)
		if _, err = c.g.Tags(ctx, pr.GHLID, true, v); err == nil {
			c.l.Record(Edit{Side: SideGHL, Kind: KindTagAdd, Pair: pi, Field: "tags", Value: v})
			c.tags[ghlKey] = append(c.tags[ghlKey], v)
		}
	case roll < 67 || roll >= 75 && len(c.tags[ptdKey]) < 2:
		v := fmt.Sprintf("hp%d", n)
		if _, err = c.p.Tags(ctx, pr.PTDID, true, v); err == nil {
			c.l.Record(Edit{Side: SidePTD, Kind: KindTagAdd, Pair: pi, Field: "tags", Value: v})
			c.tags[ptdKey] = append(c.tags[ptdKey], v)
		}
	case roll < 75:
		v := c.tags[ghlKey][0]
		if _, err = c.g.Tags(ctx, pr.GHLID, false, v); err == nil {
			c.l.Record(Edit{Side: SideGHL, Kind: KindTagRemove, Pair: pi, Field: "tags", Value: v})
			c.tags[ghlKey] = c.tags[ghlKey][1:]
		}
	default:
		v := c.tags[ptdKey][0]
		if _, err = c.p.Tags(ctx, pr.PTDID, false, v); err == nil {
			c.l.Record(Edit{Side: SidePTD, Kind: KindTagRemove, Pair: pi, Field: "tags", Value: v})
			c.tags[ptdKey] = c.tags[ptdKey][1:]
		}
	}
	return err
}

// create makes a new record (rolls 87-99 of Step's mix): a contact on HighLevel or a client on
// PTD with a run-unique email (Pair -1: no pair holds it yet), or a task under pair pi. A
// HighLevel task comes with a city edit, as a user adding a task usually touches the contact
// (child writes do not move dateUpdated); when that edit fails, the task stays recorded and
// the edit's error is the step's.
func (c *Churner) create(ctx context.Context, roll, pi int) error {
	pr, n := c.l.pairs[pi], c.n
	str := func(s string) *string { return &s }
	f := false
	var err error
	switch {
	case roll < 91:
		email := fmt.Sprintf("hc%d.%s@harness.example", n, c.run)
		if _, err = c.g.CreateContact(ctx, ghlwire.ContactInput{FirstName: str(fmt.Sprintf("New%d", n)), LastName: str("Harness"), Email: &email}); err == nil {
			c.l.Record(Edit{Side: SideGHL, Kind: KindCreate, Pair: -1, Field: "email", Value: email})
		}
	case roll < 95:
		email := fmt.Sprintf("pc%d.%s@harness.example", n, c.run)
		if _, err = c.p.CreateClient(ctx, ptdwire.ClientInput{FirstName: str(fmt.Sprintf("Coach%d", n)), LastName: str("Harness"), Email: &email}); err == nil {
			c.l.Record(Edit{Side: SidePTD, Kind: KindCreate, Pair: -1, Field: "email", Value: email})
		}
	case roll < 98:
		title := fmt.Sprintf("ht%d", n)
		due := time.Now().Add(72 * time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
		if _, err = c.g.CreateTask(ctx, pr.GHLID, ghlwire.TaskInput{Title: &title, DueDate: &due, Completed: &f}); err == nil {
			c.l.Record(Edit{Side: SideGHL, Kind: KindCreateTask, Pair: pi, Field: "task", Value: title})
			city := fmt.Sprintf("Task%d", n)
			if _, err = c.g.UpdateContact(ctx, pr.GHLID, ghlwire.ContactInput{City: &city}); err == nil {
				c.l.Record(Edit{Side: SideGHL, Kind: KindTouch, Pair: pi, Field: "city", Value: city})
			}
		}
	default:
		title := fmt.Sprintf("pt%d", n)
		due := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
		if _, err = c.p.CreateTask(ctx, pr.PTDID, ptdwire.TaskInput{Title: &title, DueAt: &due, Completed: &f}); err == nil {
			c.l.Record(Edit{Side: SidePTD, Kind: KindCreateTask, Pair: pi, Field: "task", Value: title})
		}
	}
	return err
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
