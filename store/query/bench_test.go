package query_test

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"ptsync/store"
	"ptsync/store/query"
	"ptsync/store/storetest"
)

// BenchmarkQuery100k builds a 100,000-contact mirror and times, in the same run, a raw bbolt
// cursor scan of the contacts bucket (the baseline: reading every value, no decoding) and the
// engine's email lookup, tag filter and --where scans. Each sub-benchmark reports its cost as
// a ratio to the baseline (x_rawscan), both timed in the same iterations (ns/op counts both;
// query-ms/op is the query alone).
//
//	go test ./store/query -run '^$' -bench Query100k -benchtime 3x   (-short: 10,000 contacts)
func BenchmarkQuery100k(b *testing.B) {
	n := benchN()
	path := filepath.Join(b.TempDir(), "big.db")
	db, err := store.Open(path, store.Options{Now: storetest.Now})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	storetest.Big(b, db, n)
	b.Logf("built %d contacts in %v", n, time.Since(start))
	_ = db.Close()

	raw, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	rawScan := func() time.Duration {
		start := time.Now()
		count := 0
		_ = raw.View(func(tx *bolt.Tx) error {
			c := tx.Bucket([]byte("ghl.contacts")).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if bytes.IndexByte(v, '@') >= 0 {
					count++
				}
			}
			return nil
		})
		if count != n {
			b.Fatalf("raw scan saw %d", count)
		}
		return time.Since(start)
	}
	b.Run("raw-bbolt-scan", func(b *testing.B) {
		for b.Loop() {
			rawScan()
		}
	})

	// bbolt allows read-only handles side by side, so the raw scan stays open next to the
	// store's; every iteration times one raw scan and one query, so that a busy machine
	// slows the baseline and the query alike.
	db, err = store.Open(path, store.Options{ReadOnly: true, Now: storetest.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	cases := []struct {
		name string
		req  query.Request
		rows int
	}{
		{"email-lookup", query.Request{Kind: "contacts", Email: "user4242@example.com"}, 1},
		{"tag-filter", query.Request{Kind: "contacts", Tag: "vip"}, n / 10},
		{"tag-where-derived", query.Request{Kind: "contacts", Tag: "vip", Where: "overdueTasks > 0"}, (n + 29) / 30},
		{"where-scan", query.Request{Kind: "contacts", Where: `contains(tags, "vip") && startswith(firstName, "First4")`}, -1},
		{"where-scan-derived", query.Request{Kind: "contacts", Where: `overdueTasks > 0`}, (n + 5) / 6},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var res query.Result
			var base, spent time.Duration
			for b.Loop() {
				base += rawScan()
				start := time.Now()
				err := db.View(func(tx *store.Tx) error {
					var err error
					res, err = query.Run(tx, tc.req, storetest.Now())
					return err
				})
				spent += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
			}
			if tc.rows >= 0 && len(res.Rows) != tc.rows {
				b.Fatalf("%d rows, want %d", len(res.Rows), tc.rows)
			}
			perOp := float64(spent) / float64(b.N)
			ratio := float64(spent) / float64(base)
			b.ReportMetric(perOp/1e6, "query-ms/op")
			b.ReportMetric(float64(res.Scanned), "scanned/op")
			b.ReportMetric(ratio, "x_rawscan")
			b.Logf("%s: plan %s, scanned %d, rows %d, %.3f ms/op, raw scan %.3f ms/op, %.4fx raw scan", tc.name, res.Plan,
				res.Scanned, len(res.Rows), perOp/1e6, float64(base)/float64(b.N)/1e6, ratio)
		})
	}
}

func benchN() int {
	if testing.Short() {
		return 10_000
	}
	return 100_000
}
