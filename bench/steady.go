package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"time"

	"ptsync/replicator/ingest"
	"ptsync/sim/ghlsim"
)

// fakeClock is a clock the benchmark advances by hand, shared by the simulator (dateUpdated)
// and ptsync (cursors, overlap window, children ages), so a "5-minute cycle" takes no time.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// setAtLeast moves the clock to t unless it is already later (the clock never goes back).
func (c *fakeClock) setAtLeast(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// steadyInterval is one steady-state cycle: the default schedule of the children job, with
// one incremental contacts run before it.
const steadyInterval = 5 * time.Minute

// benchSteady measures what one steady-state cycle costs in API calls: a mirror of Steady
// contacts is backfilled, then each cycle ChangeRate of the contacts change in HighLevel
// (field edits, tag changes, task and note writes, through the simulator's churn) and
// ptsync runs its incremental search and its children job. The theoretical minimum that can
// see every change is ceil(changed/500) search pages plus 3 calls per changed contact; the
// naive baseline re-polls everything (N/100 list pages + 3N child calls), measured once.
//
// The mirror starts in the rotation's steady state (see equilibriumAge), so the calls the
// children sweep needs to keep every contact's children at most ChildrenPeriod old are in
// the count.
//
// The simulator bumps a contact's dateUpdated on child writes here, so every change is
// visible to search (HighLevel's real behaviour is unknown; without the bump only the
// rotating children sweep can find child-only changes, and no minimum below it exists).
// Limits are off: this section counts calls, it does not time them.
func benchSteady(ctx context.Context, e *env) ([]row, error) {
	sz := e.sz
	clk := &fakeClock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	sim, url, err := startSim(simOptions{seed: e.seed + 1, now: clk.now, bumpOnChild: true})
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	e.log("steady: seeding %d contacts", sz.Steady)
	sim.Seed(sz.Steady)
	set := ingest.Settings{ChildrenInterval: steadyInterval, ChildrenPeriod: 24 * time.Hour}
	side, err := openSide(sideOptions{dbPath: filepath.Join(e.dir, "steady.db"), baseURL: url, location: sim.LocationID(),
		token: sim.IssuePIT(), burstMax: 100, burstWindow: 10 * time.Second, limiterMax: unthrottled, settings: set, now: clk.now})
	if err != nil {
		return nil, err
	}
	defer side.close()
	if err := spreadBackfill(ctx, e, side, clk, set); err != nil {
		return nil, err
	}
	var c steadyCounts
	for cycle := range sz.SteadyCycles {
		if err := c.cycle(ctx, e, sim, side, clk, cycle); err != nil {
			return nil, err
		}
	}
	// The naive baseline: a full re-poll, measured once (it costs the same every cycle).
	sim.ResetCounters()
	naive := newNaivePoller(url, sim.LocationID(), sim.IssuePIT())
	if err := naive.backfill(ctx); err != nil {
		return nil, fmt.Errorf("naive re-poll: %w", err)
	}
	return c.rows(sz, sim.Counters().Total), nil
}

// spreadBackfill backfills the steady-state mirror over one children period of fake time so
// that, when it ends, the contacts' children ages follow the rotation's stationary
// distribution for this change rate (see equilibriumAge): the cycles measured then cost
// what they cost after the service has run for days, not the near-zero sweep of the first
// day after a backfill.
func spreadBackfill(ctx context.Context, e *env, side *ptsyncSide, clk *fakeClock, set ingest.Settings) error {
	start := clk.now()
	t0 := time.Now()
	_, err := side.poller.Backfill(ctx, func(pr ingest.Progress) {
		if pr.Phase == ingest.PhaseChildren && pr.Total > 0 {
			age := equilibriumAge(float64(pr.Done)/float64(pr.Total), e.sz.ChangeRate, set.ChildrenPeriod, steadyInterval)
			clk.setAtLeast(start.Add(set.ChildrenPeriod - age))
		}
	})
	if err != nil {
		return fmt.Errorf("cannot backfill steady-state mirror: %w", err)
	}
	clk.setAtLeast(start.Add(set.ChildrenPeriod))
	e.log("steady: backfill of %d contacts took %v", e.sz.Steady, time.Since(t0).Round(time.Millisecond))
	return nil
}

// steadyCounts sums the cycles measured.
type steadyCounts struct {
	total, minimum, searchPages, childCalls, changed, swept int64
	cycles                                                  int64
}

// cycle changes ChangeRate of the contacts in the simulator, runs ptsync's incremental search
// and children job and counts the calls they made.
func (c *steadyCounts) cycle(ctx context.Context, e *env, sim *ghlsim.Server, side *ptsyncSide, clk *fakeClock, n int) error {
	clk.advance(steadyInterval)
	ids := sim.ChurnStep(max(1, int(math.Round(float64(e.sz.Steady)*e.sz.ChangeRate))))
	distinct := map[string]bool{}
	for _, id := range ids {
		distinct[id] = true
	}
	clk.advance(time.Second)
	sim.ResetCounters()
	if _, err := side.poller.Incremental(ctx); err != nil {
		return fmt.Errorf("cycle %d: incremental: %w", n, err)
	}
	cst, err := side.poller.Children(ctx)
	if err != nil {
		return fmt.Errorf("cycle %d: children: %w", n, err)
	}
	cnt := sim.Counters()
	pages := cnt.Requests["POST /contacts/search"]
	least := int64(math.Ceil(float64(len(distinct))/500)) + 3*int64(len(distinct))
	e.log("steady: cycle %d: %d changed, %d calls (search %d, children %d: dirty %d, swept %d), minimum %d",
		n, len(distinct), cnt.Total, pages, cnt.Total-pages, cst.Dirty, cst.Swept, least)
	c.total += cnt.Total
	c.minimum += least
	c.searchPages += pages
	c.childCalls += cnt.Total - pages
	c.changed += int64(len(distinct))
	c.swept += int64(cst.Swept)
	c.cycles++
	return nil
}

func (c *steadyCounts) rows(sz sizes, naiveCalls int64) []row {
	n := float64(c.cycles)
	perCycle := float64(c.total) / n
	minPer := float64(c.minimum) / n
	sweepCalls := float64(3*c.swept) / n
	sec := fmt.Sprintf("2 steady %s, %.0f%%/cycle", num(int64(sz.Steady)), sz.ChangeRate*100)
	return []row{
		{Section: sec, Metric: fmt.Sprintf("API calls per cycle (%d cycles, %.0f changed each)", c.cycles, float64(c.changed)/n),
			Value:    fmt.Sprintf("%.1f (search %.1f, children %.1f)", perCycle, float64(c.searchPages)/n, float64(c.childCalls)/n),
			Baseline: fmt.Sprintf("minimum: %.1f", minPer), Ratio: ratio(perCycle, minPer), Target: "<= 1.1x", Verdict: verdict(perCycle <= 1.1*minPer)},
		{Section: sec, Metric: "  of which change-driven (without the rotation that keeps every child at most 24h old)",
			Value: fmt.Sprintf("%.1f", perCycle-sweepCalls), Baseline: fmt.Sprintf("minimum: %.1f", minPer), Ratio: ratio(perCycle-sweepCalls, minPer)},
		{Section: sec, Metric: "API calls per cycle vs naive full re-poll",
			Value: fmt.Sprintf("%.1f", perCycle), Baseline: "naive re-poll: " + num(naiveCalls), Ratio: ratio(perCycle, float64(naiveCalls))},
	}
}

// equilibriumAge is the children age of the contact at fraction f of the mirror (oldest
// first) once the rotation has run for a long time: each cycle a contact changes with
// probability p (its children are refreshed as dirty) and otherwise ages until the period
// runs out (the sweep refreshes it). Its age in cycles is then distributed as
// P(age >= k) = (r^k - q) / (1 - q) with r = 1-p and q = r^(period/interval), so the
// contact at fraction f (a fraction f of the contacts is at least as old) has
// r^k = f(1-q) + q.
func equilibriumAge(f, p float64, period, interval time.Duration) time.Duration {
	cycles := float64(period) / float64(interval)
	if p <= 0 || p >= 1 {
		return time.Duration((1 - f) * float64(period)) // no churn: ages spread evenly
	}
	r := 1 - p
	q := math.Pow(r, cycles)
	k := math.Log(f*(1-q)+q) / math.Log(r)
	return time.Duration(math.Min(k, cycles) * float64(interval))
}
