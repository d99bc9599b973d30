package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ptsync/sim/ghlsim"
	"ptsync/store"
)

// lockedBuffer collects a child's stderr for inspection while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const runConfig = `ghl {
  base_url      = env("PTSYNC_TEST_GHL_URL")
  location_id   = env("PTSYNC_TEST_LOCATION")
  private_token = env("PTSYNC_TEST_PIT")
  scopes        = ["contacts.readonly"]
  rate {
    burst    = 1000
    interval = "100ms"
  }
}
ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:9"
    api_key  = env("PTSYNC_TEST_PTD_KEY")
  }
}
store { path = "mirror.db" }
schedule "contacts" { cron = "%s" }
schedule "sweep" { cron = "@every 1h" }
schedule "children" { cron = "@every 2s" }
metrics { listen = "127.0.0.1:0" }
admin { listen = "127.0.0.1:0" }
log {
  level  = "info"
  format = "json"
}
`

// TestRunBinarySignals is acceptance 6: the real binary under `ptsync run` against a simulator
// on loopback sends READY and watchdog pings over $NOTIFY_SOCKET, keeps running on SIGHUP with a
// broken config (logging its position), reloads a good one, and on SIGTERM exits 0 within 10 s
// with STOPPING sent and the mirror intact.
func TestRunBinarySignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "ptsync")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sim := ghlsim.New(ghlsim.Options{Seed: 21, Limits: ghlsim.Limits{BurstMax: 1000, BurstInterval: 100 * time.Millisecond}})
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	sim.Seed(30)
	cfgPath := filepath.Join(dir, "config.hcl")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(runConfig, "@every 1s")), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var notes lockedBuffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			notes.Write(append(buf[:n:n], '\n'))
		}
	}()

	var stderr lockedBuffer
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000",
		"PTSYNC_TEST_GHL_URL="+url, "PTSYNC_TEST_LOCATION="+sim.LocationID(),
		"PTSYNC_TEST_PIT="+sim.IssuePIT("contacts.readonly"), "PTSYNC_TEST_PTD_KEY=unused")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("stderr:\n%s\nnotifications:\n%s", stderr.String(), notes.String())
		}
	}()
	alive := func() bool {
		select {
		case err := <-exited:
			t.Fatalf("ptsync exited early: %v", err)
		default:
		}
		return true
	}

	waitFor(t, 20*time.Second, "READY=1", func() bool { alive(); return strings.Contains(notes.String(), "READY=1") })
	waitFor(t, 20*time.Second, "backfill", func() bool { alive(); return strings.Contains(stderr.String(), "backfill complete") })
	waitFor(t, 5*time.Second, "WATCHDOG=1", func() bool { alive(); return strings.Contains(notes.String(), "WATCHDOG=1") })
	if !strings.Contains(stderr.String(), "running read-only") {
		t.Error("read-only credentials not announced")
	}
	// `ptsync status` while the service holds the mirror answers through its admin endpoint.
	out, err := exec.Command(bin, "status", "--db", filepath.Join(dir, "mirror.db"), "--json").Output()
	if err != nil {
		t.Fatalf("status while running: %v", err)
	}
	var st struct {
		Mirror struct {
			Cursors []struct{ Name string }
		}
		Service struct {
			Ready    bool
			ReadOnly bool
			Jobs     []struct{ Name string }
		}
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if !st.Service.Ready || !st.Service.ReadOnly || len(st.Service.Jobs) == 0 || len(st.Mirror.Cursors) == 0 {
		t.Errorf("status while running: want ready, read-only, jobs and cursors; got %s", out)
	}
	if n := strings.Count(stderr.String(), "running read-only"); n != 1 {
		t.Errorf("read-only announced %d times, want once", n)
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if line != "" && !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %q", line)
		}
	}

	// SIGHUP with a broken file: rejected with its position, the old config keeps running.
	broken := strings.Replace(fmt.Sprintf(runConfig, "@every 1s"), `schedule "sweep" { cron = "@every 1h" }`, `schedule "sweep" { cron = "every hour" }`, 1)
	if err := os.WriteFile(cfgPath, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 5*time.Second, "rejection", func() bool { alive(); return strings.Contains(stderr.String(), "configuration rejected") })
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "configuration rejected") {
			t.Logf("rejection logged: %s", line)
		}
	}
	if !strings.Contains(stderr.String(), "config.hcl:20:") {
		t.Errorf("rejection does not name the position config.hcl:20:col")
	}
	// The old configuration keeps running: more contacts runs and more watchdog pings.
	runs := contactRuns(t, metricsAddr(t, stderr.String()))
	pings := strings.Count(notes.String(), "WATCHDOG=1")
	waitFor(t, 5*time.Second, "job runs and pings after the rejected reload", func() bool {
		alive()
		return contactRuns(t, metricsAddr(t, stderr.String())) > runs && strings.Count(notes.String(), "WATCHDOG=1") > pings
	})

	// SIGHUP with a good file: reloaded.
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(runConfig, "@every 2s")), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 5*time.Second, "reload", func() bool { alive(); return strings.Contains(stderr.String(), "configuration reloaded") })

	// SIGTERM: exit 0 within 10 s, STOPPING sent, mirror intact.
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ptsync did not exit within 10s of SIGTERM")
	}
	t.Logf("exited 0 %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(notes.String(), "STOPPING=1") {
		t.Error("STOPPING=1 not sent")
	}
	db, err := store.Open(filepath.Join(dir, "mirror.db"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Errorf("mirror after SIGTERM: %v", err)
	}
	var n int
	_ = db.View(func(tx *store.Tx) error {
		return tx.ForEachGHLContact(func(*store.GHLContact) error { n++; return nil })
	})
	if n != 30 {
		t.Errorf("mirror holds %d contacts after shutdown, want 30", n)
	}
	if _, err := os.Stat(store.AdminPath(filepath.Join(dir, "mirror.db"))); !os.IsNotExist(err) {
		t.Errorf("admin file left behind: %v", err)
	}
	db.Close()
	// Offline, status reads the mirror alone and says so.
	out, err = exec.Command(bin, "status", "--db", filepath.Join(dir, "mirror.db")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "not running") || !strings.Contains(string(out), "ghl.contacts.search") {
		t.Errorf("offline status: %v\n%s", err, out)
	}
}

// metricsAddr finds the metrics address in the JSON "started" log line.
func metricsAddr(t *testing.T, logs string) string {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["@message"] == "started" {
			if a, ok := rec["metrics"].(string); ok {
				return a
			}
		}
	}
	t.Fatal("no started line with the metrics address")
	return ""
}

// contactRuns scrapes the successful contacts job runs.
func contactRuns(t *testing.T, addr string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), `ptsync_sync_runs_total{result="success",sync_job="contacts"} `); ok {
			var n int
			fmt.Sscan(v, &n)
			return n
		}
	}
	return 0
}
