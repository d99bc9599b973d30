package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"ptsync/store"
	"ptsync/store/query"
)

// benchQueries times offline queries on the sz.Big mirror the ingest section built (or
// builds it): email lookups (p50/p99 over sz.Lookups random addresses, one read transaction
// each, as `ptsync query --email` does), a tag filter and a --where scan, each beside a raw
// bbolt cursor scan of the contacts bucket that does the cheapest equivalent test on the
// undecoded bytes.
func benchQueries(ctx context.Context, e *env) ([]row, error) {
	if e.bigDB == "" {
		h, err := e.bigSim()
		if err != nil {
			return nil, err
		}
		path := filepath.Join(e.dir, "big.db")
		if _, err := e.spawnChild(ctx, modeContacts, h.url, h.loc, h.token, path, false); err != nil {
			return nil, err
		}
		e.bigDB = path
	}
	db, err := store.Open(e.bigDB, store.Options{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("cannot open mirror: %w", err)
	}
	defer db.Close()
	raw, err := bolt.Open(e.bigDB, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("cannot open mirror with bbolt: %w", err)
	}
	defer raw.Close()

	var emails []string
	total := 0
	if err := db.View(func(tx *store.Tx) error {
		return tx.ForEachGHLContact(func(c *store.GHLContact) error {
			total++
			if c.Email != "" {
				emails = append(emails, c.Email)
			}
			return nil
		})
	}); err != nil {
		return nil, fmt.Errorf("cannot list emails: %w", err)
	}
	if len(emails) == 0 {
		return nil, fmt.Errorf("mirror holds no email")
	}
	now := time.Now()
	run := func(req query.Request) (query.Result, time.Duration, error) {
		var res query.Result
		t0 := time.Now()
		err := db.View(func(tx *store.Tx) error {
			var err error
			res, err = query.Run(tx, req, now)
			return err
		})
		return res, time.Since(t0), err
	}
	scan := func(match func(v []byte) bool) (int, time.Duration) {
		n := 0
		t0 := time.Now()
		_ = raw.View(func(tx *bolt.Tx) error {
			c := tx.Bucket([]byte("ghl.contacts")).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if match(v) {
					n++
				}
			}
			return nil
		})
		return n, time.Since(t0)
	}
	best := func(k int, f func() time.Duration) time.Duration {
		d := f()
		for range k - 1 {
			d = min(d, f())
		}
		return d
	}

	// Email lookups.
	r := rand.New(rand.NewPCG(uint64(e.seed), 6))
	lat := make([]time.Duration, 0, e.sz.Lookups)
	for range e.sz.Lookups {
		em := emails[r.IntN(len(emails))]
		res, d, err := run(query.Request{Kind: "contacts", Email: em})
		if err != nil {
			return nil, fmt.Errorf("email lookup: %w", err)
		}
		if len(res.Rows) == 0 {
			return nil, fmt.Errorf("email lookup of %q found nothing (plan %s)", em, res.Plan)
		}
		lat = append(lat, d)
	}
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	probe := []byte(`"` + emails[len(emails)/2] + `"`)
	emailScan := best(3, func() time.Duration {
		_, d := scan(func(v []byte) bool { return bytes.Contains(v, probe) })
		return d
	})

	// Tag filter and --where scan, best of three each.
	var tagRes, whereRes query.Result
	tagDur := best(3, func() time.Duration {
		res, d, err2 := run(query.Request{Kind: "contacts", Tag: "vip"})
		tagRes, err = res, err2
		return d
	})
	if err != nil {
		return nil, fmt.Errorf("tag filter: %w", err)
	}
	vip := []byte(`"vip"`)
	var tagRaw int
	tagScan := best(3, func() time.Duration {
		n, d := scan(func(v []byte) bool { return bytes.Contains(v, vip) })
		tagRaw = n
		return d
	})
	where := `contains(tags, "vip") && startswith(lastName, "S")`
	whereDur := best(3, func() time.Duration {
		res, d, err2 := run(query.Request{Kind: "contacts", Where: where})
		whereRes, err = res, err2
		return d
	})
	if err != nil {
		return nil, fmt.Errorf("where scan: %w", err)
	}
	at := []byte("@")
	fullScan := best(3, func() time.Duration {
		_, d := scan(func(v []byte) bool { return bytes.Contains(v, at) })
		return d
	})
	e.log("queries: %d contacts, %d emails; email p50 %v p99 %v; tag %d rows (%s, raw %d) in %v; where %d rows (%s, scanned %d) in %v",
		total, len(emails), p50, p99, len(tagRes.Rows), tagRes.Plan, tagRaw, tagDur, len(whereRes.Rows), whereRes.Plan, whereRes.Scanned, whereDur)

	sec := fmt.Sprintf("6 queries %s", num(int64(total)))
	return []row{
		{Section: sec, Metric: fmt.Sprintf("email lookup p50 / p99 (%d lookups, plan %s)", len(lat), "index:email"),
			Value: dur(p50) + " / " + dur(p99), Baseline: "raw cursor scan for the address: " + dur(emailScan), Ratio: ratio(p50.Seconds(), emailScan.Seconds())},
		{Section: sec, Metric: fmt.Sprintf("tag filter tag=vip (%s rows, plan %s)", num(int64(len(tagRes.Rows))), tagRes.Plan),
			Value: dur(tagDur), Baseline: "raw cursor scan for \"vip\": " + dur(tagScan), Ratio: ratio(tagDur.Seconds(), tagScan.Seconds())},
		{Section: sec, Metric: fmt.Sprintf("--where scan (%s rows of %s scanned)", num(int64(len(whereRes.Rows))), num(int64(whereRes.Scanned))),
			Value: dur(whereDur), Baseline: "raw cursor scan: " + dur(fullScan), Ratio: ratio(whereDur.Seconds(), fullScan.Seconds())},
	}, nil
}
