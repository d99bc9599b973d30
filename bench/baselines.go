package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"ptsync/apiclient/ghlwire"
)

// baselines are what plain code does with the same data, measured by the ingest child right
// after ptsync's sync, in the same process:
//   - FetchPut: the same search walk with plain net/http, each contact's JSON put as received,
//     one transaction per page (end to end: no decoding, no normalization, no index);
//   - (a) Put: the exact key/value bytes ptsync stored for the contacts, put into an empty
//     bbolt file in the order the search delivered them, ingestPage per transaction;
//   - (b) Bulk: the same logical content as ptsync's mirror — those records and every index
//     entry ptsync stored for them — bulk-loaded by the best plain bbolt code we could write:
//     everything in memory, each bucket's keys sorted, written in key order with FillPercent
//     1.0 in transactions of bulkBaselineTx bytes (an unbounded heap, which ptsync may not use).
//
// The *WriteBytes are /proc/self/io write_bytes during each.
type baselines struct {
	FetchPutSeconds float64 `json:"fetchPutSeconds"`
	PutSeconds      float64 `json:"putSeconds"`
	PutBytes        int64   `json:"putBytes"`
	PutRecords      int     `json:"putRecords"`
	PutWriteBytes   int64   `json:"putWriteBytes"`
	BulkSeconds     float64 `json:"bulkSeconds"`
	BulkEntries     int     `json:"bulkEntries"`
	BulkWriteBytes  int64   `json:"bulkWriteBytes"`
}

// bulkBaselineTx is baseline (b)'s transaction size.
const bulkBaselineTx = 64 << 20

// kv is one key/value pair to put; bucket names its bucket in baseline (b).
type kv struct{ bucket, k, v []byte }

func measureBaselines(ctx context.Context, pr childParams, contacts int) (baselines, error) {
	var b baselines
	dir := filepath.Dir(pr.dbPath)
	t0 := time.Now()
	order, err := rawFetchPut(ctx, pr.url, pr.loc, pr.tok, filepath.Join(dir, "raw-fetch.db"))
	if err != nil {
		return b, err
	}
	if len(order) != contacts {
		return b, fmt.Errorf("raw fetch saw %d contacts, ptsync %d", len(order), contacts)
	}
	b.FetchPutSeconds = time.Since(t0).Seconds()
	recs, entries, err := readStored(pr.dbPath, order)
	if err != nil {
		return b, err
	}
	for _, r := range recs {
		b.PutBytes += int64(len(r.k) + len(r.v))
	}
	b.PutRecords, b.BulkEntries = len(recs), len(entries)
	w0 := procField("/proc/self/io", "write_bytes:")
	if b.PutSeconds, err = rawPut(filepath.Join(dir, "raw-put.db"), recs); err != nil {
		return b, err
	}
	w1 := procField("/proc/self/io", "write_bytes:")
	if b.BulkSeconds, err = bulkPut(filepath.Join(dir, "bulk-put.db"), recs, entries); err != nil {
		return b, err
	}
	b.PutWriteBytes, b.BulkWriteBytes = w1-w0, procField("/proc/self/io", "write_bytes:")-w1
	return b, nil
}

// rawFetchPut is the end-to-end baseline: the same POST /contacts/search walk ptsync makes
// (dateUpdated ascending, searchAfter, pages of 500), with plain net/http, and every
// contact's JSON put as received under its id, one bbolt transaction per page. No decoding
// beyond finding the id and the cursor, no normalization, no indexes. It returns the ids in
// the order they arrived.
func rawFetchPut(ctx context.Context, base, loc, tok, path string) ([]string, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("cannot open raw baseline file: %w", err)
	}
	defer db.Close()
	hc := &http.Client{Timeout: time.Minute}
	var after []any
	var n []string
	for {
		page, err := searchPage(ctx, hc, base, loc, tok, after)
		if err != nil {
			return n, err
		}
		err = db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("contacts"))
			if err != nil {
				return err
			}
			for _, raw := range page.Contacts {
				var id struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(raw, &id); err != nil {
					return err
				}
				if err := b.Put([]byte(id.ID), raw); err != nil {
					return err
				}
				n = append(n, id.ID)
			}
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("cannot put raw page: %w", err)
		}
		if len(page.Contacts) < ingestPage {
			return n, nil
		}
		if after, err = lastSearchAfter(page.Contacts); err != nil {
			return n, err
		}
	}
}

// rawSearchPage is a search answer with its contacts left undecoded.
type rawSearchPage struct {
	Contacts []json.RawMessage `json:"contacts"`
}

// searchPage posts one search request of ingestPage rows after after (nil: the first page).
func searchPage(ctx context.Context, hc *http.Client, base, loc, tok string, after []any) (rawSearchPage, error) {
	var page rawSearchPage
	ans, err := searchRaw(ctx, hc, base, loc, tok, after)
	if err != nil {
		return page, err
	}
	if err := json.Unmarshal(ans.body, &page); err != nil {
		return page, fmt.Errorf("cannot read search page: %w", err)
	}
	return page, nil
}

