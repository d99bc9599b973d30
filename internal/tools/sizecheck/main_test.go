package main

import (
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
				if !strings.Contains(got[i], w) {
					t.Errorf("line %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}
