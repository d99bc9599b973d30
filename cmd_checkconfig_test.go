package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.hcl")
	bad := filepath.Join(dir, "bad.hcl")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(good, `ghl {
  location_id   = "loc1"
  private_token = env("CHECKCONFIG_TEST_PIT")
  scopes        = ["contacts.readonly"]
}
ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:8920"
    api_key  = env("CHECKCONFIG_TEST_KEY")
  }
}
schedule "sweep" { cron = "17 3 * * *" }
`)
	write(bad, `ghl {
  location_id   = "loc1"
  private_token = "literal"
}
`)
	t.Setenv("CHECKCONFIG_TEST_PIT", "pit-value-never-printed")
	t.Setenv("CHECKCONFIG_TEST_KEY", "key-value-never-printed")
	now := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC) }

	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantOut    []string
		wantErr    []string
		wantNotOut string
	}{
		{name: "valid via flag", args: []string{"--config", good}, wantCode: exitOK,
			wantOut: []string{"ok: " + good, "location  loc1 (private token, read-only", "ptd       driver rest",
				"sweep      17 3 * * *", "2026-03-02T03:17:00Z", "contacts   @every 1m (default)", "2026-03-01T12:01:30Z",
				"reminders  @every 15m (default)  disabled"}},
		{name: "valid via PTSYNC_CONFIG", env: map[string]string{"PTSYNC_CONFIG": good}, wantCode: exitOK, wantOut: []string{"ok: " + good}},
		{name: "json", args: []string{"--config", good, "--json"}, wantCode: exitOK,
			wantOut: []string{`"ok": true`, `"readOnly": true`, `"next": "2026-03-02T03:17:00Z"`}},
		{name: "invalid", args: []string{"--config", bad}, wantCode: exitUsage,
			wantErr: []string{bad + ":3:19: Literal secret", bad + ":5:1: Missing ptd block"}},
		{name: "missing file", args: []string{"--config", filepath.Join(dir, "none.hcl")}, wantCode: exitUsage,
			wantErr: []string{"Cannot read configuration file"}},
		{name: "stray argument", args: []string{"extra"}, wantCode: exitUsage, wantErr: []string{`unexpected argument "extra"`}},
		{name: "unknown flag", args: []string{"--nope"}, wantCode: exitUsage, wantErr: []string{"flag provided but not defined"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			getenv := func(k string) string { return tc.env[k] }
			code := checkConfig(tc.args, &stdout, &stderr, getenv, now)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout.String(), stderr.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if all := stdout.String() + stderr.String(); strings.Contains(all, "never-printed") {
				t.Errorf("output contains a secret:\n%s", all)
			}
		})
	}
}
