package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// bigSim returns the endpoint holding sz.Big contacts, seeding and recording it on first
// use; the ingest, memory and query sections share it.
func (e *env) bigSim(ctx context.Context) (*simHandle, error) {
	if e.big != nil {
		return e.big, nil
	}
	h, err := newSimHandle(ctx, e, e.sz.Big, e.seed+2)
	if err != nil {
		return nil, err
	}
	e.big = h
	return h, nil
}

// simHandle is a HighLevel endpoint for child syncs and the credentials a child needs for
// it: the replay (replay.go) of an unthrottled simulator's search walk.
type simHandle struct {
	close    func() error
	url, loc string
	token    string
	contacts int
}

// newSimHandle seeds a simulator with n contacts (and their children), records its search
// walk and serves it from a replay server; the simulator is closed once recorded.
func newSimHandle(ctx context.Context, e *env, n int, seed int64) (*simHandle, error) {
	s, url, err := startSim(simOptions{seed: seed})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	t0 := time.Now()
	s.Seed(n)
	seeded := time.Since(t0)
	tok := s.IssuePIT()
	pages, seen, err := recordSearch(ctx, url, s.LocationID(), tok)
	if err != nil {
		return nil, err
	}
	if seen != n {
		return nil, fmt.Errorf("recorded search walk holds %d of %d contacts", seen, n)
	}
	r, err := startReplay(pages, s.LocationID(), tok)
	if err != nil {
		return nil, err
	}
	e.log("seeded a simulator with %d contacts in %.1fs, recorded its search walk (%d pages) in %.1fs",
		n, seeded.Seconds(), len(pages), (time.Since(t0) - seeded).Seconds())
	return &simHandle{close: r.close, url: r.url, loc: s.LocationID(), token: tok, contacts: n}, nil
}

// benchIngest mirrors sz.Big contacts through the first sync's contacts phase in a child
// process and compares the rate and the bytes written with the baselines the child measures
// right after (baselines.go).
func benchIngest(ctx context.Context, e *env) ([]row, error) {
	h, err := e.bigSim(ctx)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(e.dir, "big.db")
	_ = os.Remove(path)
	res, err := e.spawnChild(ctx, modeContacts, h, path, true)
	if err != nil {
		return nil, err
	}
	if res.Contacts != h.contacts {
		return nil, fmt.Errorf("ingest read %d of %d contacts", res.Contacts, h.contacts)
	}
	e.bigDB = path
	e.bigIngest = &res
	e.log("ingest: %+v", res)
	b := res.Base
	n := float64(res.Contacts)
	ptsyncRate, putRate, bulkRate, fetchRate := n/res.Seconds, n/b.PutSeconds, n/b.BulkSeconds, n/b.FetchPutSeconds
	written := float64(res.WriteBytes) / float64(b.PutBytes)
	sec := fmt.Sprintf("3 ingest %s", num(int64(res.Contacts)))
	return []row{
		{Section: sec, Metric: "contacts/s through the first sync (Backfill: search walk, bulk load, index build)", Value: rate(ptsyncRate),
			Baseline: fmt.Sprintf("(a) raw bbolt puts of the same %s, %d per tx: %s/s", mib(b.PutBytes), ingestPage, rate(putRate)),
			Ratio:    ratio(ptsyncRate, putRate), Target: ">= 0.7x", Verdict: verdict(ptsyncRate >= 0.7*putRate)},
		{Section: sec, Metric: fmt.Sprintf("  vs (b) the same records + %s index entries bulk-loaded by plain bbolt (sorted, fill 1.0)", num(int64(b.BulkEntries))),
			Value: rate(ptsyncRate), Baseline: fmt.Sprintf("(b) bulk load: %s/s", rate(bulkRate)), Ratio: ratio(ptsyncRate, bulkRate)},
		{Section: sec, Metric: "  time: search walk (staging) + bulk load (merge, index build)",
			Value: fmt.Sprintf("%s + %s", dur(secs(res.WalkSeconds)), dur(secs(res.Seconds-res.WalkSeconds)))},
		{Section: sec, Metric: "  end to end vs the same fetch + raw put (plain net/http, no decode, no index)", Value: rate(ptsyncRate),
			Baseline: fmt.Sprintf("fetch + raw put: %s/s", rate(fetchRate)), Ratio: ratio(ptsyncRate, fetchRate)},
		{Section: sec, Metric: "bytes written to storage during the sync / contact bytes (file size)",
			Value:    fmt.Sprintf("%s (%s)", mib(res.WriteBytes), mib(res.DBBytes)),
			Baseline: fmt.Sprintf("contact bytes %s; (a) wrote %s, (b) %s", mib(b.PutBytes), mib(b.PutWriteBytes), mib(b.BulkWriteBytes)),
			Ratio:    fmt.Sprintf("%.3gx", written), Target: "<= 4x", Verdict: verdict(written <= 4)},
	}, nil
}

