package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary serve as the driver's child process: the memory and ingest
// sections re-execute os.Executable(), which under `go test` is this binary.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(context.Background(), mode, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestQuick runs the whole driver at its --quick sizes, so it cannot rot: every section must
// finish without error and print its rows. Figures are not asserted (timings never are in
// unit tests); the rows with targets must carry a verdict.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("the quick benchmark takes about 15 s")
	}
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"--quick", "--dir", t.TempDir()}, &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	table := out.String()
	for _, want := range []string{"1 backfill", "2 steady", "3 ingest", "4 memory", "5 reconcile", "6 queries"} {
		if !strings.Contains(table, "| "+want) {
			t.Errorf("table lacks section %q:\n%s", want, table)
		}
	}
	for _, line := range strings.Split(table, "\n") {
		if strings.Contains(line, ">= ") || strings.Contains(line, "<= ") {
			if !strings.Contains(line, "| met ") && !strings.Contains(line, "| MISSED ") {
				t.Errorf("row with a target but no verdict: %s", line)
			}
		}
	}
	t.Logf("\n%s", table)
}

// TestBadFlags checks usage errors exit 2 with a message naming the problem.
func TestBadFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown section", []string{"--only", "backfil"}, `unknown section "backfil"`},
		{"stray argument", []string{"extra"}, `unexpected argument "extra"`},
		{"unknown flag", []string{"--nope"}, "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(t.Context(), tc.args, &out, &errb); code != exitUsage {
				t.Fatalf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("stderr %q lacks %q", errb.String(), tc.want)
			}
		})
	}
}
