package config

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

var update = flag.Bool("update", false, "rewrite the .golden files of testdata/good and testdata/bad")

const testCredDir = "/run/credentials/ptsync.service"

// testEnv is a fixed environment: the variables and files the fixtures reference, nothing else.
func testEnv(t *testing.T, files map[string]string) Env {
	t.Helper()
	vars := map[string]string{
		"PTSYNC_GHL_PIT":            "pit-secret-value",
		"PTSYNC_PTD_API_KEY":        "ptd-secret-value",
		"PTSYNC_GHL_CLIENT_SECRET":  "client-secret-value",
		"PTSYNC_LOCATION":           "locFromEnv",
		"PTSYNC_EMPTY":              "",
		"PTSYNC_ZAP_ADD_CLIENT":     "https://hooks.zapier.example/hooks/catch/1/add",
		"PTSYNC_ZAP_ADD_TO_GROUP":   "https://hooks.zapier.example/hooks/catch/1/group",
		"PTSYNC_ZAP_ASSIGN_PACKAGE": "https://hooks.zapier.example/hooks/catch/1/package",
		"PTSYNC_ZAP_PRINT_ONLY":     "https://hooks.zapier.example/hooks/catch/1/print",
		"PTSYNC_ZAP_REMINDER":       "https://hooks.zapier.example/hooks/catch/1/remind",
		"PTSYNC_ZAP_TRIGGER_SECRET": "trigger-secret-value",
	}
	all := map[string]string{
		filepath.Join(testCredDir, "ghl-pit"):           "pit-from-credential\n",
		filepath.Join(testCredDir, "ghl-client-secret"): "client-secret-from-credential\n",
		filepath.Join(testCredDir, "ptd-api-key"):       "ptd-key-from-credential\n",
		"testdata/good/secrets/ptd.key":                 "ptd-key-from-file\n",
		"testdata/good/secrets/etcd-ca.pem":             "ca\n",
		"testdata/good/secrets/etcd-client.pem":         "cert\n",
		"testdata/good/secrets/etcd-client-key.pem":     "key\n",
		"testdata/bad/key.pem":                          "key\n",
	}
	for k, v := range files {
		all[k] = v
	}
	return Env{
		LookupEnv: func(name string) (string, bool) {
			v, ok := vars[name]
			return v, ok
		},
		CredentialsDir: testCredDir,
		ReadFile: func(path string) ([]byte, error) {
			if v, ok := all[path]; ok {
				return []byte(v), nil
			}
			return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
		},
	}
}

// describe renders a Config deterministically for the good goldens: JSON with secrets shown
// by source only, routes by their condition's source text, schedules by spec.
func describe(t *testing.T, cfg *Config, src []byte) string {
	t.Helper()
	type routeView struct {
		Name, When, Group, Package, Access string
	}
	type schedView struct {
		Job, Spec string
		Default   bool
		NextAfter string
	}
	view := struct {
		*Config
		Routes        []routeView
		Schedules     []schedView
		Warnings      []string
		SecretSources map[string]string
	}{Config: cfg, SecretSources: map[string]string{}}
	for _, r := range cfg.Routes {
		view.Routes = append(view.Routes, routeView{r.Name, string(r.When.Range().SliceBytes(src)), r.Group, r.Package, r.Access})
	}
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, s := range cfg.Schedules {
		view.Schedules = append(view.Schedules, schedView{s.Job, s.Spec, s.Default, s.Next(epoch).UTC().Format(time.RFC3339)})
	}
	if w := FormatDiagnostics(cfg.Warnings); w != "" {
		view.Warnings = strings.Split(w, "\n")
	}
	add := func(name string, s Secret) {
		if !s.IsZero() {
			view.SecretSources[name] = s.Source()
		}
	}
	add("ghl.private_token", cfg.GHL.PrivateToken)
	if cfg.GHL.OAuth != nil {
		add("ghl.oauth.client_secret", cfg.GHL.OAuth.ClientSecret)
	}
	if r := cfg.PTD.REST(); r != nil {
		add("ptd.rest.api_key", r.APIKey)
	}
	if z := cfg.PTD.Zapier(); z != nil {
		add("ptd.zapier.add_client", z.AddClient)
		add("ptd.zapier.trigger_secret", z.TriggerSecret)
	}
	b, err := json.MarshalIndent(view, "", "  ")
	if err != nil {
		t.Fatalf("cannot marshal config view: %v", err)
	}
	return string(b) + "\n"
}

