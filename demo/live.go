package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"ptsync/apiclient/ptdwire"
	"ptsync/sim/gen"
	"ptsync/store"
)

// PTDEdit is one coach edit the live demo made in PTD.
type PTDEdit struct {
	ClientID, Kind, Value string
}

// Coach kinds of PTDEdit.
const (
	EditTimezone = "timezone"
	EditTag      = "tag"
	EditTask     = "task"
	EditComplete = "complete task"
	EditNote     = "note"
)

func demoTimezones() []string {
	return []string{"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "Europe/London", "Australia/Sydney"}
}

// CoachEdit makes one random coach edit in PTD (a client's timezone, a tag, a new task, a
// task completed, a new note) through the simulator's coach API and returns it.
func (d *Demo) CoachEdit(r *rand.Rand) (PTDEdit, error) {
	clients := d.PTD.Clients()
	if len(clients) == 0 {
		return PTDEdit{}, errors.New("cannot edit in pt distinction: no clients")
	}
	c := clients[r.IntN(len(clients))]
	str := func(v string) *string { return &v }
	e := PTDEdit{ClientID: c.ID}
	var err error
	switch r.IntN(5) {
	case 0:
		zones := demoTimezones()
		e.Kind, e.Value = EditTimezone, zones[r.IntN(len(zones))]
		if e.Value == c.Timezone {
			e.Value = zones[(slices.Index(zones, e.Value)+1)%len(zones)]
		}
		_, err = d.PTD.EditClient(c.ID, ptdwire.ClientInput{Timezone: str(e.Value)})
	case 1:
		tags := gen.Tags()
		e.Kind, e.Value = EditTag, tags[r.IntN(len(tags))]
		_, err = d.PTD.TagClient(c.ID, []string{e.Value}, nil)
	case 2:
		due := d.opts.Now().UTC().Add(time.Duration(1+r.IntN(10)) * 24 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
		e.Kind, e.Value = EditTask, "Coach check-in"
		f := false
		_, err = d.PTD.CreateTask(c.ID, ptdwire.TaskInput{Title: str(e.Value), DueAt: &due, Completed: &f})
	case 3:
		var open *ptdwire.Task
		for _, t := range d.PTD.Tasks(c.ID) {
			if !t.Completed {
				open = &t
				break
			}
		}
		if open == nil {
			e.Kind, e.Value = EditNote, "Checked in; nothing open."
			_, err = d.PTD.CreateNote(c.ID, e.Value)
			break
		}
		e.Kind, e.Value = EditComplete, open.ID
		_, err = d.PTD.CompleteTask(open.ID, true)
	default:
		e.Kind, e.Value = EditNote, fmt.Sprintf("Session notes: week %d, felt strong.", 1+r.IntN(12))
		_, err = d.PTD.CreateNote(c.ID, e.Value)
	}
	if err != nil {
		return e, fmt.Errorf("cannot make coach edit %s on %s: %w", e.Kind, c.ID, err)
	}
	return e, nil
}

// CoachEdits returns the PTD edits Live has made so far, in order.
func (d *Demo) CoachEdits() []PTDEdit {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.coachEdits)
}

// LiveStats is what Live did.
type LiveStats struct {
	GHLEdits, PTDEdits int
	// Pushed counts successful writes during live mode by target (store.SideGHL/SidePTD).
	Pushed map[string]int
	// CoachEdits are the PTD edits made, in order (all of them, as CoachEdits returns).
	CoachEdits []PTDEdit
}

// Live is the live demo: both simulators churn at the configured gentle rates while the
// service keeps syncing on its schedules, and a status line goes to w every StatusEvery
// (edits each side, writes pushed each way, HighLevel calls and 429s, PTD requests, open
// conflicts). It returns when ctx ends. Not safe to call twice at once.
func (d *Demo) Live(ctx context.Context, w io.Writer) LiveStats {
	base := d.pushedTotals()
	counts := &liveCounts{}
	var wg sync.WaitGroup
	d.churn(ctx, &wg, counts)
	start := d.opts.Now()
	prev := d.liveSnapshot(counts)
	prev.pushed = base
	status := time.NewTicker(d.opts.StatusEvery)
	defer status.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			st := LiveStats{Pushed: map[string]int{}}
			counts.mu.Lock()
			st.GHLEdits, st.PTDEdits = counts.ghl, counts.ptd
			counts.mu.Unlock()
			for t, v := range d.pushedTotals() {
				st.Pushed[t] = v - base[t]
			}
			st.CoachEdits = d.CoachEdits()
			return st
		case <-status.C:
			cur := d.liveSnapshot(counts)
			d.printLiveStatus(ctx, w, d.opts.Now().Sub(start).Round(time.Second), prev, cur)
			prev = cur
		}
	}
}

