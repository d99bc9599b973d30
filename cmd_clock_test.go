package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestOfflineCommandsReadTheGivenClock: query and status evaluate "now" with the clock they
// are given, not the wall clock, so a report can be reproduced and tested.
func TestOfflineCommandsReadTheGivenClock(t *testing.T) {
	db := fixtureFile(t)
	at := func(s string) func() time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return func() time.Time { return tm }
	}
	for _, tc := range []struct {
		name, now string
		want      bool
	}{
		{"before any task is due", "2000-01-01T00:00:00Z", false},
		{"after ann's task is due", "2025-03-10T12:00:00Z", true},
	} {
		t.Run("query "+tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runQuery(context.Background(), []string{"contacts", "--tag", "vip", "--where", "overdueTasks > 0",
				"--fields", "id", "--db", db}, &out, &errb, at(tc.now))
			if code != exitOK || strings.Contains(out.String(), "c-ann") != tc.want {
				t.Fatalf("exit %d, c-ann listed overdue: %v, want %v\n%s%s", code, !tc.want, tc.want, out.String(), errb.String())
			}
		})
	}
	var out, errb bytes.Buffer
	if code := runStatus(context.Background(), []string{"--db", db, "--json"}, &out, &errb, at("2031-05-06T07:08:09Z")); code != exitOK {
		t.Fatalf("status exit %d: %s", code, errb.String())
	}
	var st struct {
		Mirror struct {
			Now time.Time `json:"now"`
		} `json:"mirror"`
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if want := at("2031-05-06T07:08:09Z")(); !st.Mirror.Now.Equal(want) {
		t.Fatalf("status now %v, want the given clock's %v", st.Mirror.Now, want)
	}
}
