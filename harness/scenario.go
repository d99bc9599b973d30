package harness

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// CrashOptions shape the crash loop.
type CrashOptions struct {
	Options
	// Kills is K, the number of SIGKILLs (default 10). The first lands in the backfill.
	Kills int
	// MinUp and MaxUp bound the random time the service runs before each kill (defaults
	// 500 ms and 4 s).
	MinUp, MaxUp time.Duration
	// TokenTTL is the OAuth access token lifetime, short so refreshes happen between kills
	// (default 6 s; ptsync refreshes a fifth of it before expiry).
	TokenTTL time.Duration
	// SimulateTokenGap spends every refresh token once, halfway through the kills, exactly as
	// a kill inside the refresh gap would leave things: it proves that the harness detects
	// the refusal, counts it and recovers (tests; the real gap is hit only by chance).
	SimulateTokenGap bool
}

// CrashLoop runs the crash-loop scenario and returns its result. An error means the harness
// could not run it (a simulator unreachable, a port taken), not that a guarantee failed:
// check Result.OK for that.
func CrashLoop(ctx context.Context, o CrashOptions) (Result, error) {
	if o.Kills <= 0 {
		o.Kills = 10
	}
	if o.MinUp <= 0 {
		o.MinUp = 500 * time.Millisecond
	}
	if o.MaxUp < o.MinUp {
		o.MaxUp = max(o.MinUp, 4*time.Second)
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = 6 * time.Second
	}
	e, err := setup(ctx, o.Options, fmt.Sprintf("crash-loop K=%d", o.Kills), []string{"--token-ttl", o.TokenTTL.String()})
	if err != nil {
		return Result{}, err
	}
	defer e.close()
	up := func() time.Duration {
		return o.MinUp + time.Duration(e.rng.Int64N(int64(o.MaxUp-o.MinUp)+1))
	}
	kill := func() error {
		e.svc.Kill()
		e.res.Kills++
		return e.svc.Start()
	}
	e.logf("backfill: %d contacts, token ttl %s; first kill lands in it", e.o.Contacts, o.TokenTTL)
	if err := e.svc.Start(); err != nil {
		return Result{}, err
	}
	if err := e.sleep(ctx, time.Duration(200+e.rng.IntN(800))*time.Millisecond); err != nil {
		return Result{}, err
	}
	if err := kill(); err != nil {
		return Result{}, err
	}
	if err := e.startAndSettle(ctx); err != nil {
		return Result{}, err
	}
	pairs, err := e.pairs(ctx)
	if err != nil {
		return Result{}, err
	}
	l := NewLedger(pairs)
	stop, wait := e.churn(ctx, l)
	e.logf("churning %.0f edits/s over %d linked pairs; %d kills to go", o.ChurnRate, len(pairs), o.Kills-1)
	for k := 2; k <= o.Kills; k++ {
		if o.SimulateTokenGap && k == (o.Kills+2)/2 {
			e.logf("simulating a kill in the refresh gap: every refresh token spent")
			if err := e.g.RevokeRefreshTokens(ctx); err != nil {
				stop()
				return Result{}, err
			}
		}
		if err := e.sleep(ctx, up()); err != nil {
			stop()
			return Result{}, err
		}
		if err := kill(); err != nil {
			stop()
			return Result{}, err
		}
	}
	// Keep churning through one more random stretch so the last kill's restart sees edits too.
	if err := e.sleep(ctx, up()); err != nil {
		stop()
		return Result{}, err
	}
	stop()
	if err := wait(); err != nil {
		return Result{}, err
	}
	e.logf("churn stopped after %d edits; converging", len(l.Edits()))
	if err := e.finish(ctx, l); err != nil {
		return Result{}, err
	}
	return *e.res, nil
}

// churn runs a Churner in the background; stop ends it and wait returns its error.
func (e *env) churn(ctx context.Context, l *Ledger) (stop func(), wait func() error) {
	cctx, cancel := context.WithCancel(ctx)
	c := NewChurner(e.g, e.p, l, e.o.Seed+7, fmt.Sprintf("s%d-%d", e.o.Seed, time.Now().UnixNano()%1e6))
	var wg sync.WaitGroup
	var err error
	wg.Add(1)
	go func() {
		defer wg.Done()
		err = c.Run(cctx, e.o.ChurnRate)
	}()
	return cancel, func() error { wg.Wait(); return err }
}

