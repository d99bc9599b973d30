package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptdwire"
	"ptsync/sim/ghlsim"
	"ptsync/sim/ptdsim"
)

// simSyncBuffer is a bytes.Buffer safe to write from the command and read from the test.
type simSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *simSyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *simSyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// simRun is a `ptsync sim` running in-process until stop.
type simRun struct {
	fields         map[string]string // stdout's "name value" lines
	stdout, stderr *simSyncBuffer
	stop           func() int // cancels the command and returns its exit code
}

// startSim runs `ptsync sim args...` and waits until stdout has printed last (a field name).
func startSim(t *testing.T, last string, args ...string) *simRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &simRun{fields: map[string]string{}, stdout: &simSyncBuffer{}, stderr: &simSyncBuffer{}}
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"sim"}, args...), r.stdout, r.stderr) }()
	stopped := false
	r.stop = func() int {
		cancel()
		if stopped {
			return exitOK
		}
		stopped = true
		select {
		case code := <-done:
			return code
		case <-time.After(10 * time.Second):
			t.Fatal("sim did not stop after cancel")
			return exitFailure
		}
	}
	t.Cleanup(func() { r.stop() })
	for deadline := time.Now().Add(10 * time.Second); r.fields[last] == "" && time.Now().Before(deadline); {
		select {
		case code := <-done:
			stopped = true
			t.Fatalf("sim exited early with %d: %s", code, r.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		sc := bufio.NewScanner(strings.NewReader(r.stdout.String()))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), " "); ok {
				r.fields[k] = strings.TrimSpace(v)
			}
		}
	}
	return r
}