func fixtures(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", dir, "*.hcl"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures in testdata/%s: %v", dir, err)
	}
	sort.Strings(names)
	return names
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	golden := strings.TrimSuffix(path, ".hcl") + ".golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("cannot read golden (run go test ./config -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}

func TestGoodFixtures(t *testing.T) {
	for _, path := range fixtures(t, "good") {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".hcl"), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse(src, path, testEnv(t, nil))
			if err != nil {
				t.Fatalf("Parse: unexpected error:\n%v", err)
			}
			out := describe(t, cfg, src)
			for _, leak := range []string{"secret-value", "from-credential", "from-file", "hooks.zapier.example"} {
				if strings.Contains(out, leak) {
					t.Errorf("rendered config contains secret text %q", leak)
				}
			}
			checkGolden(t, path, out)
		})
	}
}

func TestBadFixtures(t *testing.T) {
	for _, path := range fixtures(t, "bad") {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".hcl"), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse(src, path, testEnv(t, nil))
			if err == nil {
				t.Fatalf("Parse accepted a bad file: %+v", cfg)
			}
			var cerr *Error
			if !errors.As(err, &cerr) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error is %T, want *config.Error matching ErrInvalid", err)
			}
			msg := err.Error()
			for i, line := range strings.Split(msg, "\n") {
				if !strings.HasPrefix(line, path+":") {
					t.Errorf("line %d has no %s:line:col position: %q", i+1, path, line)
				}
			}
			for _, leak := range []string{"secret-value", "pit-6a1b2c3d-literal"} {
				if strings.Contains(msg, leak) {
					t.Errorf("diagnostics contain secret text %q", leak)
				}
			}
			checkGolden(t, path, msg+"\n")
		})
	}
}

// TestShippedConfig loads the commented example at the top of the repository.
func TestShippedConfig(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	path := filepath.Join("..", "config.hcl")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(src, path, testEnv(t, map[string]string{"/etc/ptsync/ghl-webhook.pem": pemKey}))
	if err != nil {
		t.Fatalf("the shipped config.hcl is invalid:\n%v", err)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("the shipped config.hcl has warnings:\n%s", FormatDiagnostics(cfg.Warnings))
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"location", cfg.GHL.LocationID, "ve9EPM428h8vShlRW1KT"},
		{"oauth", cfg.GHL.OAuth != nil, true},
		{"client secret", cfg.GHL.OAuth.ClientSecret.Reveal(), "client-secret-from-credential"},
		{"read-only", cfg.GHL.ReadOnly(), false},
		{"driver", cfg.PTD.Driver, DriverREST},
		{"api key", cfg.PTD.REST().APIKey.Reveal(), "ptd-key-from-credential"},
		{"webhook key", fmt.Sprint(cfg.Webhooks.GHLPublicKeys), fmt.Sprint([]WebhookKey{{Key: pub}})},
		{"routes", len(cfg.Routes), 2},
		{"fields", len(cfg.Mapping.Fields), 6},
		{"reminders", cfg.Reminders.Enabled, true},
		{"schedules", len(cfg.Schedules), len(JobNames())},
		{"ptd children period", cfg.PTD.ChildrenPeriod, time.Hour},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
	for _, s := range cfg.Schedules {
		if s.Default {
			t.Errorf("the shipped config.hcl should show the schedule of job %q", s.Job)
		}
	}
}

