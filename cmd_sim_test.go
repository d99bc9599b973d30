package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
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

func TestCmdSimServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr simSyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"sim", "--addr", "127.0.0.1:0", "--contacts", "30", "--seed", "3", "--search-lag", "0s"}, &stdout, &stderr)
	}()
	fields := map[string]string{}
	for deadline := time.Now().Add(10 * time.Second); fields["control"] == "" && time.Now().Before(deadline); {
		select {
		case code := <-done:
			t.Fatalf("sim exited early with %d: %s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		sc := bufio.NewScanner(strings.NewReader(stdout.String()))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), " "); ok {
				fields[k] = strings.TrimSpace(v)
			}
		}
	}
	for _, k := range []string{"base_url", "location_id", "client_id", "client_secret", "private_token", "access_token", "refresh_token"} {
		if fields[k] == "" {
			t.Fatalf("stdout lacks %s:\n%s", k, stdout.String())
		}
	}
	if strings.Contains(stderr.String(), fields["access_token"]) || strings.Contains(stderr.String(), fields["private_token"]) {
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
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop after cancel")
	}
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
