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

// queryBench holds the sz.Big mirror opened twice: through the store (the queries) and with
// plain bbolt (the raw cursor scans they are compared with).
type queryBench struct {
	db     *store.DB
	raw    *bolt.DB
	now    time.Time
	emails []string
	total  int
}

// benchQueries times offline queries on the sz.Big mirror the ingest section built (or
// builds it): email lookups (p50/p99 over sz.Lookups random addresses, one read transaction
// each, as `ptsync query --email` does), a tag filter and a --where scan, each beside a raw
// bbolt cursor scan of the contacts bucket that does the cheapest equivalent test on the
// undecoded bytes.
func benchQueries(ctx context.Context, e *env) ([]row, error) {
	q, err := openQueryBench(ctx, e)
	if err != nil {
		return nil, err
	}
	defer q.db.Close()
	defer q.raw.Close()
	sec := fmt.Sprintf("6 queries %s", num(int64(q.total)))
	email, err := q.emailRow(e, sec)
	if err != nil {
		return nil, err
	}
	tag, err := q.tagRow(sec)
	if err != nil {
		return nil, err
	}
	where, err := q.whereRow(sec)
	if err != nil {
		return nil, err
	}
	return []row{email, tag, where}, nil
}

func openQueryBench(ctx context.Context, e *env) (*queryBench, error) {
	if e.bigDB == "" {
		h, err := e.bigSim(ctx)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(e.dir, "big.db")
		if _, err := e.spawnChild(ctx, modeContacts, h, path, false); err != nil {
			return nil, err
		}
		e.bigDB = path
	}
	db, err := store.Open(e.bigDB, store.Options{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("cannot open mirror: %w", err)
	}
	raw, err := bolt.Open(e.bigDB, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot open mirror with bbolt: %w", err)
	}
	q := &queryBench{db: db, raw: raw, now: time.Now()}
	if err := db.View(func(tx *store.Tx) error {
		return tx.ForEachGHLContact(func(c *store.GHLContact) error {
			q.total++
			if c.Email != "" {
				q.emails = append(q.emails, c.Email)
			}
			return nil
		})
	}); err != nil {
		q.db.Close()
		q.raw.Close()
		return nil, fmt.Errorf("cannot list emails: %w", err)
	}
	if len(q.emails) == 0 {
		q.db.Close()
		q.raw.Close()
		return nil, fmt.Errorf("mirror holds no email")
	}
	return q, nil
}

// run answers req in one read transaction, as `ptsync query` does, and times it.
func (q *queryBench) run(req query.Request) (query.Result, time.Duration, error) {
	var res query.Result
	t0 := time.Now()
	err := q.db.View(func(tx *store.Tx) error {
		var err error
		res, err = query.Run(tx, req, q.now)
		return err
	})
	return res, time.Since(t0), err
}

// scan walks the contacts bucket with a raw cursor, counting the values match accepts.
func (q *queryBench) scan(match func(v []byte) bool) (int, time.Duration) {
	n := 0
	t0 := time.Now()
	_ = q.raw.View(func(tx *bolt.Tx) error {
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

// best is the shortest of k runs of f.
func best(k int, f func() time.Duration) time.Duration {
	d := f()
	for range k - 1 {
		d = min(d, f())
	}
	return d
}

func (q *queryBench) emailRow(e *env, sec string) (row, error) {
	r := rand.New(rand.NewPCG(uint64(e.seed), 6))
	lat := make([]time.Duration, 0, e.sz.Lookups)
	for range e.sz.Lookups {
		em := q.emails[r.IntN(len(q.emails))]
		res, d, err := q.run(query.Request{Kind: "contacts", Email: em})
		if err != nil {
			return row{}, fmt.Errorf("email lookup: %w", err)
		}
		if len(res.Rows) == 0 {
			return row{}, fmt.Errorf("email lookup of %q found nothing (plan %s)", em, res.Plan)
		}
		lat = append(lat, d)
	}
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	probe := []byte(`"` + q.emails[len(q.emails)/2] + `"`)
	scan := best(3, func() time.Duration {
		_, d := q.scan(func(v []byte) bool { return bytes.Contains(v, probe) })
		return d
	})
	e.log("queries: %d contacts, %d emails; email p50 %v p99 %v", q.total, len(q.emails), p50, p99)
	return row{Section: sec, Metric: fmt.Sprintf("email lookup p50 / p99 (%d lookups, plan %s)", len(lat), "index:email"),
		Value: dur(p50) + " / " + dur(p99), Baseline: "raw cursor scan for the address: " + dur(scan), Ratio: ratio(p50.Seconds(), scan.Seconds())}, nil
}

func (q *queryBench) tagRow(sec string) (row, error) {
	var res query.Result
	var err error
	d := best(3, func() time.Duration {
		r, d, err2 := q.run(query.Request{Kind: "contacts", Tag: "vip"})
		res, err = r, err2
		return d
	})
	if err != nil {
		return row{}, fmt.Errorf("tag filter: %w", err)
	}
	vip := []byte(`"vip"`)
	scan := best(3, func() time.Duration {
		_, d := q.scan(func(v []byte) bool { return bytes.Contains(v, vip) })
		return d
	})
	return row{Section: sec, Metric: fmt.Sprintf("tag filter tag=vip (%s rows, plan %s)", num(int64(len(res.Rows))), res.Plan),
		Value: dur(d), Baseline: "raw cursor scan for \"vip\": " + dur(scan), Ratio: ratio(d.Seconds(), scan.Seconds())}, nil
}

func (q *queryBench) whereRow(sec string) (row, error) {
	var res query.Result
	var err error
	where := `contains(tags, "vip") && startswith(lastName, "S")`
	d := best(3, func() time.Duration {
		r, d, err2 := q.run(query.Request{Kind: "contacts", Where: where})
		res, err = r, err2
		return d
	})
	if err != nil {
		return row{}, fmt.Errorf("where scan: %w", err)
	}
	at := []byte("@")
	scan := best(3, func() time.Duration {
		_, d := q.scan(func(v []byte) bool { return bytes.Contains(v, at) })
		return d
	})
	return row{Section: sec, Metric: fmt.Sprintf("--where scan (%s rows of %s scanned)", num(int64(len(res.Rows))), num(int64(res.Scanned))),
		Value: dur(d), Baseline: "raw cursor scan: " + dur(scan), Ratio: ratio(d.Seconds(), scan.Seconds())}, nil
}