// benchMemory mirrors sz.Small and sz.Big contacts, each in its own child process, and
// compares their peak memory. The sync is the contacts phase of the first sync (see
// modeContacts): the children phase keeps no more than one contact's children per worker in
// memory, and an unthrottled children backfill of 100,000 contacts is bound by fsync (one
// batched commit per few contacts), far too slow for the driver's 10-minute budget. The large
// run is the ingest section's child when it ran.
func benchMemory(ctx context.Context, e *env) ([]row, error) {
	big, err := e.bigSim(ctx)
	if err != nil {
		return nil, err
	}
	small, err := newSimHandle(ctx, e, e.sz.Small, e.seed+3)
	if err != nil {
		return nil, err
	}
	defer small.close()
	var res [2]childResult
	for i, h := range []*simHandle{small, big} {
		if h == big && e.bigIngest != nil {
			res[i] = *e.bigIngest
			continue
		}
		path := filepath.Join(e.dir, fmt.Sprintf("mem-%d.db", h.contacts))
		_ = os.Remove(path)
		r, err := e.spawnChild(ctx, modeContacts, h, path, false)
		if err != nil {
			return nil, err
		}
		if r.Contacts != h.contacts {
			return nil, fmt.Errorf("memory: sync read %d of %d contacts", r.Contacts, h.contacts)
		}
		e.log("memory: %+v", r)
		res[i] = r
		_ = os.Remove(path)
	}
	return memoryRows(res[0], res[1]), nil
}

func memoryRows(small, big childResult) []row {
	sec := "4 memory"
	pair := func(metric string, s, b int64, fmtv func(int64) string) row {
		return row{Section: sec, Metric: metric, Value: fmt.Sprintf("%s: %s", num(int64(big.Contacts)), fmtv(b)),
			Baseline: fmt.Sprintf("%s: %s", num(int64(small.Contacts)), fmtv(s)), Ratio: ratio(float64(b), float64(s))}
	}
	anon := pair(fmt.Sprintf("peak anonymous RSS (RssAnon: process memory), syncing %s vs %s contacts", num(int64(big.Contacts)), num(int64(small.Contacts))),
		small.PeakAnonKiB, big.PeakAnonKiB, kib)
	anon.Target, anon.Verdict = "<= 1.5x", verdict(float64(big.PeakAnonKiB) <= 1.5*float64(small.PeakAnonKiB))
	return []row{anon,
		pair("  peak RSS (VmHWM: also the mapped mirror file's pages, the kernel's to drop)", small.VmHWMKiB, big.VmHWMKiB, kib),
		pair("  peak Go heap (objects, sampled)", small.PeakHeapKiB, big.PeakHeapKiB, kib),
		pair("  mirror file size", small.DBBytes, big.DBBytes, mib),
	}
}

func mib(b int64) string           { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
func kib(k int64) string           { return fmt.Sprintf("%.1f MiB", float64(k)/1024) }
func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
