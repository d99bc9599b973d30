package store

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func benchNow() time.Time { return time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC) }

// ingestBatch is how many contacts one transaction writes, like a page of the HighLevel poller.
const ingestBatch = 250

// benchContact builds contact i the way the poller stores one: normalized fields, a
// realistic raw HighLevel object (~1 KB with custom fields) and three tags.
func benchContact(i int) GHLContact {
	now := benchNow()
	tags := []string{"newsletter", "online"}
	if i%10 == 0 {
		tags = append(tags, "vip")
	}
	c := GHLContact{ID: fmt.Sprintf("ing-%08d", i), Email: fmt.Sprintf("user%d@example.com", i),
		Phone: fmt.Sprintf("+1555%07d", i), FirstName: fmt.Sprintf("First%d", i), LastName: "Last", Tags: tags,
		DateAdded: now.Add(-time.Duration(i) * time.Minute), DateUpdated: now.Add(-time.Duration(i) * time.Second),
		FetchedAt: now}
	custom := make([]map[string]any, 8)
	for j := range custom {
		custom[j] = map[string]any{"id": fmt.Sprintf("cf%02d", j), "value": strings.Repeat("x", 40)}
	}
	c.Raw, _ = json.Marshal(map[string]any{"id": c.ID, "email": c.Email, "phone": c.Phone, "firstName": c.FirstName,
		"lastName": c.LastName, "tags": c.Tags, "dateAdded": c.DateAdded, "dateUpdated": c.DateUpdated,
		"locationId": "loc-1", "source": "import", "city": "Springfield", "customFields": custom})
	return c
}

// BenchmarkIngest compares, in the same run, PutGHLContact in transactions of 250 with two
// baselines in a bare bbolt file opened with the store's options: raw puts of the very bytes
// the store writes for those contacts, encoded beforehand and untimed ("bytes"), and
// json.Marshal plus put ("raw": what a writer without the store would do). Each iteration
// runs both baselines, one store transaction inserting new contacts and one rewriting
// existing ones (a re-poll: dateUpdated and fetchedAt move), timed
// separately and interleaved so that a busy machine slows all three alike. It runs with fsync
// on every commit (what the service does) and without (the CPU cost fsync hides).
// ingest_vs_raw is baseline time over store time (the benchmark suite wants >= 0.5).
//
//	go test ./store -run '^$' -bench Ingest -benchtime 100x
func BenchmarkIngest(b *testing.B) {
	for _, sync := range []bool{true, false} {
		name := "fsync"
		if !sync {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) { benchIngest(b, sync) })
	}
}

// benchPool holds prebuilt contacts so that building them is not timed; contact i is
// pool[i%len] with its own id.
func benchPool() []GHLContact {
	pool := make([]GHLContact, 1000)
	for i := range pool {
		pool[i] = benchContact(i)
	}
	return pool
}

func benchIngest(b *testing.B, sync bool) {
	pool := benchPool()
	// HighLevel ids are random strings and a poll pages through contacts in dateUpdated
	// order: ids land all over the primary bucket, dateUpdated at the end of its index.
	contact := func(i int) GHLContact {
		c := pool[i%len(pool)]
		c.ID = fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15)
		c.Email = fmt.Sprintf("user%d@example.com", i)
		c.DateUpdated = benchNow().Add(time.Duration(i) * time.Second)
		return c
	}
	dir := b.TempDir()
	bdb, err := bolt.Open(filepath.Join(dir, "raw.db"), 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		b.Fatal(err)
	}
	defer bdb.Close()
	bdb.NoSync = !sync
	if err := bdb.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucket([]byte("b")); err != nil {
			return err
		}
		_, err := tx.CreateBucket([]byte("c"))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	open := func(name string) *DB {
		db, err := Open(filepath.Join(dir, name), Options{Now: benchNow})
		if err != nil {
			b.Fatal(err)
		}
		db.bolt.NoSync = !sync // CPU cost alone; the store never does this outside tests
		return db
	}
	ins, upd := open("insert.db"), open("update.db")
	defer ins.Close()
	defer upd.Close()
	const updN = 20 * ingestBatch
	put := func(db *DB, from int, mod func(*GHLContact)) error {
		return db.Update(func(tx *Tx) error {
			for i := from; i < from+ingestBatch; i++ {
				c := contact(i)
				if mod != nil {
					mod(&c)
				}
				if err := tx.PutGHLContact(&c); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for from := 0; from < updN; from += ingestBatch {
		if err := put(upd, from, nil); err != nil {
			b.Fatal(err)
		}
	}
	var bytesPut, raw, insert, update time.Duration
	round := 0
	keys, vals := make([][]byte, ingestBatch), make([][]byte, ingestBatch)
	for b.Loop() {
		from := round * ingestBatch
		round++
		for i := range ingestBatch { // the store's own bytes, encoded untimed
			c := contact(from + i)
			keys[i], vals[i] = []byte(c.ID), must(encodeValue(&c))
		}
		tb := time.Now()
		err := bdb.Update(func(tx *bolt.Tx) error {
			bk := tx.Bucket([]byte("b"))
			for i := range keys {
				if err := bk.Put(keys[i], vals[i]); err != nil {
					return err
				}
			}
			return nil
		})
		t0 := time.Now()
		if err == nil {
			err = bdb.Update(func(tx *bolt.Tx) error {
				bk := tx.Bucket([]byte("c"))
				for i := from; i < from+ingestBatch; i++ {
					c := contact(i)
					v, err := json.Marshal(&c)
					if err != nil {
						return err
					}
					if err := bk.Put([]byte(c.ID), v); err != nil {
						return err
					}
				}
				return nil
			})
		}
		t1 := time.Now()
		if err == nil {
			err = put(ins, from, nil)
		}
		t2 := time.Now()
		if err == nil {
			err = put(upd, from%updN, func(c *GHLContact) {
				c.DateUpdated = c.DateUpdated.Add(time.Duration(round) * time.Hour)
				c.FetchedAt = c.FetchedAt.Add(time.Duration(round) * time.Hour)
			})
		}
		t3 := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		bytesPut, raw, insert, update = bytesPut+t0.Sub(tb), raw+t1.Sub(t0), insert+t2.Sub(t1), update+t3.Sub(t2)
	}
	per := func(d time.Duration) float64 { return float64(d) / float64(b.N*ingestBatch) }
	b.ReportMetric(per(bytesPut), "bytes-ns/record")
	b.ReportMetric(per(raw), "raw-ns/record")
	b.ReportMetric(float64(bytesPut)/float64(insert), "insert_vs_bytes")
	b.ReportMetric(per(insert), "insert-ns/record")
	b.ReportMetric(per(update), "update-ns/record")
	b.ReportMetric(float64(raw)/float64(insert), "insert_vs_raw")
	b.ReportMetric(float64(raw)/float64(update), "update_vs_raw")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
