package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"ptsync/replicator/ingest"
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

	// modeContacts is the contacts phase of the first sync, through ingest.Poller.Backfill
	// (the search walk, the bulk load and the index build), stopped when Backfill reports its
	// children phase: the ingest and memory figures.
	modeContacts = "contacts"
)

// childResult is what a child measured.
type childResult struct {
	Mode     string `json:"mode"`
	Contacts int    `json:"contacts"`
	// Seconds is the contacts phase of Backfill, from its call to its children-phase report;
	// WalkSeconds the part until its last contacts-phase report (the search walk, staging),
	// the rest is the bulk load's merge and index build.
	Seconds     float64 `json:"seconds"`
	WalkSeconds float64 `json:"walkSeconds"`
	// VmHWMKiB is the peak resident set (from /proc/self/status) right after the sync, before
	// any baseline ran; MaxRSSKiB is getrusage's view of the same.
	VmHWMKiB  int64 `json:"vmHWMKiB"`
	MaxRSSKiB int64 `json:"maxRSSKiB"`
	DBBytes   int64 `json:"dbBytes"`
	// PeakAnonKiB is the largest RssAnon sampled every 20 ms during the sync: the process's
	// own memory without the pages of the mirror file bbolt maps (which VmHWM counts once
	// they are read, and the kernel may drop at will). WriteBytes is what the sync caused to
	// be written to storage (/proc/self/io write_bytes, the index build's temporary sorted
	// runs included; CancelledBytes of them were deleted before they reached the disk).
	PeakAnonKiB    int64 `json:"peakAnonKiB"`
	PeakHeapKiB    int64 `json:"peakHeapKiB"` // the Go heap's objects, sampled likewise
	WriteBytes     int64 `json:"writeBytes"`
	CancelledBytes int64 `json:"cancelledBytes"`
	// Baselines (childRaw), measured after the sync in the same process (baselines.go).
	Base baselines `json:"base"`
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

// childParams are the child's parameters, from its environment.
type childParams struct{ url, loc, tok, dbPath string }

func childSync(ctx context.Context, mode string) (childResult, error) {
	res := childResult{Mode: mode}
	pr := childParams{os.Getenv(childURL), os.Getenv(childLocation), os.Getenv(childToken), os.Getenv(childDB)}
	if pr.url == "" || pr.loc == "" || pr.tok == "" || pr.dbPath == "" {
		return res, errors.New("cannot run child: missing " + childURL + ", " + childLocation + ", " + childToken + " or " + childDB)
	}
	if mode != modeContacts {
		return res, fmt.Errorf("cannot run child: unknown mode %q", mode)
	}
	side, err := openSide(sideOptions{dbPath: pr.dbPath, baseURL: pr.url, location: pr.loc, token: pr.tok, burstMax: 100,
		burstWindow: 10 * time.Second, limiterMax: unthrottled})
	if err != nil {
		return res, err
	}
	stopProfile, err := startChildProfile()
	if err != nil {
		side.close()
		return res, err
	}
	written0, cancelled0 := procField("/proc/self/io", "write_bytes:"), procField("/proc/self/io", "cancelled_write_bytes:")
	stopSampling := sampleAnon(&res.PeakAnonKiB, &res.PeakHeapKiB)
	res.Contacts, res.Seconds, res.WalkSeconds, err = firstSyncContacts(ctx, side.poller)
	stopSampling()
	stopProfile()
	if err != nil {
		side.close()
		return res, err
	}
	res.VmHWMKiB, res.MaxRSSKiB = peakRSS()
	if err := side.close(); err != nil {
		return res, err
	}
	res.WriteBytes = procField("/proc/self/io", "write_bytes:") - written0
	res.CancelledBytes = procField("/proc/self/io", "cancelled_write_bytes:") - cancelled0
	if fi, err := os.Stat(pr.dbPath); err == nil {
		res.DBBytes = fi.Size()
	}
	if os.Getenv(childRaw) != "1" {
		return res, nil
	}
	res.Base, err = measureBaselines(ctx, pr, res.Contacts)
	return res, err
}

// startChildProfile starts the CPU profile childProfile names (if any); stop writes it and
// a heap profile beside it.
func startChildProfile() (stop func(), err error) {
	path := os.Getenv(childProfile)
	if path == "" {
		return func() {}, nil
	}
	stopCPU, err := startProfile(path)
	if err != nil {
		return nil, err
	}
	return func() {
		stopCPU()
		if h, err := os.Create(path + ".heap"); err == nil {
			_ = pprof.Lookup("heap").WriteTo(h, 0)
			h.Close()
		}
	}, nil
}

// firstSyncContacts runs Backfill and stops it when it reports its children phase: by then
// every contact is stored and indexed (the bulk load completed). It returns the contacts
// read, the seconds until that report and until the walk's last page.
func firstSyncContacts(ctx context.Context, p *ingest.Poller) (contacts int, seconds, walk float64, err error) {
	bctx, stop := context.WithCancel(ctx)
	defer stop()
	var mu sync.Mutex
	reached := false
	t0 := time.Now()
	st, err := p.Backfill(bctx, func(pr ingest.Progress) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case pr.Phase == ingest.PhaseContacts:
			walk = time.Since(t0).Seconds()
		case pr.Phase == ingest.PhaseChildren && !reached:
			seconds, reached = time.Since(t0).Seconds(), true
			stop()
		}
	})
	mu.Lock()
	defer mu.Unlock()
	if !reached {
		if err == nil {
			err = errors.New("backfill ended without a children phase")
		}
		return 0, 0, 0, fmt.Errorf("cannot ingest contacts: %w", err)
	}
	return st.Contacts.Read, seconds, walk, nil
}

// spawnChild re-executes the driver in mode against a HighLevel endpoint and returns its result.
func (e *env) spawnChild(ctx context.Context, mode string, h *simHandle, dbPath string, raw bool) (childResult, error) {
	var res childResult
	cmd := exec.CommandContext(ctx, e.exe[0], e.exe[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childURL+"="+h.url, childLocation+"="+h.loc, childToken+"="+h.token,
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
