package replicator

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"ptsync/apiclient/ptdwire"
	"ptsync/config"
	"ptsync/metrics/metricsdoc"
	"ptsync/sim/gen"
	"ptsync/sim/ghlsim"
	"ptsync/sim/ptdsim"
)

// exported is one scrape of /metrics, by family name.
type exported map[string]*dto.MetricFamily

// scrapeFamilies GETs the service's /metrics and parses the text exposition.
func scrapeFamilies(t *testing.T, addr string) exported {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("cannot parse /metrics: %v", err)
	}
	return mfs
}

// labelNames is the union of the label names of mf's series (le and quantile excluded).
func labelNames(mf *dto.MetricFamily) []string {
	set := map[string]bool{}
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			set[l.GetName()] = true
		}
	}
	out := []string{}
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// seriesKeys renders each series of mf as its sorted label pairs, for set comparisons.
func seriesKeys(mf *dto.MetricFamily) map[string]bool {
	out := map[string]bool{}
	for _, m := range mf.GetMetric() {
		var pairs []string
		for _, l := range m.GetLabel() {
			pairs = append(pairs, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(pairs)
		out["{"+strings.Join(pairs, ",")+"}"] = true
	}
	return out
}

// contractProblems compares one scrape with the documentation: a documented family that is
// missing (unless mayWait allows it), has another type or other labels, or an exported ptsync_*
// family the documentation does not list.
func contractProblems(doc metricsdoc.Doc, got exported, mayWait func(name string) bool) []string {
	var out []string
	for name, f := range doc.Families {
		mf, ok := got[name]
		if !ok || len(mf.GetMetric()) == 0 {
			if !mayWait(name) {
				out = append(out, fmt.Sprintf("%s: documented (docs/metrics.md:%d) but not exported", name, f.Line))
			}
			continue
		}
		if typ := strings.ToLower(mf.GetType().String()); typ != f.Type {
			out = append(out, fmt.Sprintf("%s: exported as a %s, documented as a %s", name, typ, f.Type))
		}
		if labels := labelNames(mf); !slices.Equal(labels, f.Labels) {
			out = append(out, fmt.Sprintf("%s: exported with labels %q, documented with %q", name, labels, f.Labels))
		}
	}
	for name := range got {
		if _, ok := doc.Families[name]; !ok && strings.HasPrefix(name, "ptsync_") {
			out = append(out, fmt.Sprintf("%s: exported but not in docs/metrics.md", name))
		}
	}
	sort.Strings(out)
	return out
}

// declaredAtStart are the families whose every label value is declared at start
// (replicator/metricsinit.go): a series that appears later means a declaration is incomplete.
var declaredAtStart = []string{
	"ptsync_sync_runs_total", "ptsync_api_retries_total", "ptsync_api_throttled_total",
	"ptsync_ghl_token_refreshes_total", "ptsync_ghl_token_refused", "ptsync_breaker_state",
	"ptsync_breaker_transitions_total", "ptsync_pushes_total", "ptsync_reconcile_decisions_total",
	"ptsync_ptd_capability_missing_total", "ptsync_children_refreshes_total",
	"ptsync_outbox_entries", "ptsync_outbox_dead_letters", "ptsync_sync_schedule_interval_seconds",
}

// TestServiceExportsWhatIsDocumented is the contract between the running service and
// docs/metrics.md: the real service (its listeners, a bbolt file, both simulators, webhooks on)
// is scraped over HTTP right after Open and again after a full sync. Each scrape must export
// every documented family (right after start, only those documented as waiting for their first
// value may be absent), with the documented type and label names, and no undocumented ptsync_*
// family; and the families whose label values are declared at start must gain no series later.
func TestServiceExportsWhatIsDocumented(t *testing.T) {
	doc, err := metricsdoc.ReadFile(filepath.Join("..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := StartDemo(context.Background(), DemoOptions{Contacts: 40, Seed: 19, Webhooks: true,
		DBPath: filepath.Join(t.TempDir(), "contract.db"), BurstInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})

	atStart := scrapeFamilies(t, d.Service.MetricsAddr())
	for _, p := range contractProblems(doc, atStart, func(name string) bool { return doc.Waiting[name] }) {
		t.Errorf("right after start: %s", p)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := d.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	afterSync := scrapeFamilies(t, d.Service.MetricsAddr())
	// The demo authenticates with a Private Integration Token, which does not expire, so the
	// token expiry is rightly absent for good (docs/metrics.md, "Series that wait").
	pit := func(name string) bool { return name == "ptsync_ghl_token_expiry_timestamp_seconds" }
	for _, p := range contractProblems(doc, afterSync, pit) {
		t.Errorf("after a sync: %s", p)
	}
	for _, name := range declaredAtStart {
		before := seriesKeys(atStart[name])
		for key := range seriesKeys(afterSync[name]) {
			if !before[key] {
				t.Errorf("%s%s appeared after start: declare it in replicator/metricsinit.go", name, key)
			}
		}
	}
	logRequests(t, afterSync["ptsync_api_requests_total"])
}

// logRequests prints the sync's requests by upstream, operation and code (the figures the
// issue asks for) and fails if an upstream made none.
func logRequests(t *testing.T, mf *dto.MetricFamily) {
	t.Helper()
	by := map[string]float64{}
	total := map[string]float64{}
	for _, m := range mf.GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		by[l["upstream"]+" "+l["operation"]+" "+l["code"]] += m.GetCounter().GetValue()
		total[l["upstream"]] += m.GetCounter().GetValue()
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %-60s %6.0f", k, by[k])
	}
	t.Logf("ptsync_api_requests_total after one sync (upstream operation code):%s\n  total: ghl %.0f, ptd %.0f",
		b.String(), total["ghl"], total["ptd"])
	for _, up := range []string{"ghl", "ptd"} {
		if total[up] == 0 {
			t.Errorf("no %s request counted in ptsync_api_requests_total", up)
		}
	}
}

// TestZapierDriverCountsInTheSharedFamilies: with the zapier driver, the service's POSTs to
// the catch hooks land in ptsync_api_requests_total{upstream="ptd"} under "zapier-<action>"
// operations, beside HighLevel's, with the hooks' operations declared at start.
func TestZapierDriverCountsInTheSharedFamilies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ghlSim := ghlsim.New(ghlsim.Options{Seed: 5, LocationID: "zap-location"})
	ghlURL, err := ghlSim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ghlSim.Close() })
	ghlSim.SeedPeople(gen.NewAt(5, time.Now()).People(12))
	zap := ptdsim.NewZapierRecorder(ptdsim.ZapierOptions{Apply: ptdsim.New(ptdsim.Options{})})
	hooks := httptest.NewServer(zap.Handler())
	t.Cleanup(hooks.Close)
	dir := t.TempDir()
	vars := map[string]string{"GHL_URL": ghlURL, "GHL_PIT": ghlSim.IssuePIT("contacts.readonly", "contacts.write"),
		"ZAP_ADD": ptdsim.HookURL(hooks.URL, ptdwire.ZapierAddClient), "ZAP_PRINT": ptdsim.HookURL(hooks.URL, ptdwire.ZapierPrintOnly),
		"STORE": filepath.Join(dir, "zap.db")}
	src := `ghl {
  base_url      = env("GHL_URL")
  location_id   = "zap-location"
  private_token = env("GHL_PIT")
  scopes        = ["contacts.readonly", "contacts.write"]
}
ptd {
  driver = "zapier"
  zapier {
    add_client = env("ZAP_ADD")
    print_only = env("ZAP_PRINT")
  }
}
store { path = env("STORE") }
metrics { listen = "127.0.0.1:0" }
admin { listen = "127.0.0.1:0" }
`
	cfg, err := config.Parse([]byte(src), filepath.Join(dir, "zap.hcl"), config.Env{
		LookupEnv: func(n string) (string, bool) { v, ok := vars[n]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	s := runService(t, ctx, Options{Config: cfg})
	atStart := scrapeFamilies(t, s.MetricsAddr())
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	for _, job := range []string{config.JobReconcile, config.JobPush} {
		if err := s.RunJob(ctx, job); err != nil {
			t.Fatalf("%s: %v", job, err)
		}
	}
	afterSync := scrapeFamilies(t, s.MetricsAddr())
	logRequests(t, afterSync["ptsync_api_requests_total"])
	if n := len(zap.Calls()); n == 0 {
		t.Fatal("the sync posted nothing to the catch hooks")
	}
	var zapier float64
	for _, m := range afterSync["ptsync_api_requests_total"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		if l["upstream"] == "ptd" && l["operation"] == "zapier-add-client" && l["code"] == "200" {
			zapier = m.GetCounter().GetValue()
		}
	}
	if want := float64(len(zap.Calls())); zapier != want {
		t.Errorf(`ptsync_api_requests_total{upstream="ptd",operation="zapier-add-client",code="200"} = %v, want the %v posts the hooks received`, zapier, want)
	}
	want := map[string]bool{"{operation=zapier-add-client,upstream=ptd}": true, "{operation=zapier-print-only,upstream=ptd}": true}
	for key := range want {
		if !seriesKeys(atStart["ptsync_api_throttled_total"])[key] {
			t.Errorf("ptsync_api_throttled_total%s not declared at start", key)
		}
	}
}
