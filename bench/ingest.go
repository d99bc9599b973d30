package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"ptsync/apiclient/ghlwire"
)

// The child protocol: the driver re-executes itself with childEnv set to a mode and the
// parameters in the variables below; the child prints one JSON childResult on stdout.
const (
	childEnv      = "PTSYNC_BENCH_CHILD"
	childURL      = "PTSYNC_BENCH_URL"
	childLocation = "PTSYNC_BENCH_LOCATION"
	childToken    = "PTSYNC_BENCH_TOKEN"
	childDB       = "PTSYNC_BENCH_DB"
	childRaw      = "PTSYNC_BENCH_RAW"        // "1": also measure the raw baselines after the sync
	childProfile  = "PTSYNC_BENCH_CPUPROFILE" // a file for the child's CPU profile of the sync

	modeContacts = "contacts" // contacts only, through the incremental search (the ingest figure)
	modeBackfill = "backfill" // the whole first sync: contacts and their children
)

// childResult is what a child measured.
type childResult struct {
	Mode     string  `json:"mode"`
	Contacts int     `json:"contacts"`
	Seconds  float64 `json:"seconds"`
	// VmHWMKiB is the peak resident set (from /proc/self/status) right after the sync, before
	// any baseline ran; MaxRSSKiB is getrusage's view of the same.
	VmHWMKiB  int64 `json:"vmHWMKiB"`
	MaxRSSKiB int64 `json:"maxRSSKiB"`
	DBBytes   int64 `json:"dbBytes"`
	// PeakAnonKiB is the largest RssAnon sampled every 20 ms during the sync: the process's
	// own memory without the pages of the mirror file bbolt maps (which VmHWM counts once
	// they are read, and the kernel may drop at will). WriteBytes is what the sync caused to
	// be written to storage (/proc/self/io write_bytes).
	PeakAnonKiB int64 `json:"peakAnonKiB"`
	// PeakHeapKiB is the largest Go heap (live and not yet collected objects) sampled likewise.
	PeakHeapKiB int64 `json:"peakHeapKiB"`
	WriteBytes  int64 `json:"writeBytes"`
	// Raw baselines (childRaw): the same search pages fetched with plain net/http and each
	// contact's JSON put as is, one transaction per page; and the bytes ptsync stored for the
	// contacts put into an empty bbolt file in batches of the same size.
	FetchPutSeconds float64 `json:"fetchPutSeconds,omitempty"`
	PutSeconds      float64 `json:"putSeconds,omitempty"`
	PutBytes        int64   `json:"putBytes,omitempty"`
	PutRecords      int     `json:"putRecords,omitempty"`
}

// ingestPage is ptsync's search page size (ingest.Settings' default) and the raw baselines'
// batch size.
const ingestPage = 500