// SoakOptions shape the fault soak.
type SoakOptions struct {
	Options
	// Duration of the faults (default 60 s).
	Duration time.Duration
	// Outage, when set, makes HighLevel answer every request with a 5xx for 6 s a few seconds
	// in, which must open the circuit breaker (10 consecutive failures) and, after its 30 s
	// cooldown, close it again: keep Duration above ~45 s to see it close.
	Outage bool
	// ExpireEvery kills each access token after this many calls (default 200).
	ExpireEvery int
}

// Soak runs the fault soak: HighLevel answers 10 % 5xx, 2 % connection resets, 1 % malformed
// JSON, latency 50-500 ms, a 429 burst (limits cut to a tenth) every 15 s and access tokens
// dying every ExpireEvery calls; PTD answers 10 % 503, a 429 burst every 15 s and a latency
// redrawn every 5 s between 50 and 500 ms (its simulator takes one latency, not a range).
// Listings lie for a while on each side (listingFaults): an empty PTD client listing, then an
// empty HighLevel listing and search, then a truncated one, each long enough for a sweep or
// two, under the delete policy print_only: the sweep guard must hold them all.
// Now and then a timestamp from the future, on either side: 10 % of HighLevel's search answers
// and of PTD's listing answers show their first record stamped 2030-01-01.
func Soak(ctx context.Context, o SoakOptions) (Result, error) {
	if o.Duration <= 0 {
		o.Duration = 60 * time.Second
	}
	if o.ExpireEvery <= 0 {
		o.ExpireEvery = 200
	}
	name := fmt.Sprintf("fault soak %s", o.Duration.Round(time.Second))
	e, err := setup(ctx, o.Options, name, []string{"--token-ttl", "1h"})
	if err != nil {
		return Result{}, err
	}
	defer e.close()
	e.logf("backfill: %d contacts, no faults yet", e.o.Contacts)
	if err := e.startAndSettle(ctx); err != nil {
		return Result{}, err
	}
	if e.res.RSSStart, err = e.svc.RSS(); err != nil {
		return Result{}, err
	}
	pairs, err := e.pairs(ctx)
	if err != nil {
		return Result{}, err
	}
	l := NewLedger(pairs)
	stop, wait := e.churn(ctx, l)
	err = e.underFaults(ctx, o, len(pairs))
	stop()
	if err != nil {
		return Result{}, err
	}
	if err := wait(); err != nil {
		return Result{}, err
	}
	if err := e.clearFaults(ctx); err != nil {
		return Result{}, err
	}
	e.logf("faults off after %d edits; converging", len(l.Edits()))
	if err := e.finish(ctx, l); err != nil {
		return Result{}, err
	}
	return *e.res, nil
}

// underFaults is the soak's middle, run while the churn goes on: it turns the base faults on,
// steps the fault schedule every 250 ms for o.Duration, then logs the sweeps held and the
// breaker's transitions so far and reads the service's RSS (RSSEnd: still under faults, before
// the churn stops).
func (e *env) underFaults(ctx context.Context, o SoakOptions, pairs int) error {
	f := newSoakFaults(e, o)
	if err := f.start(ctx, o.ExpireEvery); err != nil {
		return err
	}
	e.logf("faults on for %s (outage %v), churning %.0f edits/s over %d pairs", o.Duration, o.Outage, o.ChurnRate, pairs)
	start := time.Now()
	for el := time.Duration(0); el < o.Duration; el = time.Since(start) {
		if err := e.sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
		if err := f.step(ctx, el); err != nil {
			return err
		}
	}
	if m, err := Scrape(ctx, e.metrics); err == nil {
		e.logf("sweeps held as suspect: highlevel %.0f, pt distinction %.0f",
			SumMetric(m, "ptsync_sweep_held_total", `side="ghl"`), SumMetric(m, "ptsync_sweep_held_total", `side="ptd"`))
		e.logf("breaker transitions so far: open %.0f, half-open %.0f, closed %.0f",
			SumMetric(m, "ptsync_breaker_transitions_total", `state="open"`), SumMetric(m, "ptsync_breaker_transitions_total", `state="half-open"`),
			SumMetric(m, "ptsync_breaker_transitions_total", `state="closed"`))
	}
	if pid := e.svc.Pid(); pid != 0 {
		e.res.RSSEnd, _ = ReadRSS(pid)
	}
	return nil
}