func TestCmdSimServes(t *testing.T) {
	sim := startSim(t, "zapier_hooks", "--addr", "127.0.0.1:0", "--contacts", "30", "--seed", "3", "--search-lag", "0s",
		"--ptd-addr", "127.0.0.1:0", "--ptd-overlap", "0.5", "--zapier-addr", "127.0.0.1:0")
	fields, stdout, stderr := sim.fields, sim.stdout, sim.stderr
	for _, k := range []string{"base_url", "location_id", "client_id", "client_secret", "private_token", "access_token", "refresh_token", "ptd_url", "ptd_api_key"} {
		if fields[k] == "" {
			t.Fatalf("stdout lacks %s:\n%s", k, stdout.String())
		}
	}
	if strings.Contains(stderr.String(), fields["access_token"]) || strings.Contains(stderr.String(), fields["private_token"]) ||
		strings.Contains(stderr.String(), fields["ptd_api_key"]) {
		t.Fatal("a token reached the log")
	}
	tests := []struct{ name, token string }{
		{"private integration token", fields["private_token"]},
		{"oauth access token", fields["access_token"]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", fields["base_url"]+"/contacts/?limit=100&locationId="+fields["location_id"], nil)
			req.Header.Set("Authorization", "Bearer "+tc.token)
			req.Header.Set("Version", ghlwire.APIVersion)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var out ghlwire.ListContactsResponse
			if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 {
				t.Fatalf("%d %v", res.StatusCode, err)
			}
			if len(out.Contacts) != 30 {
				t.Fatalf("%d contacts, want 30", len(out.Contacts))
			}
		})
	}
	t.Run("ptd clients overlap the highlevel contacts", func(t *testing.T) {
		get := func(url, key string, v any) int {
			req, _ := http.NewRequest("GET", url, nil)
			if key != "" {
				req.Header.Set("Authorization", "Bearer "+key)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if v != nil {
				if err := json.NewDecoder(res.Body).Decode(v); err != nil {
					t.Fatal(err)
				}
			}
			return res.StatusCode
		}
		if code := get(fields["ptd_url"]+"/v1/clients", "wrong", nil); code != http.StatusUnauthorized {
			t.Fatalf("wrong key: %d, want 401", code)
		}
		var page ptdwire.ClientPage
		if code := get(fields["ptd_url"]+"/v1/clients?limit=500", fields["ptd_api_key"], &page); code != 200 {
			t.Fatalf("list clients: %d", code)
		}
		var contacts []ghlwire.Contact
		get(fields["base_url"]+"/_sim/contacts", "", &contacts)
		emails := map[string]bool{}
		for _, c := range contacts {
			emails[strings.ToLower(strings.TrimSpace(c.Email))] = true
		}
		overlap := 0
		for _, c := range page.Clients {
			if emails[strings.ToLower(strings.TrimSpace(c.Email))] {
				overlap++
			}
		}
		// 30 contacts, half overlapping (a tenth of those by phone only), plus 3 own clients.
		if overlap < 5 || overlap > 25 || len(page.Clients) < overlap+3 {
			t.Fatalf("%d clients, %d share an email with the 30 contacts", len(page.Clients), overlap)
		}
	})
	if code := sim.stop(); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

// TestCmdSimSeedFixesTheData: two runs of `ptsync sim --seed 1` serve byte-identical
// snapshots of both simulators (GET /_sim/snapshot); with --epoch now only the dates differ,
// the ids, people and PTD overlap do not.
func TestCmdSimSeedFixesTheData(t *testing.T) {
	snapshots := func(extra ...string) (ghl, ptd []byte) {
		t.Helper()
		sim := startSim(t, "ptd_control", append([]string{"--addr", "127.0.0.1:0", "--ptd-addr", "127.0.0.1:0", "--seed", "1",
			"--contacts", "150"}, extra...)...)
		defer sim.stop()
		get := func(url, key string) []byte {
			req, _ := http.NewRequest("GET", url, nil)
			if key != "" {
				req.Header.Set("Authorization", "Bearer "+key)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			if err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d %v %s", url, res.StatusCode, err, b)
			}
			return b
		}
		return get(sim.fields["base_url"]+"/_sim/snapshot", ""), get(sim.fields["ptd_url"]+"/_sim/snapshot", sim.fields["ptd_api_key"])
	}
	g1, p1 := snapshots()
	g2, p2 := snapshots()
	var gs ghlsim.Snapshot
	var ps ptdsim.Snapshot
	if err := json.Unmarshal(g1, &gs); err != nil || len(gs.Contacts) != 150 {
		t.Fatalf("highlevel snapshot: %d contacts, %v", len(gs.Contacts), err)
	}
	if err := json.Unmarshal(p1, &ps); err != nil || len(ps.Clients) < 50 {
		t.Fatalf("pt distinction snapshot: %d clients, %v", len(ps.Clients), err)
	}
	if !bytes.Equal(g1, g2) {
		t.Errorf("two runs of --seed 1 gave different HighLevel data (%d and %d bytes): %s", len(g1), len(g2), firstDiff(g1, g2))
	}
	if !bytes.Equal(p1, p2) {
		t.Errorf("two runs of --seed 1 gave different PT Distinction data (%d and %d bytes): %s", len(p1), len(p2), firstDiff(p1, p2))
	}
	t.Logf("--seed 1: highlevel %d contacts (%d bytes), pt distinction %d clients (%d bytes), identical: %v %v",
		len(gs.Contacts), len(g1), len(ps.Clients), len(p1), bytes.Equal(g1, g2), bytes.Equal(p1, p2))

	g3, p3 := snapshots("--epoch", "now")
	var gn ghlsim.Snapshot
	var pn ptdsim.Snapshot
	if err := json.Unmarshal(g3, &gn); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(p3, &pn); err != nil {
		t.Fatal(err)
	}
	undated := func(c ghlwire.Contact) string {
		return c.ID + " " + c.FirstName + " " + c.LastName + " " + c.Email + " " + c.Phone
	}
	for i := range gs.Contacts {
		if i >= len(gn.Contacts) || undated(gs.Contacts[i].Contact) != undated(gn.Contacts[i].Contact) {
			t.Fatalf("--epoch now changed contact %d: %q", i, undated(gs.Contacts[i].Contact))
		}
	}
	if len(pn.Clients) != len(ps.Clients) || len(gn.Contacts) != len(gs.Contacts) {
		t.Errorf("--epoch now: %d contacts and %d clients, want %d and %d", len(gn.Contacts), len(pn.Clients), len(gs.Contacts), len(ps.Clients))
	}
	if bytes.Equal(g3, g1) {
		t.Error("--epoch now dated the data like the fixed epoch")
	}
}

// firstDiff shows where two byte strings part, with some context.
func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(i-80, 0)
	return fmt.Sprintf("at byte %d:\n  %s\n  %s", i, a[from:min(i+80, len(a))], b[from:min(i+80, len(b))])
}

func TestCmdSimUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"negative contacts", []string{"--contacts", "-1"}, exitUsage},
		{"unknown flag", []string{"--nope"}, exitUsage},
		{"stray argument", []string{"extra"}, exitUsage},
		{"bad log level", []string{"--log-level", "loud"}, exitUsage},
		{"zero burst", []string{"--burst-max", "0"}, exitUsage},
		{"overlap above one", []string{"--ptd-overlap", "1.5"}, exitUsage},
		{"zapier without ptd", []string{"--ptd-addr", "", "--zapier-addr", "127.0.0.1:0"}, exitUsage},
		{"help", []string{"-h"}, exitOK},
		{"address in use or invalid", []string{"--addr", "256.0.0.1:1", "--contacts", "0"}, exitFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr simSyncBuffer
			if code := run(context.Background(), append([]string{"sim"}, tc.args...), &stdout, &stderr); code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, stderr.String())
			}
		})
	}
}
