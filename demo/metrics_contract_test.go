package demo

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"ptsync/metrics/metricsdoc"
	"ptsync/metrics/promtest"
)

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

// contractProblems compares one scrape with the documentation: a documented family that is
// missing (unless mayWait allows it), has another type or other labels, or an exported ptsync_*
// family the documentation does not list.
func contractProblems(doc metricsdoc.Doc, got promtest.Families, mayWait func(name string) bool) []string {
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
	d, err := Start(context.Background(), Options{Contacts: 40, Seed: 19, Webhooks: true,
		DBPath: filepath.Join(t.TempDir(), "contract.db"), BurstInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})

	atStart := promtest.ScrapeFamilies(t, d.Service.MetricsAddr())
	for _, p := range contractProblems(doc, atStart, func(name string) bool { return doc.Waiting[name] }) {
		t.Errorf("right after start: %s", p)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := d.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	afterSync := promtest.ScrapeFamilies(t, d.Service.MetricsAddr())
	// The demo authenticates with a Private Integration Token, which does not expire, so the
	// token expiry is rightly absent for good (docs/metrics.md, "Series that wait").
	pit := func(name string) bool { return name == "ptsync_ghl_token_expiry_timestamp_seconds" }
	for _, p := range contractProblems(doc, afterSync, pit) {
		t.Errorf("after a sync: %s", p)
	}
	for _, name := range declaredAtStart {
		before := promtest.SeriesKeys(atStart[name])
		for key := range promtest.SeriesKeys(afterSync[name]) {
			if !before[key] {
				t.Errorf("%s%s appeared after start: declare it in replicator/metricsinit.go", name, key)
			}
		}
	}
	promtest.LogRequests(t, afterSync["ptsync_api_requests_total"])
}
