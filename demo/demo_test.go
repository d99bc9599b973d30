package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/config"
	"ptsync/store"
)

// TestDemoOnceMirrorsEverything runs the demo code path (both simulators, the real service,
// HTTP on loopback) with a small N and compares the mirror with the simulator's snapshot;
// it also checks what the summary reports and that the configuration written for offline
// commands loads.
func TestDemoOnceMirrorsEverything(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.db")
	tmpl, err := os.ReadFile("../config/demo.hcl")
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	d, err := Start(ctx, Options{Contacts: 150, Seed: 7, DBPath: db, BurstInterval: 200 * time.Millisecond,
		LogPath: filepath.Join(dir, "demo.log"), ConfigTemplate: tmpl, Stderr: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	sum := d.Summary()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("summary: %+v", sum)
	compareMirror(t, db, d)

	var out bytes.Buffer
	sum.Print(&out)
	t.Logf("printed:\n%s\nprogress:\n%s", out.String(), progress.String())
	routed := 0
	for _, n := range sum.Routed {
		routed += n
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"routes reached PTD (no dead letters)", sum.DeadLetters[store.SidePTD]+sum.DeadLetters[store.SideGHL] == 0},
		{"some new clients were routed", routed > 0},
		{"no errors logged", sum.Errors == 0},
		{"every seeded contact linked or created", sum.Links[store.KindContact]["created"] > 0 && sum.Links[store.KindContact]["email"] > 0},
		{"pushes both ways", len(sum.Pushed[store.SidePTD]) > 0 && len(sum.Pushed[store.SideGHL]) > 0},
		{"mirror matches HighLevel line", strings.Contains(out.String(), "(matches HighLevel)")},
		{"next steps printed", strings.Contains(out.String(), "ptsync plan --config "+sum.ConfigPath)},
		{"backfill progress printed", strings.Contains(progress.String(), "backfill complete: 150 contacts")},
		{"push progress printed", strings.Contains(progress.String(), "pushing: ")},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Errorf("%s: not so", c.name)
			}
		})
	}
	t.Run("written configuration loads", func(t *testing.T) {
		cfg, err := config.Load(sum.ConfigPath)
		if err != nil {
			t.Fatal(err)
		}
		if abs, _ := filepath.Abs(db); cfg.Store.Path != abs {
			t.Errorf("store.path = %q, want %q", cfg.Store.Path, abs)
		}
		if len(cfg.Routes) != len(d.Config.Routes) {
			t.Errorf("%d routes, want %d", len(cfg.Routes), len(d.Config.Routes))
		}
		st, err := os.Stat(sum.ConfigPath)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("config mode %v (%v), want 0600", st.Mode().Perm(), err)
		}
	})
}

// TestDemoLiveCrossesChurn runs live mode on a small demo: both sides churn, and the test
// waits (through the service's own schedules) until a coach's timezone edit in PTD shows
// on the linked HighLevel contact; cancelling the context stops Live, which reports what it
// did, and the demo closes cleanly.
func TestDemoLiveCrossesChurn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	db := filepath.Join(t.TempDir(), "demo.db")
	d, err := Start(ctx, Options{Contacts: 60, Seed: 3, DBPath: db, BurstInterval: 200 * time.Millisecond,
		GHLChurn: 10, PTDChurn: 10, StatusEvery: 300 * time.Millisecond, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	if err := d.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	before := d.Summary()
	liveCtx, stopLive := context.WithCancel(ctx)
	var out syncBuffer
	done := make(chan LiveStats, 1)
	go func() { done <- d.Live(liveCtx, &out) }()

	crossed := func() (PTDEdit, bool) {
		for _, e := range d.CoachEdits() {
			if e.Kind != EditTimezone {
				continue
			}
			var ghlID string
			_ = d.Service.Store().View(func(tx *store.Tx) error {
				l, err := tx.LinkByPTD(store.KindContact, e.ClientID)
				ghlID = l.GHLID
				return err
			})
			if c, ok := d.GHL.Contact(ghlID); ok && c.Timezone == e.Value {
				// The latest timezone edit on that client must be this one.
				last := e
				for _, x := range d.CoachEdits() {
					if x.ClientID == e.ClientID && x.Kind == EditTimezone {
						last = x
					}
				}
				if last == e {
					return e, true
				}
			}
		}
		return PTDEdit{}, false
	}
	var edit PTDEdit
	for {
		var ok bool
		if edit, ok = crossed(); ok {
			break
		}
		select {
		case <-ctx.Done():
			stopLive()
			t.Fatalf("no coach timezone edit reached HighLevel before the deadline; edits: %+v\nstatus:\n%s", d.CoachEdits(), out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	stopLive()
	st := <-done
	t.Logf("crossed: %+v; live: %d HighLevel edits, %d coach edits, pushed %v\n%s", edit, st.GHLEdits, st.PTDEdits, st.Pushed, out.String())
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"HighLevel churned", st.GHLEdits > 0},
		{"PTD churned", st.PTDEdits > 0 && len(st.CoachEdits) == st.PTDEdits},
		{"writes pushed to HighLevel while live", st.Pushed[store.SideGHL] > 0},
		{"status line printed", strings.Contains(out.String(), "live ") && strings.Contains(out.String(), "-> HighLevel")},
		{"HighLevel calls grew", d.Summary().APICalls > before.APICalls},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Errorf("%s: not so", c.name)
			}
		})
	}
	if err := d.Close(ctx); err != nil {
		t.Fatalf("close after live: %v", err)
	}
}

// TestRunDemoLiveStopsCleanly runs Run without --once and cancels it once the first
// live status line is out: it must return nil (exit 0) and leave the mirror behind.
func TestRunDemoLiveStopsCleanly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	db := filepath.Join(t.TempDir(), "demo.db")
	var out syncBuffer
	res := make(chan error, 1)
	go func() {
		res <- Run(runCtx, Options{Contacts: 40, Seed: 5, DBPath: db, BurstInterval: 200 * time.Millisecond,
			StatusEvery: 200 * time.Millisecond, Logger: hclog.NewNullLogger()}, false, &out)
	}()
	for !strings.Contains(out.String(), "live ") {
		select {
		case err := <-res:
			t.Fatalf("Run returned before live mode: %v\n%s", err, out.String())
		case <-ctx.Done():
			t.Fatalf("no live status line:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	stop()
	if err := <-res; err != nil {
		t.Fatalf("Run after Ctrl-C: %v", err)
	}
	if !strings.Contains(out.String(), "stopped cleanly") {
		t.Errorf("no closing line:\n%s", out.String())
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("mirror not left behind: %v", err)
	}
	if _, err := os.Stat(store.AdminPath(db)); err == nil {
		t.Errorf("admin file left behind")
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
