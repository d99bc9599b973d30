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

// TestCheckConfigAcceptsHighLevelsRSAKey: the RSA-4096 key printed in HighLevel's own
// WebhookAuthentication.md (for x-wh-signature) is accepted as ghl_public_key, alone and beside
// an Ed25519 key for the changeover. The text is read from ../shared when present (skipped
// otherwise) and from the copy in config/testdata, which must be the same key.
func TestCheckConfigAcceptsHighLevelsRSAKey(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join("config", "testdata", "webhook", "highlevel-x-wh-signature.pem"))
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string]string{"fixture copy": string(fixture)}
	if doc, err := os.ReadFile(filepath.Join("..", "shared", "ghl-openapi", "docs", "oauth", "WebhookAuthentication.md")); err == nil {
		text := string(doc)
		begin, end := strings.Index(text, "-----BEGIN PUBLIC KEY-----"), strings.Index(text, "-----END PUBLIC KEY-----")
		if begin < 0 || end < begin {
			t.Fatal("WebhookAuthentication.md no longer prints a PEM public key")
		}
		pemText := text[begin:end+len("-----END PUBLIC KEY-----")] + "\n"
		if pemText != string(fixture) {
			t.Errorf("the fixture differs from the key in WebhookAuthentication.md; HighLevel rotated it?")
		}
		sources["WebhookAuthentication.md"] = pemText
	} else {
		t.Logf("../shared/ghl-openapi not present (%v): checking the fixture copy only", err)
	}
	for name, pemText := range sources {
		for _, keys := range []string{`file("ghl-webhook.pem")`, `[file("ghl-webhook.pem"), "2f9d0b7c6a5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a1908f7e6d5c4b"]`} {
			t.Run(name+"/"+keys, func(t *testing.T) {
				dir := t.TempDir()
				if err := os.WriteFile(filepath.Join(dir, "ghl-webhook.pem"), []byte(pemText), 0o644); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, "config.hcl")
				cfg := `ghl {
  location_id   = "loc1"
  private_token = env("CHECKCONFIG_TEST_PIT")
}
ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:8920"
    api_key  = env("CHECKCONFIG_TEST_KEY")
  }
}
webhooks { ghl_public_key = ` + keys + ` }
`
				if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
					t.Fatal(err)
				}
				t.Setenv("CHECKCONFIG_TEST_PIT", "pit-value-never-printed")
				t.Setenv("CHECKCONFIG_TEST_KEY", "key-value-never-printed")
				var stdout, stderr bytes.Buffer
				code := checkConfig([]string{"--config", path}, &stdout, &stderr, func(string) string { return "" }, time.Now)
				if code != exitOK {
					t.Fatalf("exit %d, want 0\nstderr:\n%s", code, stderr.String())
				}
				if !strings.Contains(stdout.String(), "webhooks  rsa-4096 SHA256:") || !strings.Contains(stdout.String(), "verifies x-wh-signature") {
					t.Errorf("summary does not name the RSA key and its header:\n%s", stdout.String())
				}
				t.Log(strings.TrimSpace(stdout.String()))
			})
		}
	}
}