// clearFaults turns every fault the soak set off again: listings honest, no injected errors
// or latency, tokens living their lifetime, HighLevel's limits back to the harness's.
func (e *env) clearFaults(ctx context.Context) error {
	for _, s := range []func() error{
		func() error { return e.g.SetListingFault(ctx, "") },
		func() error { return e.p.SetListingFault(ctx, "") },
		func() error { return e.g.SetFaults(ctx, GHLFaults{}) },
		func() error { return e.g.ExpireEvery(ctx, 0) },
		func() error { return e.g.SetLimits(ctx, 100, time.Second, 2000000, 24*time.Hour) },
		func() error { return e.p.SetFaults(ctx, PTDFaults{}) },
	} {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// soakFaults schedules the soak's faults over time: the base faults on both sides, the one
// HighLevel outage (from 5 s, for 6 s) when asked for, a 429 burst on both sides every 15 s
// lasting 3 s, a new PTD latency every 5 s outside bursts, and the lying listings. At most
// one of outage, burst and latency changes per step. Each new PTD base draws its latency from
// the scenario's rng, so a seed replays the same soak.
type soakFaults struct {
	e       *env
	ghlBase GHLFaults
	outage  bool          // an outage is wanted
	phase   int           // outage: 0 not yet, 1 on, 2 done
	burstOn bool          // a 429 burst is on
	burstAt time.Duration // when the last burst began
	// latencyAt is when PTD's latency was last redrawn outside a burst.
	latencyAt time.Duration
	duration  time.Duration
	lying     listingFaults
}

func newSoakFaults(e *env, o SoakOptions) *soakFaults {
	return &soakFaults{e: e, outage: o.Outage, duration: o.Duration,
		ghlBase: GHLFaults{ErrorRate: 0.10, ResetRate: 0.02, MalformedRate: 0.01, LatencyMin: "50ms", LatencyMax: "500ms",
			FutureTimestampRate: 0.1}}
}

// ptdBase is PTD's base faults with a latency drawn from 50 to 500 ms.
func (f *soakFaults) ptdBase() PTDFaults {
	return PTDFaults{ErrorRate: 0.10, ErrorStatus: 503, LatencyMs: int64(50 + f.e.rng.IntN(451)), FutureStampRate: 0.1}
}

// start turns the base faults on: HighLevel's, its access tokens dying every expireEvery
// calls, and PTD's.
func (f *soakFaults) start(ctx context.Context, expireEvery int) error {
	steps := []func() error{
		func() error { return f.e.g.SetFaults(ctx, f.ghlBase) },
		func() error { return f.e.g.ExpireEvery(ctx, expireEvery) },
		func() error { return f.e.p.SetFaults(ctx, f.ptdBase()) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// step applies what the schedule says at el since the faults went on, then the listings'.
func (f *soakFaults) step(ctx context.Context, el time.Duration) error {
	const outageAt = 5 * time.Second
	e := f.e
	var err error
	switch {
	case f.outage && f.phase == 0 && el >= outageAt:
		f.phase = 1
		e.logf("outage: every HighLevel request fails for 6s")
		err = e.g.SetFaults(ctx, GHLFaults{ErrorRate: 1, LatencyMin: f.ghlBase.LatencyMin, LatencyMax: f.ghlBase.LatencyMax})
	case f.phase == 1 && el >= outageAt+6*time.Second:
		f.phase = 2
		err = e.g.SetFaults(ctx, f.ghlBase)
	case !f.burstOn && el-f.burstAt >= 15*time.Second:
		f.burstOn, f.burstAt = true, el
		if err = e.g.SetLimits(ctx, 10, time.Second, 2000000, 24*time.Hour); err == nil {
			err = e.p.SetFaults(ctx, PTDFaults{ErrorRate: 0.6, ErrorStatus: 429, RetryAfterSeconds: 1, LatencyMs: 50})
		}
	case f.burstOn && el-f.burstAt >= 3*time.Second:
		f.burstOn = false
		if err = e.g.SetLimits(ctx, 100, time.Second, 2000000, 24*time.Hour); err == nil {
			err = e.p.SetFaults(ctx, f.ptdBase())
		}
	case !f.burstOn && el-f.latencyAt >= 5*time.Second:
		f.latencyAt = el
		err = e.p.SetFaults(ctx, f.ptdBase())
	}
	if err != nil {
		return err
	}
	return f.lying.step(ctx, e, el, f.duration)
}

// listingFaults schedules the lying listings of the soak over its duration d: PTD's client
// listing empty from 20 % to 40 % of it; from the second half, once HighLevel's breaker is
// seen closed (after the outage it stays open 30 s or more, and no listing reaches the
// simulator meanwhile), HighLevel's listing and search empty for d/8, then its listing cut to
// the first page for d/8. Both sweeps run every 5 s. Each change is logged once.
type listingFaults struct {
	ghl, ptd  string
	ghlStart  time.Duration // when the HighLevel lies began (0: not yet)
	lastProbe time.Duration
}

func (l *listingFaults) step(ctx context.Context, e *env, el, d time.Duration) error {
	at := float64(el) / float64(d)
	if l.ghlStart == 0 && at >= 0.5 && el-l.lastProbe >= time.Second {
		l.lastProbe = el
		if m, err := Scrape(ctx, e.metrics); err == nil && SumMetric(m, "ptsync_breaker_state", `upstream="ghl"`) == 0 {
			l.ghlStart = el
		}
	}
	ghl, ptd := "", ""
	switch {
	case at >= 0.2 && at < 0.4:
		ptd = "empty"
	case l.ghlStart > 0 && el < l.ghlStart+d/8:
		ghl = "empty"
	case l.ghlStart > 0 && el < l.ghlStart+d/4:
		ghl = "first_page"
	}
	if ghl == l.ghl && ptd == l.ptd {
		return nil
	}
	l.ghl, l.ptd = ghl, ptd
	e.logf("listings: highlevel %q, pt distinction %q", ghl, ptd)
	if err := e.g.SetListingFault(ctx, ghl); err != nil {
		return err
	}
	return e.p.SetListingFault(ctx, ptd)
}

// PrintTable writes the harness table: one row per result, then the details of any row that
// is not OK (at most 15 lines each) and the soak figures.
func PrintTable(w io.Writer, rs []Result) {
	fmt.Fprintf(w, "%-22s %5s %5s %8s %6s %5s %6s %10s %8s %6s %9s %6s %8s\n",
		"scenario", "runs", "kills", "tok-gap", "edits", "lost", "raced", "duplicated", "diverged", "outbox", "integrity", "panics", "time")
	for _, r := range rs {
		fmt.Fprintf(w, "%-22s %5d %5d %8d %6d %5d %6d %10d %8d %6d %9s %6d %8s\n", r.Scenario, r.Runs, r.Kills, r.TokenGapKills,
			r.Edits, r.Lost, r.Raced, r.Duplicated, r.Diverged, r.OutboxLeft, r.Integrity, r.Panics, r.Duration.Round(time.Second))
	}
	for _, r := range rs {
		var extra []string
		if r.ByRule > 0 || r.Held > 0 {
			extra = append(extra, fmt.Sprintf("%d edits overridden by the conflict rule (history shows it), %d fields held by open conflicts", r.ByRule, r.Held))
		}
		if r.RSSStart > 0 {
			extra = append(extra, fmt.Sprintf("RSS after backfill %.1f MiB, at the end of the faults %.1f MiB (x%.2f)",
				float64(r.RSSStart)/(1<<20), float64(r.RSSEnd)/(1<<20), float64(r.RSSEnd)/float64(r.RSSStart)))
		}
		if r.FutureStamps["ghl"]+r.FutureStamps["ptd"] > 0 {
			extra = append(extra, fmt.Sprintf("records read stamped in the future (ptsync counted): ghl %.0f, ptd %.0f",
				r.FutureStamps["ghl"], r.FutureStamps["ptd"]))
		}
		if len(r.Breaker) > 0 && r.Breaker["open"]+r.Breaker["half-open"]+r.Breaker["closed"] > 0 {
			extra = append(extra, fmt.Sprintf("breaker transitions: open %.0f, half-open %.0f, closed %.0f",
				r.Breaker["open"], r.Breaker["half-open"], r.Breaker["closed"]))
		}
		if len(r.Faults) > 0 {
			keys := make([]string, 0, len(r.Faults))
			for k := range r.Faults {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s %d", k, r.Faults[k]))
			}
			extra = append(extra, "HighLevel simulator counted: "+strings.Join(parts, ", "))
		}
		if r.Unexpected > 0 {
			extra = append(extra, fmt.Sprintf("%d unexpected service exits", r.Unexpected))
		}
		n := len(r.Details)
		if n > 15 {
			n = 15
		}
		if len(extra) == 0 && n == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", r.Scenario)
		for _, s := range extra {
			fmt.Fprintf(w, "  %s\n", s)
		}
		for _, s := range r.Details[:n] {
			fmt.Fprintf(w, "  %s\n", s)
		}
		if len(r.Details) > n {
			fmt.Fprintf(w, "  ... %d more\n", len(r.Details)-n)
		}
	}
}
