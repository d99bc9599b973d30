package config

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fuzzFilename sits beside the good fixtures so their file("secrets/...") references resolve.
var fuzzFilename = filepath.Join("testdata", "good", "fuzz.hcl")

// diagLine is the one-line form every configuration problem must take.
var diagLine = regexp.MustCompile(`^` + regexp.QuoteMeta(fuzzFilename) + `:[1-9][0-9]*:[1-9][0-9]*: \S`)

// FuzzParse feeds arbitrary bytes to Parse. Properties: it never panics; a failure is an
// *Error matching ErrInvalid whose every line is `file:line:col: ...` for this file; a success
// is complete (every schedule parsed) and its route conditions evaluate or fail with ErrEval
// for a contact; the same input always gives the same answer.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*", "*.hcl"))
	seeds = append(seeds, "demo.hcl", filepath.Join("..", "config.hcl"))
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatalf("cannot read seed: %v", err)
		}
		f.Add(b)
	}
	f.Add([]byte(""))
	f.Add([]byte("ghl {\n  location_id = \"loc1\"\n  private_token = \"literal\"\n}\n"))
	f.Add([]byte("ghl {}\nghl {}\nptd { driver = \"rest\" }\n"))
	f.Add([]byte("route \"r\" {\n  when = contains(tags, \"vip\") && email == \"a@b.c\"\n  group = \"VIP\"\n}\n"))
	f.Add([]byte("schedule \"contacts\" { cron = \"@every 0s\" }\n"))
	f.Add([]byte("ghl { location_id = env(\"\\u0000\") }\n"))
	f.Add([]byte("\xff\xfe{\x00"))
	f.Fuzz(func(t *testing.T, src []byte) {
		env := testEnv(t, nil)
		cfg, err := Parse(src, fuzzFilename, env)
		checkParseResult(t, cfg, err)
		cfg2, err2 := Parse(src, fuzzFilename, env)
		if (err == nil) != (err2 == nil) || (err != nil && stableText(err) != stableText(err2)) {
			t.Fatalf("Parse is not deterministic:\n%v\n---\n%v", err, err2)
		}
		if cfg != nil && cfg2 != nil && len(cfg.Routes) != len(cfg2.Routes) {
			t.Fatalf("Parse is not deterministic: %d vs %d routes", len(cfg.Routes), len(cfg2.Routes))
		}
	})
}

// didYouMean matches HCL's suggestion for an unknown function. HCL picks it from a map, so
// between equally close names ("regex1l": "regex" or "regexall") it varies from run to run
// (found by this target, kept as testdata/fuzz/FuzzParse/e8a8281d55260d4f); everything else
// in a diagnostic must be stable.
var didYouMean = regexp.MustCompile(` Did you mean "[^"]*"\?`)

func stableText(err error) string { return didYouMean.ReplaceAllString(err.Error(), "") }

func checkParseResult(t *testing.T, cfg *Config, err error) {
	t.Helper()
	if err != nil {
		if cfg != nil {
			t.Fatalf("Parse returned a config with an error")
		}
		var ce *Error
		if !errors.As(err, &ce) || !errors.Is(err, ErrInvalid) {
			t.Fatalf("error is %T, not an *Error matching ErrInvalid: %v", err, err)
		}
		for _, d := range ce.Diagnostics {
			if d.Subject == nil {
				t.Fatalf("diagnostic without a position: %s: %s", d.Summary, d.Detail)
			}
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !diagLine.MatchString(line) {
				t.Fatalf("error line does not start with %s:line:col: %q", fuzzFilename, line)
			}
		}
		return
	}
	if cfg == nil {
		t.Fatal("Parse returned neither a config nor an error")
	}
	if len(cfg.Schedules) != len(JobNames()) {
		t.Fatalf("config has %d schedules, want one per job (%d)", len(cfg.Schedules), len(JobNames()))
	}
	for _, s := range cfg.Schedules {
		if s.Cron == nil {
			t.Fatalf("schedule %q has no parsed cron", s.Job)
		}
	}
	if cfg.Mapping.Location == nil {
		t.Fatal("mapping has no time zone location")
	}
	contact := ContactVars(RouteContact{ID: "c1", Email: "ann@example.com", Tags: []string{"vip", "lead"}})
	for _, r := range cfg.Routes {
		if _, err := r.Match(contact); err != nil && !errors.Is(err, ErrEval) {
			t.Fatalf("route %q: error does not match ErrEval: %v", r.Name, err)
		}
	}
}
