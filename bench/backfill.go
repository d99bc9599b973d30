package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"ptsync/sim/ghlsim"
)

// benchBackfill runs ptsync's first full sync and the naive sequential poller at the same
// time, each against its own simulator (same seed, so the same data) enforcing HighLevel's
// limits time-scaled: BurstMax per BurstWindow with latency scaled by the same factor. The
// two never share a rate budget; running them side by side halves the wall time of the
// benchmark and costs neither any CPU worth measuring (both wait on the network).
func benchBackfill(ctx context.Context, e *env) ([]row, error) {
	sz := e.sz
	so := simOptions{seed: e.seed, burstMax: sz.BurstMax, burstWindow: sz.BurstWindow, latMin: sz.LatencyMin, latMax: sz.LatencyMax}
	simP, urlP, err := startSim(so)
	if err != nil {
		return nil, err
	}
	defer simP.Close()
	simN, urlN, err := startSim(so)
	if err != nil {
		return nil, err
	}
	defer simN.Close()
	e.log("backfill: seeding %d contacts with children twice", sz.Backfill)
	simP.Seed(sz.Backfill)
	simN.Seed(sz.Backfill)

	side, err := openSide(sideOptions{dbPath: filepath.Join(e.dir, "backfill.db"), baseURL: urlP, location: simP.LocationID(),
		token: simP.IssuePIT(), burstMax: sz.BurstMax, burstWindow: sz.BurstWindow})
	if err != nil {
		return nil, err
	}
	defer side.close()
	naive := newNaivePoller(urlN, simN.LocationID(), simN.IssuePIT())
	// Let both windows empty so neither starts against a window the seeding warmed (it does
	// not, seeding is no API call, but a PIT issue could become one in the simulator).
	simP.ResetCounters()
	simN.ResetCounters()

	pWall, nWall, pContacts, pErr, nErr := raceBackfills(ctx, e, side, naive, simP.Counters, simN.Counters)
	if pErr != nil {
		return nil, fmt.Errorf("ptsync backfill: %w", pErr)
	}
	if nErr != nil {
		return nil, fmt.Errorf("naive backfill: %w", nErr)
	}
	cp, cn := simP.Counters(), simN.Counters()
	if pContacts != sz.Backfill || int(naive.contacts) != sz.Backfill {
		return nil, fmt.Errorf("backfill incomplete: ptsync read %d, naive %d of %d contacts", pContacts, naive.contacts, sz.Backfill)
	}
	allowed := float64(sz.BurstMax) / sz.BurstWindow.Seconds()
	pRate := float64(cp.Total) / pWall.Seconds()
	nRate := float64(cn.Total) / nWall.Seconds()
	p429 := cp.RateLimitedBurst + cp.RateLimitedDaily
	n429 := cn.RateLimitedBurst + cn.RateLimitedDaily
	sec := fmt.Sprintf("1 backfill %s", num(int64(sz.Backfill)))
	e.log("backfill: ptsync %d req in %v (%v), naive %d req in %v", cp.Total, pWall, pRate, cn.Total, nWall)
	return []row{
		{Section: sec, Metric: fmt.Sprintf("request rate / allowed (%d per %v, latency %v-%v)", sz.BurstMax, sz.BurstWindow, sz.LatencyMin, sz.LatencyMax),
			Value: fmt.Sprintf("%.3f (%.1f req/s)", pRate/allowed, pRate), Baseline: fmt.Sprintf("naive SDK-style: %.3f (%.1f req/s)", nRate/allowed, nRate),
			Ratio: ratio(pRate, nRate), Target: ">= 0.97", Verdict: verdict(pRate/allowed >= 0.97)},
		{Section: sec, Metric: "429 responses", Value: num(p429), Baseline: "naive: " + num(n429), Target: "0", Verdict: verdict(p429 == 0)},
		{Section: sec, Metric: "wall time", Value: dur(pWall), Baseline: "naive: " + dur(nWall), Ratio: ratio(pWall.Seconds(), nWall.Seconds())},
		{Section: sec, Metric: "requests (N/100 + 3N = " + num(int64(sz.Backfill/100+3*sz.Backfill)) + ")",
			Value: num(cp.Total) + " " + routeMix(cp.Requests), Baseline: "naive: " + num(cn.Total), Ratio: ratio(float64(cp.Total), float64(cn.Total))},
	}, nil
}

// raceBackfills runs ptsync's backfill and the naive one at the same time, logging both
// request counts every 15 s, and returns their wall times, ptsync's contacts and errors.
func raceBackfills(ctx context.Context, e *env, side *ptsyncSide, naive *naivePoller, pCounts, nCounts func() ghlsim.Counters) (
	pWall, nWall time.Duration, pContacts int, pErr, nErr error) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		t0 := time.Now()
		st, err := side.poller.Backfill(ctx, nil)
		pWall, pErr, pContacts = time.Since(t0), err, st.Contacts.Read
	}()
	go func() {
		defer wg.Done()
		t0 := time.Now()
		nErr = naive.backfill(ctx)
		nWall = time.Since(t0)
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return pWall, nWall, pContacts, pErr, nErr
		case <-tick.C:
			e.log("backfill: ptsync %d requests, naive %d requests", pCounts().Total, nCounts().Total)
		}
	}
}

// routeMix summarizes the non-child routes of a run, e.g. "(search 10)".
func routeMix(req map[string]int64) string {
	var search, list, get int64
	for k, v := range req {
		switch k {
		case "POST /contacts/search":
			search += v
		case "GET /contacts/":
			list += v
		case "GET /contacts/{contactId}":
			get += v
		}
	}
	return fmt.Sprintf("(search %d, list %d, get %d)", search, list, get)
}