// TestLoadRealFiles goes through Load and OSEnv: a real file, a real credentials directory,
// a file() path relative to the configuration file.
func TestLoadRealFiles(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "creds")
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(creds, "ghl-pit"), "pit-real\n")
	write(filepath.Join(dir, "keys", "ptd.key"), "ptd-real\r\n")
	write(filepath.Join(dir, "config.hcl"), `
ghl {
  location_id   = "loc1"
  private_token = credential("ghl-pit")
}
ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:8920"
    api_key  = file("keys/ptd.key")
  }
}
store { path = "state/ptsync.db" }
`)
	t.Setenv("CREDENTIALS_DIRECTORY", creds)

	cfg, err := Load(filepath.Join(dir, "config.hcl"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := []struct {
		name, got, want string
	}{
		{"credential", cfg.GHL.PrivateToken.Reveal(), "pit-real"},
		{"file relative to config", cfg.PTD.REST().APIKey.Reveal(), "ptd-real"},
		{"store path relative to config", cfg.Store.Path, filepath.Join(dir, "state", "ptsync.db")},
		{"secret source", cfg.GHL.PrivateToken.Source(), `credential("ghl-pit")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := Load(filepath.Join(dir, "nope.hcl"))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "Cannot read configuration file") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("credentials directory unset", func(t *testing.T) {
		t.Setenv("CREDENTIALS_DIRECTORY", "")
		_, err := Load(filepath.Join(dir, "config.hcl"))
		want := filepath.Join(dir, "config.hcl") + ":4:19: Missing credential: private_token needs the credential \"ghl-pit\" but $CREDENTIALS_DIRECTORY is not set"
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("got %v\nwant prefix %s", err, want)
		}
	})
}

func TestFormatDiagnosticsOrder(t *testing.T) {
	at := func(line, col int) *hcl.Range {
		return &hcl.Range{Filename: "c.hcl", Start: hcl.Pos{Line: line, Column: col}}
	}
	diags := hcl.Diagnostics{
		{Severity: hcl.DiagError, Summary: "Second", Detail: "multi\n  line", Subject: at(3, 1)},
		{Severity: hcl.DiagWarning, Summary: "Third", Subject: at(3, 7)},
		{Severity: hcl.DiagError, Summary: "First", Subject: at(1, 2)},
		{Severity: hcl.DiagError, Summary: "Nowhere", Detail: "no position"},
	}
	got := FormatDiagnostics(diags)
	want := "Nowhere: no position\nc.hcl:1:2: First\nc.hcl:3:1: Second: multi line\nc.hcl:3:7: warning: Third"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestPTDChildrenPeriodDefault: PT Distinction reports no task changes, so its children
// period is how late a coach's new task can reach HighLevel. Left out, it is an hour (not
// HighLevel's 24 h), or HighLevel's period when that is shorter.
func TestPTDChildrenPeriodDefault(t *testing.T) {
	for _, tc := range []struct {
		name, ghl, ptd string
		want           time.Duration
	}{
		{"left out: an hour", "", "", time.Hour},
		{"a shorter highlevel period is kept", `children_period = "10m"`, "", 10 * time.Minute},
		{"a longer highlevel period is not", `children_period = "48h"`, "", time.Hour},
		{"set", `children_period = "10m"`, `children_period = "6h"`, 6 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := `ghl {
  location_id   = "loc1"
  private_token = env("PTSYNC_GHL_PIT")
  ` + tc.ghl + `
}
ptd {
  driver = "rest"
  ` + tc.ptd + `
  rest {
    base_url = "http://127.0.0.1:8920"
    api_key  = env("PTSYNC_PTD_API_KEY")
  }
}
`
			cfg, err := Parse([]byte(src), "period.hcl", testEnv(t, nil))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.PTD.ChildrenPeriod != tc.want {
				t.Errorf("ptd children period %v, want %v", cfg.PTD.ChildrenPeriod, tc.want)
			}
		})
	}
}