// liveCounts are the edits Live's churn has made so far; mu guards them.
type liveCounts struct {
	mu       sync.Mutex
	ghl, ptd int
}

// churn starts HighLevel's and the coaches' edits at their configured rates until ctx ends;
// wg is done when both have stopped.
func (d *Demo) churn(ctx context.Context, wg *sync.WaitGroup, counts *liveCounts) {
	ticker := func(perSecond float64, step func()) {
		defer wg.Done()
		t := time.NewTicker(time.Duration(float64(time.Second) / perSecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				step()
			}
		}
	}
	wg.Add(2)
	go ticker(d.opts.GHLChurn, func() {
		n := len(d.GHL.ChurnStep(1))
		counts.mu.Lock()
		counts.ghl += n
		counts.mu.Unlock()
	})
	r := rand.New(rand.NewPCG(uint64(d.opts.Seed), 0x11fe))
	go ticker(d.opts.PTDChurn, func() {
		e, err := d.CoachEdit(r)
		if err != nil {
			d.opts.Logger.Warn("live demo: coach edit failed", "error", err)
			return
		}
		counts.mu.Lock()
		counts.ptd++
		counts.mu.Unlock()
		d.mu.Lock()
		d.coachEdits = append(d.coachEdits, e)
		d.mu.Unlock()
	})
}

// pushedTotals counts the successful pushes so far, by target.
func (d *Demo) pushedTotals() map[string]int {
	ok, failed := map[string]map[string]int{}, map[string]int{}
	d.pushCounts(ok, failed)
	out := map[string]int{}
	for t, ops := range ok {
		for _, v := range ops {
			out[t] += v
		}
	}
	return out
}

// liveSnapshot is the running totals one status line compares with the previous one.
type liveSnapshot struct {
	ghlEdits, ptdEdits int
	pushed             map[string]int
	calls, limited     int64
	ptdReq             int64
}

func (d *Demo) liveSnapshot(counts *liveCounts) liveSnapshot {
	c := d.GHL.Counters()
	counts.mu.Lock()
	defer counts.mu.Unlock()
	return liveSnapshot{counts.ghl, counts.ptd, d.pushedTotals(), c.Total, c.RateLimitedBurst + c.RateLimitedDaily, d.PTD.Stats().TotalRequests}
}

// printLiveStatus writes one status line: what happened between prev and cur, the open
// conflicts, and why the service is not ready if it is not.
func (d *Demo) printLiveStatus(ctx context.Context, w io.Writer, elapsed time.Duration, prev, cur liveSnapshot) {
	held := 0
	_ = d.Service.Store().View(func(tx *store.Tx) error {
		cs, err := tx.Conflicts("", false)
		held = len(cs)
		return err
	})
	// As `ptsync run`, live mode keeps going through failing jobs (a full disk, a refused
	// credential) and recovers by itself; the line says why it is not ready.
	health := ""
	if err := d.Service.Ready(ctx); err != nil {
		health = " | NOT READY: " + err.Error()
	}
	fmt.Fprintf(w, "live %5s  edits: %d in HighLevel, %d by coaches | synced: %d -> PTD, %d -> HighLevel | HighLevel calls %d (429s %d) | PTD requests %d | held %d%s\n",
		elapsed, cur.ghlEdits-prev.ghlEdits, cur.ptdEdits-prev.ptdEdits,
		cur.pushed[store.SidePTD]-prev.pushed[store.SidePTD], cur.pushed[store.SideGHL]-prev.pushed[store.SideGHL],
		cur.calls-prev.calls, cur.limited-prev.limited, cur.ptdReq-prev.ptdReq, held, health)
}
