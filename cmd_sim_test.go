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
	"ptsync/apiclient/ptdwire"
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
		done <- run(ctx, []string{"sim", "--addr", "127.0.0.1:0", "--contacts", "30", "--seed", "3", "--search-lag", "0s",
			"--ptd-addr", "127.0.0.1:0", "--ptd-overlap", "0.5", "--zapier-addr", "127.0.0.1:0"}, &stdout, &stderr)
	}()
	fields := map[string]string{}
	for deadline := time.Now().Add(10 * time.Second); fields["zapier_hooks"] == "" && time.Now().Before(deadline); {
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