// runChild is the child process's main.
func runChild(ctx context.Context, mode string, stdout, stderr io.Writer) int {
	res, err := childSync(ctx, mode)
	if err != nil {
		fmt.Fprintf(stderr, "bench child: %v\n", err)
		return exitFailure
	}
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		fmt.Fprintf(stderr, "bench child: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func childSync(ctx context.Context, mode string) (childResult, error) {
	res := childResult{Mode: mode}
	url, loc, tok, dbPath := os.Getenv(childURL), os.Getenv(childLocation), os.Getenv(childToken), os.Getenv(childDB)
	if url == "" || loc == "" || tok == "" || dbPath == "" {
		return res, errors.New("cannot run child: missing " + childURL + ", " + childLocation + ", " + childToken + " or " + childDB)
	}
	side, err := openSide(sideOptions{dbPath: dbPath, baseURL: url, location: loc, token: tok, burstMax: 100,
		burstWindow: 10 * time.Second, limiterMax: unthrottled})
	if err != nil {
		return res, err
	}
	if path := os.Getenv(childProfile); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return res, fmt.Errorf("cannot create cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, fmt.Errorf("cannot start cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	stopSampling := sampleAnon(&res.PeakAnonKiB, &res.PeakHeapKiB)
	t0 := time.Now()
	switch mode {
	case modeContacts:
		st, err := side.poller.Search(ctx, nil)
		if err != nil {
			side.close()
			return res, fmt.Errorf("cannot ingest contacts: %w", err)
		}
		res.Contacts = st.Read
	case modeBackfill:
		st, err := side.poller.Backfill(ctx, nil)
		if err != nil {
			side.close()
			return res, fmt.Errorf("cannot backfill: %w", err)
		}
		res.Contacts = st.Contacts.Read
	default:
		side.close()
		return res, fmt.Errorf("cannot run child: unknown mode %q", mode)
	}
	res.Seconds = time.Since(t0).Seconds()
	stopSampling()
	if path := os.Getenv(childProfile); path != "" {
		if f, err := os.Create(path + ".heap"); err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
	res.VmHWMKiB, res.MaxRSSKiB = peakRSS()
	if err := side.close(); err != nil {
		return res, err
	}
	res.WriteBytes = procField("/proc/self/io", "write_bytes:")
	if fi, err := os.Stat(dbPath); err == nil {
		res.DBBytes = fi.Size()
	}
	if os.Getenv(childRaw) != "1" {
		return res, nil
	}
	dir := filepath.Dir(dbPath)
	t0 = time.Now()
	order, err := rawFetchPut(ctx, url, loc, tok, filepath.Join(dir, "raw-fetch.db"))
	if err != nil {
		return res, err
	}
	if len(order) != res.Contacts {
		return res, fmt.Errorf("raw fetch saw %d contacts, ptsync %d", len(order), res.Contacts)
	}
	res.FetchPutSeconds = time.Since(t0).Seconds()
	res.PutRecords, res.PutBytes, res.PutSeconds, err = rawPut(dbPath, filepath.Join(dir, "raw-put.db"), order)
	return res, err
}

// peakRSS returns VmHWM from /proc/self/status and getrusage's maxrss, both in KiB.
func peakRSS() (hwm, maxrss int64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		maxrss = int64(ru.Maxrss)
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return maxrss, maxrss
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			hwm, _ = strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	if hwm == 0 {
		hwm = maxrss
	}
	return hwm, maxrss
}

// procField returns the number after prefix in a /proc file ("VmHWM:", "write_bytes:"...),
// or 0 when it is unavailable.
func procField(path, prefix string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// sampleAnon records the peaks of RssAnon and of the Go heap's objects (KiB) in *anon and
// *heap every 20 ms until the returned stop is called.
func sampleAnon(anon, heap *int64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			*anon = max(*anon, procField("/proc/self/status", "RssAnon:"))
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				*heap = max(*heap, int64(sample[0].Value.Uint64()/1024))
			}
			select {
			case <-t.C:
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); <-finished }
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
		body, err := json.Marshal(ghlwire.SearchRequest{LocationID: loc, PageLimit: ingestPage, SearchAfter: after,
			Sort: []ghlwire.SearchSort{{Field: "dateUpdated", Direction: "asc"}}})
		if err != nil {
			return n, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/contacts/search", bytes.NewReader(body))
		if err != nil {
			return n, err
		}
		req.Header.Set(ghlwire.HeaderAuthorization, "Bearer "+tok)
		req.Header.Set(ghlwire.HeaderVersion, ghlwire.APIVersion)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return n, fmt.Errorf("cannot search: %w", err)
		}
		var page struct {
			Contacts []json.RawMessage `json:"contacts"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return n, fmt.Errorf("cannot read search page (status %d): %v", resp.StatusCode, err)
		}
		var last struct {
			SearchAfter []any `json:"searchAfter"`
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
		if err := json.Unmarshal(page.Contacts[len(page.Contacts)-1], &last); err != nil || len(last.SearchAfter) == 0 {
			return n, fmt.Errorf("cannot read searchAfter of the last row: %v", err)
		}
		after = last.SearchAfter
	}
}

// rawPut is the storage ceiling: the exact key/value bytes ptsync stored for its contacts,
// put into an empty bbolt file in the order the search delivered them (random with respect
// to the id keys, as for ptsync), in batches of ingestPage, one transaction each.
func rawPut(src, dst string, order []string) (records int, bytesPut int64, seconds float64, err error) {
	in, err := bolt.Open(src, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("cannot open mirror: %w", err)
	}
	var keys, vals [][]byte
	err = in.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("ghl.contacts"))
		if b == nil {
			return errors.New("mirror has no ghl.contacts bucket")
		}
		for _, id := range order {
			v := b.Get([]byte(id))
			if v == nil {
				return fmt.Errorf("mirror lacks contact %s", id)
			}
			keys = append(keys, []byte(id))
			vals = append(vals, bytes.Clone(v))
			bytesPut += int64(len(id) + len(v))
		}
		return nil
	})
	in.Close()
	if err != nil {
		return 0, 0, 0, err
	}
	out, err := bolt.Open(dst, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("cannot open raw put file: %w", err)
	}
	defer out.Close()
	t0 := time.Now()
	for i := 0; i < len(keys); i += ingestPage {
		j := min(i+ingestPage, len(keys))
		if err := out.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("ghl.contacts"))
			if err != nil {
				return err
			}
			for k := i; k < j; k++ {
				if err := b.Put(keys[k], vals[k]); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return 0, 0, 0, fmt.Errorf("cannot put raw batch: %w", err)
		}
	}
	return len(keys), bytesPut, time.Since(t0).Seconds(), nil
}

// spawnChild re-executes the driver in mode against a simulator and returns its result.
func (e *env) spawnChild(ctx context.Context, mode, url, loc, tok, dbPath string, raw bool) (childResult, error) {
	var res childResult
	cmd := exec.CommandContext(ctx, e.exe[0], e.exe[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childURL+"="+url, childLocation+"="+loc, childToken+"="+tok,
		childDB+"="+dbPath, childRaw+"="+map[bool]string{true: "1", false: "0"}[raw])
	if e.cpuprofile != "" {
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%s.%s-%s", childProfile, e.cpuprofile, mode, strings.TrimSuffix(filepath.Base(dbPath), ".db")))
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("child %s failed: %w: %s", mode, err, strings.TrimSpace(errb.String()))
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return res, fmt.Errorf("cannot read child %s result %q: %w", mode, out.String(), err)
	}
	return res, nil
}

// bigSim returns the unthrottled simulator holding sz.Big contacts with their children,
// starting and seeding it on first use; the ingest, memory and query sections share it.
func (e *env) bigSim() (*simHandle, error) {
	if e.big != nil {
		return e.big, nil
	}
	h, err := newSimHandle(e, e.sz.Big, e.seed+2)
	if err != nil {
		return nil, err
	}
	e.big = h
	return h, nil
}

// simHandle is a running simulator and the credentials a child needs for it.
type simHandle struct {
	close       func() error
	url, loc    string
	token       string
	contacts    int
	seedSeconds float64
}

func newSimHandle(e *env, n int, seed int64) (*simHandle, error) {
	s, url, err := startSim(simOptions{seed: seed})
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	s.Seed(n)
	h := &simHandle{close: s.Close, url: url, loc: s.LocationID(), token: s.IssuePIT(), contacts: n, seedSeconds: time.Since(t0).Seconds()}
	e.log("seeded an unthrottled simulator with %d contacts in %.1fs", n, h.seedSeconds)
	return h, nil
}

// benchIngest mirrors sz.Big contacts from the unthrottled simulator in a child process and
// compares the rate with the raw baselines the child measures right after.
func benchIngest(ctx context.Context, e *env) ([]row, error) {
	h, err := e.bigSim()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(e.dir, "big.db")
	_ = os.Remove(path)
	res, err := e.spawnChild(ctx, modeContacts, h.url, h.loc, h.token, path, true)
	if err != nil {
		return nil, err
	}
	if res.Contacts != h.contacts {
		return nil, fmt.Errorf("ingest read %d of %d contacts", res.Contacts, h.contacts)
	}
	e.bigDB = path
	e.bigIngest = &res
	e.log("ingest: %+v", res)
	ptsyncRate := float64(res.Contacts) / res.Seconds
	fetchRate := float64(res.Contacts) / res.FetchPutSeconds
	putRate := float64(res.PutRecords) / res.PutSeconds
	sec := fmt.Sprintf("3 ingest %s", num(int64(res.Contacts)))
	return []row{
		{Section: sec, Metric: "contacts/s into the mirror (search pages of 500, one tx per page)", Value: rate(ptsyncRate),
			Baseline: fmt.Sprintf("raw bbolt batched puts of the same %s: %s/s", mib(res.PutBytes), rate(putRate)),
			Ratio:    ratio(ptsyncRate, putRate), Target: ">= 0.5x", Verdict: verdict(ptsyncRate >= 0.5*putRate)},
		{Section: sec, Metric: "  end to end vs the same fetch + raw put (plain net/http, no decode, no index)", Value: rate(ptsyncRate),
			Baseline: fmt.Sprintf("fetch + raw put: %s/s", rate(fetchRate)), Ratio: ratio(ptsyncRate, fetchRate)},
		{Section: sec, Metric: "  mirror file size / bytes written to storage during the sync", Value: mib(res.DBBytes) + " / " + mib(res.WriteBytes),
			Baseline: "contact bytes: " + mib(res.PutBytes), Ratio: ratio(float64(res.WriteBytes), float64(res.PutBytes))},
	}, nil
}

// benchMemory mirrors sz.Small and sz.Big contacts, each in its own child process against an
// unthrottled simulator, and compares their peak RSS. The sync is the contacts phase of the
// first full sync (the incremental search from the epoch): the children phase keeps no more
// than one contact's children per worker in memory, and an unthrottled children backfill of
// 100,000 contacts is bound by fsync (one batched commit per few contacts), far too slow for
// the driver's 10-minute budget. The large run is the ingest section's child when it ran.
func benchMemory(ctx context.Context, e *env) ([]row, error) {
	big, err := e.bigSim()
	if err != nil {
		return nil, err
	}
	small, err := newSimHandle(e, e.sz.Small, e.seed+3)
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
		r, err := e.spawnChild(ctx, modeContacts, h.url, h.loc, h.token, path, false)
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
	sec := "4 memory"
	rs, rb := float64(res[0].VmHWMKiB), float64(res[1].VmHWMKiB)
	return []row{
		{Section: sec, Metric: fmt.Sprintf("peak RSS (VmHWM), syncing %s vs %s contacts", num(int64(res[1].Contacts)), num(int64(res[0].Contacts))),
			Value: fmt.Sprintf("%s: %s", num(int64(res[1].Contacts)), kib(res[1].VmHWMKiB)), Baseline: fmt.Sprintf("%s: %s", num(int64(res[0].Contacts)), kib(res[0].VmHWMKiB)),
			Ratio: ratio(rb, rs), Target: "<= 2x", Verdict: verdict(rb <= 2*rs)},
		{Section: sec, Metric: "  peak anonymous RSS (process memory without the mapped mirror file)",
			Value: fmt.Sprintf("%s: %s", num(int64(res[1].Contacts)), kib(res[1].PeakAnonKiB)), Baseline: fmt.Sprintf("%s: %s", num(int64(res[0].Contacts)), kib(res[0].PeakAnonKiB)),
			Ratio: ratio(float64(res[1].PeakAnonKiB), float64(res[0].PeakAnonKiB))},
		{Section: sec, Metric: "  peak Go heap (objects, sampled)",
			Value: fmt.Sprintf("%s: %s", num(int64(res[1].Contacts)), kib(res[1].PeakHeapKiB)), Baseline: fmt.Sprintf("%s: %s", num(int64(res[0].Contacts)), kib(res[0].PeakHeapKiB)),
			Ratio: ratio(float64(res[1].PeakHeapKiB), float64(res[0].PeakHeapKiB))},
		{Section: sec, Metric: "  mirror file size", Value: mib(res[1].DBBytes), Baseline: mib(res[0].DBBytes),
			Ratio: ratio(float64(res[1].DBBytes), float64(res[0].DBBytes))},
	}, nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
func kib(k int64) string { return fmt.Sprintf("%.1f MiB", float64(k)/1024) }
