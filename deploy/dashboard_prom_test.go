package deploy

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"

	"ptsync/demo"
	"ptsync/metrics/promtest"
)

// emptyOnHealthy lists the queries (dashboard expressions after variable substitution, or
// alert names) that may return no series from a healthy service like the one below, and why.
// Everything else must return at least one series, so that a renamed metric, a wrong label or
// a family exported only after its first event shows up here and not as an empty panel or an
// alert that can never fire.
var emptyOnHealthy = map[string]string{
	"PtsyncTokenExpiring": pitHasNoExpiry,
	`ptsync_ghl_token_expiry_timestamp_seconds{instance=~".*"} - time()`: pitHasNoExpiry,
}

const pitHasNoExpiry = "the service authenticates with a Private Integration Token, which does not expire: " +
	"ptsync_ghl_token_expiry_timestamp_seconds has no series (docs/metrics.md, series that wait)"

// TestDashboardAndAlertsAgainstTheRunningService starts the real service against the
// simulators (the demo wiring: real listeners, a bbolt file, both simulators, webhooks on),
// lets it sync, has a real Prometheus scrape it, and runs every query of the Grafana dashboard
// (with its variables filled in) and every alert expression. Each must parse, and return at
// least one series unless emptyOnHealthy says why it may not. An alert expression is run with
// its comparisons turned into `bool` comparisons (a healthy service fires nothing, but every
// series the alert watches must exist), and each side of an `unless` is run on its own.
// Skips without a prometheus binary (.ci/run installs Debian's).
func TestDashboardAndAlertsAgainstTheRunningService(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{Contacts: 40, Seed: 31, Webhooks: true,
		DBPath: filepath.Join(t.TempDir(), "dashboard.db"), BurstInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	p := promtest.Start(t, promtest.Options{Targets: []string{d.Service.MetricsAddr()}})
	if err := d.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	// rate() and increase() need two samples in their window: wait until Prometheus has
	// scraped twice more after the sync.
	if err := waitForScrapes(ctx, p, 2); err != nil {
		t.Fatal(err)
	}

	used := map[string]bool{}
	check := func(t *testing.T, key, expr string) {
		t.Helper()
		samples, err := p.Query(ctx, expr)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := emptyOnHealthy[key]; ok {
			used[key] = true
			t.Logf("%s: %d series (allowed to be empty: %s)", expr, len(samples), emptyOnHealthy[key])
			return
		}
		if len(samples) == 0 {
			t.Errorf("%s returned no series from a healthy, synced service", expr)
		}
	}

	vars := strings.NewReplacer(`$instance`, `.*`, `$__rate_interval`, `1m`)
	for _, panel := range parseDashboard(t).Panels {
		for _, tg := range panel.Targets {
			expr := vars.Replace(tg.Expr)
			t.Run("dashboard/"+panel.Title+"/"+tg.Expr, func(t *testing.T) { check(t, expr, expr) })
		}
	}
	var rules ruleFile
	if err := yaml.Unmarshal([]byte(AlertRules()), &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			t.Run("alert/"+r.Alert, func(t *testing.T) {
				if _, err := p.Query(ctx, r.Expr); err != nil {
					t.Fatalf("the expression as written: %v", err)
				}
				for _, side := range unlessSides(r.Expr) {
					check(t, r.Alert, boolComparisons(side))
				}
			})
		}
	}
	for key, why := range emptyOnHealthy {
		if !used[key] {
			t.Errorf("emptyOnHealthy names %q (%s), which is no longer a dashboard query or an alert", key, why)
		}
	}
}

// waitForScrapes waits until Prometheus has scraped the target n more times than now.
func waitForScrapes(ctx context.Context, p *promtest.Prometheus, n int) error {
	const q = `count_over_time(ptsync_build_info[10m])`
	s, err := p.WaitFor(ctx, q)
	if err != nil {
		return err
	}
	_, err = p.WaitFor(ctx, q+" >= "+strconv.Itoa(int(s[0].Value)+n))
	return err
}

// boolComparisons rewrites every comparison operator outside label matchers and strings into
// its `bool` form (`a > 3` becomes `a > bool 3`), so the expression keeps its series, valued 0
// or 1, instead of filtering them out.
func boolComparisons(expr string) string {
	var b strings.Builder
	braces, quote := 0, byte(0)
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case quote != 0:
			if c == '\\' && i+1 < len(expr) {
				b.WriteByte(c)
				i++
				c = expr[i]
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '{':
			braces++
		case c == '}':
			braces--
		case braces == 0 && i+1 < len(expr) && strings.Contains("== != >= <=", expr[i:i+2]) && expr[i+1] == '=':
			b.WriteString(expr[i:i+2] + " bool")
			i++
			continue
		case braces == 0 && (c == '>' || c == '<'):
			b.WriteString(string(c) + " bool")
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// unlessSides splits expr at a top-level `unless` (outside parentheses): the alert watches both
// sides, but on a healthy service the right one removes the left. Without one it is [expr].
func unlessSides(expr string) []string {
	depth := 0
	for i := 0; i < len(expr); i++ {
		switch expr[i] {
		case '(':
			depth++
		case ')':
			depth--
		}
		after := i + len("unless")
		if depth == 0 && strings.HasPrefix(expr[i:], "unless") && i > 0 && after < len(expr) &&
			strings.ContainsRune(" \n\t)", rune(expr[i-1])) && strings.ContainsRune(" \n\t(", rune(expr[after])) {
			return []string{strings.TrimSpace(expr[:i]), strings.TrimSpace(expr[i+len("unless"):])}
		}
	}
	return []string{expr}
}

func TestBoolComparisons(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`up{job="ptsync"} == 0`, `up{job="ptsync"} == bool 0`},
		{`max by (x) (a{r=~"a|b",s!="c"}) > 3 * b`, `max by (x) (a{r=~"a|b",s!="c"}) > bool 3 * b`},
		{`a - time() < 300`, `a - time() < bool 300`},
		{`a >= 3`, `a >= bool 3`},
		{`a{l="x>y"} != 1`, `a{l="x>y"} != bool 1`},
	} {
		if got := boolComparisons(tc.in); got != tc.want {
			t.Errorf("boolComparisons(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := unlessSides("a >= 3\n  unless b > 0"); len(got) != 2 || got[0] != "a >= 3" || got[1] != "b > 0" {
		t.Errorf("unlessSides = %q", got)
	}
	if got := unlessSides("x unless_not (y unless z)"); len(got) != 1 {
		t.Errorf("unlessSides split inside parentheses or a name: %q", got)
	}
}
