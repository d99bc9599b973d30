package demo

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"ptsync/store"
)

// demoPhases are the demo's phases as its progress and status lines announce them.
var demoPhases = []struct{ name, shows string }{
	{"backfill contacts", "contacts: "},
	{"backfill children", "children: "},
	{"first reconcile", "reconciling (cycle 1)"},
	{"first push", "pushing: "},
	{"live", "live "},
}

// runDemoUntil runs Run (without --once: live mode follows convergence) with a mirror
// whose commits fail while full is set, and calls at once the output shows shows. It
// returns Run's result, the output, and how long Run took to return after at. A
// demo that has not returned 30 s after at fails the test (the hang of #20).
//
// wait, when not nil, is set to a func that waits (up to 60 s) until the output shows a
// string after everything shown so far, for at to use; "" waits for a live status line
// that does not say NOT READY.
func runDemoUntil(t *testing.T, shows string, full *atomic.Bool, at func(cancel context.CancelFunc), wait *func(string)) (string, time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.db")
	var out syncBuffer
	res := make(chan error, 1)
	o := Options{Contacts: 300, Seed: 9, DBPath: db, LogPath: filepath.Join(dir, "demo.log"),
		BurstInterval: 200 * time.Millisecond, StatusEvery: 200 * time.Millisecond, Stderr: &out,
		MirrorFailCommit: func() error {
			if full.Load() {
				return &os.PathError{Op: "write", Path: db, Err: syscall.ENOSPC}
			}
			return nil
		}}
	go func() { res <- Run(ctx, o, false, &out) }()
	deadline := time.After(90 * time.Second)
	for !strings.Contains(out.String(), shows) {
		select {
		case err := <-res:
			t.Fatalf("demo ended before %q showed: %v\n%s", shows, err, out.String())
		case <-deadline:
			t.Fatalf("%q never showed:\n%s", shows, out.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if wait != nil {
		*wait = func(want string) {
			from := len(out.String())
			deadline := time.Now().Add(60 * time.Second)
			healthy := regexp.MustCompile(`(?m)^live .* held \d+$`)
			for want == "" && !healthy.MatchString(out.String()[from:]) || want != "" && !strings.Contains(out.String()[from:], want) {
				if time.Now().After(deadline) {
					t.Fatalf("%q never showed:\n%s", want, out.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	at(cancel)
	start := time.Now()
	select {
	case err := <-res:
		if _, serr := os.Stat(store.AdminPath(db)); serr == nil {
			t.Errorf("admin file left behind")
		}
		return out.String(), time.Since(start), err
	case <-time.After(30 * time.Second):
		t.Fatalf("demo still running 30 s after %q (it hangs):\n%s", shows, out.String())
	}
	return "", 0, nil
}

// TestDemoFullDiskEndsAtOnce: the disk fills in each phase of the demo's first sync;
// Run returns the write error with what to do (free space, or --db elsewhere) within
// 5 s. In live mode, which runs like `ptsync run`, the status line says NOT READY with the
// reason while writes fail, and the demo carries on once space is back.
func TestDemoFullDiskEndsAtOnce(t *testing.T) {
	for _, ph := range demoPhases {
		t.Run(ph.name, func(t *testing.T) {
			var full atomic.Bool
			var wait func(string)
			out, took, err := runDemoUntil(t, ph.shows, &full, func(cancel context.CancelFunc) {
				full.Store(true)
				if ph.name == "live" {
					wait("NOT READY: the last write to the mirror failed")
					full.Store(false)
					wait("") // a status line without NOT READY: the next commits succeeded
					cancel()
				}
			}, &wait)
			t.Logf("returned %s after the disk filled: %v", took.Round(time.Millisecond), err)
			if ph.name == "live" {
				if err != nil {
					t.Errorf("live demo after the disk filled and emptied: %v\n%s", err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("demo on a full disk returned nil:\n%s", out)
			}
			for _, want := range []string{"no space left on device", "--db PATH", "free space", "demo.log"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q: %v", want, err)
				}
			}
			if took > 5*time.Second {
				t.Errorf("demo took %s to end after the disk filled, want at most 5 s", took)
			}
		})
	}
}

// TestDemoStopsInEveryPhase: Ctrl-C (the context SIGTERM cancels) in each phase ends the
// demo cleanly within Grace.
func TestDemoStopsInEveryPhase(t *testing.T) {
	for _, ph := range demoPhases {
		t.Run(ph.name, func(t *testing.T) {
			var full atomic.Bool
			out, took, err := runDemoUntil(t, ph.shows, &full, func(cancel context.CancelFunc) { cancel() }, nil)
			t.Logf("stopped %s after Ctrl-C", took.Round(time.Millisecond))
			if err != nil {
				t.Errorf("demo after Ctrl-C: %v\n%s", err, out)
			}
			if took > Grace {
				t.Errorf("demo took %s to stop, more than its grace period %s", took, Grace)
			}
		})
	}
}