// searchRaw posts the search request ptsync makes (ingestPage rows after after, nil: the
// first page, dateUpdated ascending) and returns the 200 answer's headers and bytes.
func searchRaw(ctx context.Context, hc *http.Client, base, loc, tok string, after []any) (recordedAnswer, error) {
	body, err := json.Marshal(ghlwire.SearchRequest{LocationID: loc, PageLimit: ingestPage, SearchAfter: after,
		Sort: []ghlwire.SearchSort{{Field: "dateUpdated", Direction: "asc"}}})
	if err != nil {
		return recordedAnswer{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/contacts/search", bytes.NewReader(body))
	if err != nil {
		return recordedAnswer{}, err
	}
	req.Header.Set(ghlwire.HeaderAuthorization, "Bearer "+tok)
	req.Header.Set(ghlwire.HeaderVersion, ghlwire.APIVersion)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return recordedAnswer{}, fmt.Errorf("cannot search: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return recordedAnswer{}, fmt.Errorf("cannot read search page (status %d): %v", resp.StatusCode, err)
	}
	h := resp.Header.Clone()
	h.Del("Date")
	h.Del("Content-Length")
	return recordedAnswer{header: h, body: b}, nil
}

// lastSearchAfter returns the searchAfter cursor of the last contact of a full page.
func lastSearchAfter(contacts []json.RawMessage) ([]any, error) {
	var last struct {
		SearchAfter []any `json:"searchAfter"`
	}
	if err := json.Unmarshal(contacts[len(contacts)-1], &last); err != nil || len(last.SearchAfter) == 0 {
		return nil, fmt.Errorf("cannot read searchAfter of the last row: %v", err)
	}
	return last.SearchAfter, nil
}

// readStored returns the contacts ptsync stored, in the order the search delivered them, and
// every index entry of ghl.contacts it stored, grouped by contact in the same order (so
// baseline (b) receives its input in the order ptsync did and must sort it itself).
func readStored(path string, order []string) (recs, entries []kv, err error) {
	in, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, nil, fmt.Errorf("cannot open mirror: %w", err)
	}
	defer in.Close()
	err = in.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("ghl.contacts"))
		if b == nil {
			return errors.New("mirror has no ghl.contacts bucket")
		}
		byPK := map[string][]kv{}
		err := tx.ForEach(func(name []byte, ib *bolt.Bucket) error {
			if !strings.HasPrefix(string(name), "ghl.contacts/") {
				return nil
			}
			bn := bytes.Clone(name)
			return ib.ForEach(func(k, _ []byte) error {
				pk := k[bytes.IndexByte(k, 0)+1:]
				byPK[string(pk)] = append(byPK[string(pk)], kv{bucket: bn, k: bytes.Clone(k)})
				return nil
			})
		})
		if err != nil {
			return err
		}
		for _, id := range order {
			v := b.Get([]byte(id))
			if v == nil {
				return fmt.Errorf("mirror lacks contact %s", id)
			}
			recs = append(recs, kv{bucket: []byte("ghl.contacts"), k: []byte(id), v: bytes.Clone(v)})
			entries = append(entries, byPK[id]...)
		}
		return nil
	})
	return recs, entries, err
}

// rawPut is baseline (a): recs put into an empty bbolt file in their order, ingestPage per
// transaction. It returns the seconds the puts took.
func rawPut(dst string, recs []kv) (float64, error) {
	out, err := bolt.Open(dst, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return 0, fmt.Errorf("cannot open raw put file: %w", err)
	}
	defer out.Close()
	t0 := time.Now()
	for i := 0; i < len(recs); i += ingestPage {
		j := min(i+ingestPage, len(recs))
		if err := out.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("ghl.contacts"))
			if err != nil {
				return err
			}
			for _, r := range recs[i:j] {
				if err := b.Put(r.k, r.v); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return 0, fmt.Errorf("cannot put raw batch: %w", err)
		}
	}
	return time.Since(t0).Seconds(), nil
}

// bulkPut is baseline (b): recs and entries sorted by bucket and key, then written in key
// order, FillPercent 1.0, bulkBaselineTx bytes per transaction. It returns the seconds from
// the start of the sort to the last commit.
func bulkPut(dst string, recs, entries []kv) (float64, error) {
	out, err := bolt.Open(dst, 0o600, &bolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return 0, fmt.Errorf("cannot open bulk put file: %w", err)
	}
	defer out.Close()
	t0 := time.Now()
	all := append(slices.Clone(recs), entries...)
	slices.SortFunc(all, func(a, b kv) int {
		if c := bytes.Compare(a.bucket, b.bucket); c != 0 {
			return c
		}
		return bytes.Compare(a.k, b.k)
	})
	for i := 0; i < len(all); {
		err := out.Update(func(tx *bolt.Tx) error {
			var b *bolt.Bucket
			for n := 0; i < len(all) && n < bulkBaselineTx; i++ {
				if b == nil || !bytes.Equal(all[i].bucket, all[max(i-1, 0)].bucket) {
					var err error
					if b, err = tx.CreateBucketIfNotExists(all[i].bucket); err != nil {
						return err
					}
					b.FillPercent = 1.0
				}
				if err := b.Put(all[i].k, all[i].v); err != nil {
					return err
				}
				n += len(all[i].k) + len(all[i].v)
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("cannot bulk put: %w", err)
		}
	}
	return time.Since(t0).Seconds(), nil
}
