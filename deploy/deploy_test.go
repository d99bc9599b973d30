package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"

	"ptsync/metrics/metricsdoc"
)

// unitDirectives parses a systemd unit into "Section.Key" -> values in file order.
func unitDirectives(t *testing.T, unit string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(unit))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("ptsync.service:%d: not key=value: %q", n, line)
			}
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

func TestUnitDirectives(t *testing.T) {
	d := unitDirectives(t, Unit())
	tests := []struct {
		key  string
		want string // "" only checks that the key is present
	}{
		{"Service.Type", "notify"},
		{"Service.WatchdogSec", "60"},
		{"Service.NotifyAccess", "main"},
		{"Service.DynamicUser", "yes"},
		{"Service.StateDirectory", "ptsync"},
		{"Service.ConfigurationDirectory", "ptsync"},
		{"Service.ProtectSystem", "strict"},
		{"Service.ProtectHome", "yes"},
		{"Service.PrivateTmp", "yes"},
		{"Service.PrivateDevices", "yes"},
		{"Service.NoNewPrivileges", "yes"},
		{"Service.ExecStartPre", "/usr/bin/ptsync check-config --config /etc/ptsync/config.hcl"},
		{"Service.ExecStart", "/usr/bin/ptsync run --config /etc/ptsync/config.hcl"},
		{"Service.ExecReload", "/bin/kill -HUP $MAINPID"},
		{"Service.Restart", "on-failure"},
		{"Service.RestartPreventExitStatus", "2"},
		{"Service.CapabilityBoundingSet", ""},
		{"Service.RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		{"Service.SystemCallFilter", "@system-service"},
		{"Service.SystemCallArchitectures", "native"},
		{"Service.MemoryDenyWriteExecute", "yes"},
		{"Service.LockPersonality", "yes"},
		{"Service.RestrictRealtime", "yes"},
		{"Service.RestrictNamespaces", "yes"},
		{"Service.ProtectKernelTunables", "yes"},
		{"Service.ProtectKernelModules", "yes"},
		{"Service.ProtectKernelLogs", "yes"},
		{"Service.ProtectControlGroups", "yes"},
		{"Service.ProtectClock", "yes"},
		{"Service.ProtectHostname", "yes"},
		{"Service.ProtectProc", "invisible"},
		{"Service.ProcSubset", "pid"},
		{"Service.UMask", "0077"},
		{"Service.LoadCredential", "ghl-client-secret:/etc/ptsync/credentials/ghl-client-secret"},
		{"Service.LoadCredential", "ptd-api-key:/etc/ptsync/credentials/ptd-api-key"},
		{"Install.WantedBy", "multi-user.target"},
	}
	for _, tc := range tests {
		t.Run(tc.key+"="+tc.want, func(t *testing.T) {
			vals, ok := d[tc.key]
			if !ok {
				t.Fatalf("%s missing", tc.key)
			}
			if tc.want != "" && !slices.Contains(vals, tc.want) {
				t.Fatalf("%s = %q, want %q among them", tc.key, vals, tc.want)
			}
		})
	}
	// The service must reach HighLevel on the internet: an IP deny list would cut it off.
	if v, ok := d["Service.IPAddressDeny"]; ok {
		t.Errorf("IPAddressDeny=%v would block HighLevel and PTD", v)
	}
}

// TestUnitVerify runs systemd-analyze verify. verify insists that ExecStart's binary exists, so
// the unit is copied into a temp dir with /usr/bin/ptsync replaced by a stub script (verify
// only checks that the file is executable); nothing else changes. Any line verify prints about the
// unit (an unknown or misspelt key is only a warning, exit status 0) fails the test.
func TestUnitVerify(t *testing.T) {
	sa := lookPath(t, "systemd-analyze")
	dir := t.TempDir()
	bin := filepath.Join(dir, "ptsync")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unitPath := filepath.Join(dir, "ptsync.service")
	if err := os.WriteFile(unitPath, []byte(strings.ReplaceAll(Unit(), "/usr/bin/ptsync", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", "--man=no", unitPath).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(line, "ptsync") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
}

// TestUnitSecurityExposure holds the unit to an exposure of at most 1.5 in
// `systemd-analyze security --offline=true` (systemd >= 250).
func TestUnitSecurityExposure(t *testing.T) {
	sa := lookPath(t, "systemd-analyze")
	out, err := exec.Command(sa, "security", "--offline=true", "--no-pager", "ptsync.service").CombinedOutput()
	if err != nil && bytes.Contains(out, []byte("--offline")) {
		t.Skipf("this systemd-analyze has no --offline: %s", out)
	}
	m := regexp.MustCompile(`Overall exposure level for ptsync\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in systemd-analyze output (err %v):\n%s", err, out)
	}
	level, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("exposure level %.1f", level)
	if level > 1.5 {
		t.Errorf("exposure level %.1f > 1.5; unmet checks:\n%s", level, unmet(out))
	}
}

func unmet(out []byte) string {
	var b strings.Builder
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "✗") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func TestPromtoolRules(t *testing.T) {
	promtool := lookPath(t, "promtool")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "check rules", args: []string{"check", "rules", "alerts.yml"}, want: "SUCCESS"},
		{name: "test rules", args: []string{"test", "rules", "alerts_test.yml"}, want: "SUCCESS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(promtool, tc.args...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("promtool %s: %v\n%s", strings.Join(tc.args, " "), err, out)
			}
		})
	}
}

type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert string `yaml:"alert"`
			Expr  string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type ruleTests struct {
	Tests []struct {
		AlertRuleTest []struct {
			Alertname string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// TestAlertsAreTestedAndDocumented checks that every alert has a promtool case where it fires
// and one where it does not, a section in docs/operations.md, and only documented metrics in
// its expression; and that every alert docs/metrics.md names exists.
func TestAlertsAreTestedAndDocumented(t *testing.T) {
	var rules ruleFile
	if err := yaml.Unmarshal([]byte(AlertRules()), &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	raw, err := os.ReadFile("alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	var tests ruleTests
	if err := yaml.Unmarshal(raw, &tests); err != nil {
		t.Fatalf("alerts_test.yml: %v", err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	ops := readFile(t, "../docs/operations.md")
	metricsDoc := readFile(t, "../docs/metrics.md")
	documented := documentedMetrics(t, metricsDoc)
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			t.Run(r.Alert, func(t *testing.T) {
				if !fires[r.Alert] {
					t.Error("alerts_test.yml never expects it to fire")
				}
				if !quiet[r.Alert] {
					t.Error("alerts_test.yml never expects it to stay quiet")
				}
				if !strings.Contains(ops, "### "+r.Alert) {
					t.Errorf("docs/operations.md has no '### %s' section", r.Alert)
				}
				for _, name := range metricNames(r.Expr) {
					if !documented[baseName(name, documented)] {
						t.Errorf("expression uses %s, which docs/metrics.md does not list", name)
					}
				}
			})
		}
	}
	if len(alerts) < 10 {
		t.Fatalf("only %d alerts parsed from alerts.yml", len(alerts))
	}
	for _, name := range regexp.MustCompile("`(Ptsync[A-Za-z]+)`").FindAllStringSubmatch(metricsDoc, -1) {
		if !alerts[name[1]] {
			t.Errorf("docs/metrics.md names alert %s, which alerts.yml does not define", name[1])
		}
	}
}

type dashboardJSON struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
	Panels []dashboardPanel `json:"panels"`
}

type dashboardPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func parseDashboard(t *testing.T) dashboardJSON {
	t.Helper()
	var d dashboardJSON
	dec := json.NewDecoder(strings.NewReader(Dashboard()))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("grafana-dashboard.json: trailing data after the dashboard object")
	}
	return d
}

func TestDashboard(t *testing.T) {
	d := parseDashboard(t)
	documented := documentedMetrics(t, readFile(t, "../docs/metrics.md"))
	if d.Title == "" || d.UID == "" {
		t.Errorf("dashboard needs a title and a stable uid, got %q %q", d.Title, d.UID)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	if !vars["datasource"] || !vars["instance"] {
		t.Errorf("dashboard variables %v, want datasource and instance", vars)
	}
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q overflows the 24-column grid", p.Title)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if !strings.Contains(tg.Expr, `instance=~"$instance"`) {
				t.Errorf("panel %q: %q ignores the instance variable", p.Title, tg.Expr)
			}
			for _, name := range metricNames(tg.Expr) {
				base := baseName(name, documented)
				used[base] = true
				if !documented[base] {
					t.Errorf("panel %q uses %s, which docs/metrics.md does not list", p.Title, name)
				}
			}
		}
	}
	// Every documented metric is shown somewhere.
	for name := range documented {
		if !used[name] {
			t.Errorf("no dashboard panel shows %s", name)
		}
	}
}

var metricRE = regexp.MustCompile(`\bptsync_[a-z0-9_]+`)

func metricNames(expr string) []string { return metricRE.FindAllString(expr, -1) }

// baseName maps a histogram's _bucket/_sum/_count series to the documented family name.
func baseName(name string, documented map[string]bool) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && documented[base] {
			return base
		}
	}
	return name
}

func documentedMetrics(t *testing.T, doc string) map[string]bool {
	t.Helper()
	d, err := metricsdoc.Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("docs/metrics.md: %v", err)
	}
	return d.Names()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("skipping: %s not on PATH", name)
	}
	return p
}
