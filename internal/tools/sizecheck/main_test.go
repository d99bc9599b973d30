package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeGo(t *testing.T, dir, name string, bodyLines int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("package p\n\nfunc Long() {\n")
	for range bodyLines {
		b.WriteString("\t_ = 1\n")
	}
	b.WriteString("}\n\ntype T struct{}\n\nfunc (*T) M() {\n")
	for range bodyLines {
		b.WriteString("\t_ = 1\n")
	}
	b.WriteString("}\n")
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name    string
		body    int
		exempt  string
		want    []string // substrings, one per reported line, in order
		wantErr string
	}{
		{name: "within the limits", body: 80},
		{name: "long function and method", body: 81, want: []string{"a.go:3: Long is 81 lines", "a.go:89: T.M is 81 lines"}},
		{name: "exempted by name", body: 81, exempt: "a.go:Long  a table\na.go:T.M  another table\n"},
		{name: "stale exemption", body: 10, exempt: "a.go:Gone  was a table\n", want: []string{"a.go:Gone names nothing"}},
		{name: "exemption without a reason", body: 10, exempt: "a.go:Long\n", wantErr: "has no reason"},
		{name: "long file", body: 420, exempt: "a.go:Long  t\na.go:T.M  t\n", want: []string{"a.go: 849 lines (limit 800)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeGo(t, dir, "a.go", c.body)
			writeGo(t, dir, "a_test.go", 200) // tests are never measured
			ex := filepath.Join(dir, "exempt")
			if err := os.WriteFile(ex, []byte(c.exempt), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := check(dir, ex)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %q, want %d lines like %q", got, len(c.want), c.want)
			}
			for i, w := range c.want {
				if !strings.Contains(got[i].text, w) {
					t.Errorf("line %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestReportOnly: problems in a report-only directory are printed under their own heading and
// do not fail the run, stale exemptions there included; the same problems elsewhere fail it,
// and "." covers the root's own files but not its subdirectories.
func TestReportOnly(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"gated", "wip", "wip/deeper", "wipe"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeGo(t, filepath.Join(dir, "wip"), "a.go", 81)
	writeGo(t, filepath.Join(dir, "wip/deeper"), "b.go", 81)
	writeGo(t, filepath.Join(dir, "wipe"), "c.go", 10)
	writeGo(t, filepath.Join(dir, "gated"), "d.go", 10)
	writeGo(t, dir, "root.go", 10)
	exempt := filepath.Join(dir, "exempt")
	if err := os.WriteFile(exempt, []byte("wip/a.go:Gone  was a table\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		reportOnly string
		long       string // a file given an 81-line function before the run
		wantCode   int
		wantOut    []string // substrings, in order
	}{
		{name: "everything gated", wantCode: 1, wantOut: []string{"exempt: wip/a.go:Gone names nothing", "wip/a.go:3: Long is 81 lines"}},
		{name: "wip reported, nothing gating", reportOnly: "wip/", wantCode: 0,
			wantOut: []string{"report only (not failing: wip):", "exempt: wip/a.go:Gone", "  wip/a.go:3: Long", "  wip/deeper/b.go:3: Long"}},
		{name: "a sibling with the same prefix still gates", reportOnly: "wip", long: "wipe/c.go", wantCode: 1,
			wantOut: []string{"wipe/c.go:3: Long is 81 lines", "report only (not failing: wip):"}},
		{name: "dot covers the root's files only", reportOnly: "wip,.", long: "root.go", wantCode: 0,
			wantOut: []string{"report only (not failing: wip, .):", "  root.go:3: Long"}},
		{name: "dot does not cover a subdirectory", reportOnly: "wip,.", long: "gated/d.go", wantCode: 1,
			wantOut: []string{"gated/d.go:3: Long is 81 lines", "report only"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.long != "" {
				writeGo(t, filepath.Join(dir, filepath.Dir(c.long)), filepath.Base(c.long), 81)
				t.Cleanup(func() { writeGo(t, filepath.Join(dir, filepath.Dir(c.long)), filepath.Base(c.long), 10) })
			}
			var out, errs bytes.Buffer
			code := run(dir, exempt, splitDirs(c.reportOnly), &out, &errs)
			if code != c.wantCode || errs.Len() > 0 {
				t.Fatalf("exit %d (stderr %q), want %d; output:\n%s", code, errs.String(), c.wantCode, out.String())
			}
			rest := out.String()
			for _, w := range c.wantOut {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q after the earlier lines; output:\n%s", w, out.String())
				}
				rest = rest[i+len(w):]
			}
		})
	}
}
