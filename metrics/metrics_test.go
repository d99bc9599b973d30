package metrics

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"ptsync/metrics/metricsdoc"
)

// ghlObserver mirrors apiclient/ghl.Observer, which metrics may not import; if the client's
// interface changes, this copy and the compile-time check below must change with it.
type ghlObserver interface {
	ObserveRequest(operation string, status int, d time.Duration)
	ObserveRateLimit(location string, burstRemaining, dailyRemaining int)
	ObserveTokenExpiry(location string, expiry time.Time)
	ObserveRetry(operation, reason string)
	ObserveBreakerState(upstream, state string)
}

var _ ghlObserver = (*UpstreamObserver)(nil)

var fixedNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newTestMetrics(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.Clock = func() time.Time { return fixedNow }
	return m, reg
}

// observeAll touches every metric so that each family has at least one series.
func observeAll(m *Metrics) {
	m.SetBuildInfo("v1.2.3")
	m.SetSyncSchedule("contacts", 5*time.Minute)
	m.SyncFinished("contacts", nil, 2*time.Second)
	m.SyncFinished("contacts", errors.New("boom"), time.Second)
	ghl := m.GHLObserver()
	ghl.ObserveRequest("contacts.search", 200, 120*time.Millisecond)
	ghl.ObserveRequest("contacts.search", 429, 20*time.Millisecond)
	ghl.ObserveRetry("contacts.search", "rate_limited")
	ghl.ObserveRateLimit("loc1", 97, 199000)
	ghl.ObserveTokenExpiry("loc1", fixedNow.Add(24*time.Hour))
	ghl.ObserveBreakerState("ghl", BreakerOpen)
	m.TokenRefresh("loc1", ResultSuccess)
	m.SetMirrorCounter(func() map[string]int { return map[string]int{"contacts": 10, "tasks": 4} })
	m.SetOutbox(UpstreamPTD, 3, 90*time.Second)
	m.SetDeadLetters(UpstreamPTD, 1)
	m.SetConflictsPending(2)
	m.SetQuarantine(1)
	m.SweepHeld("ghl", "contact")
	m.SetSweepsHeld(1)
	m.PushDone(UpstreamPTD, "update", nil)
	m.ReconcileDecision("newest")
	m.WebhookReceived(UpstreamGHL, SchemeEd25519, WebhookAccepted)
	m.SetBackfill(50, 200)
	m.CapabilityMissing("appointments")
	m.RemindersSent(2)
	m.ChildrenRefreshed("tasks", "dirty")
	m.MirrorWriteFailed("no_space")
	m.SetNotReady(NotReadyMirrorWrite, true)
	m.FutureTimestamp(UpstreamGHL)
	m.SetPTDChildrenLag(time.Hour + 42*time.Second)
}

func TestLint(t *testing.T) {
	m, reg := newTestMetrics(t)
	observeAll(m)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

// TestDocumentedMetricsMatchRegistered parses the table in docs/metrics.md and compares it with
// the descriptors New registers, so the two cannot drift apart.
func TestDocumentedMetricsMatchRegistered(t *testing.T) {
	m, reg := newTestMetrics(t)
	registered := map[string]bool{}
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for _, c := range m.collectors() {
		ch := make(chan *prometheus.Desc, 8)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			sm := fq.FindStringSubmatch(d.String())
			if sm == nil {
				t.Fatalf("cannot read the name of %s", d)
			}
			registered[sm[1]] = true
		}
	}
	documented := DocumentedMetrics(t, "../docs/metrics.md")
	for name := range registered {
		if !documented[name] {
			t.Errorf("%s is registered but missing from docs/metrics.md", name)
		}
	}
	for name := range documented {
		if !registered[name] {
			t.Errorf("%s is in docs/metrics.md but not registered by New", name)
		}
	}
	// Everything registered is gathered once observed, i.e. the registry holds exactly these.
	observeAll(m)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !documented[mf.GetName()] {
			t.Errorf("gathered %s is not documented", mf.GetName())
		}
	}
	if len(mfs) != len(documented) {
		t.Errorf("gathered %d families after observeAll, documented %d", len(mfs), len(documented))
	}
}

// DocumentedMetrics returns the family names of the metrics table in the markdown file at path.
func DocumentedMetrics(t *testing.T, path string) map[string]bool {
	t.Helper()
	d, err := metricsdoc.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return d.Names()
}

func TestCollectAndCompare(t *testing.T) {
	tests := []struct {
		name    string
		observe func(m *Metrics)
		metric  string
		want    string
	}{
		{
			name: "sync runs by result, canceled apart",
			observe: func(m *Metrics) {
				m.SyncFinished("contacts", nil, time.Second)
				m.SyncFinished("contacts", fmt.Errorf("cannot poll: %w", context.Canceled), time.Second)
				m.SyncFinished("contacts", errors.New("boom"), time.Second)
				m.SyncFinished("tasks", nil, time.Second)
			},
			metric: "ptsync_sync_runs_total",
			want: `
# HELP ptsync_sync_runs_total Sync job runs, by job and result (success, error, canceled).
# TYPE ptsync_sync_runs_total counter
ptsync_sync_runs_total{result="canceled",sync_job="contacts"} 1
ptsync_sync_runs_total{result="error",sync_job="contacts"} 1
ptsync_sync_runs_total{result="success",sync_job="contacts"} 1
ptsync_sync_runs_total{result="success",sync_job="tasks"} 1
`,
		},
		{
			name: "last success only moves on success",
			observe: func(m *Metrics) {
				m.SyncFinished("contacts", nil, time.Second)
				m.Clock = func() time.Time { return fixedNow.Add(time.Hour) }
				m.SyncFinished("contacts", errors.New("boom"), time.Second)
			},
			metric: "ptsync_sync_last_success_timestamp_seconds",
			want: fmt.Sprintf(`
# HELP ptsync_sync_last_success_timestamp_seconds Unix time at which the job last finished successfully.
# TYPE ptsync_sync_last_success_timestamp_seconds gauge
ptsync_sync_last_success_timestamp_seconds{sync_job="contacts"} %d
`, fixedNow.Unix()),
		},
		{
			name: "requests by code, transport errors and 429s",
			observe: func(m *Metrics) {
				o := m.GHLObserver()
				o.ObserveRequest("contacts.get", 200, time.Millisecond)
				o.ObserveRequest("contacts.get", 200, time.Millisecond)
				o.ObserveRequest("contacts.get", 0, time.Millisecond)
				o.ObserveRequest("contacts.get", 429, time.Millisecond)
				o.ObserveRequest("contacts.get", 999, time.Millisecond)
				m.PTDObserver().ObserveRequest("clients.list", 503, time.Millisecond)
			},
			metric: "ptsync_api_requests_total",
			want: `
# HELP ptsync_api_requests_total Requests to an upstream API, by operation and HTTP status code ("error" when no response arrived).
# TYPE ptsync_api_requests_total counter
ptsync_api_requests_total{code="200",operation="contacts.get",upstream="ghl"} 2
ptsync_api_requests_total{code="429",operation="contacts.get",upstream="ghl"} 1
ptsync_api_requests_total{code="error",operation="contacts.get",upstream="ghl"} 1
ptsync_api_requests_total{code="other",operation="contacts.get",upstream="ghl"} 1
ptsync_api_requests_total{code="503",operation="clients.list",upstream="ptd"} 1
`,
		},
		{
			name: "rate limit: a missing header leaves the window alone",
			observe: func(m *Metrics) {
				o := m.GHLObserver()
				o.ObserveRateLimit("loc1", 90, 150000)
				o.ObserveRateLimit("loc1", 80, -1)
			},
			metric: "ptsync_ghl_ratelimit_remaining",
			want: `
# HELP ptsync_ghl_ratelimit_remaining Requests left in HighLevel's rate-limit window (burst or daily), from the last X-RateLimit-* headers.
# TYPE ptsync_ghl_ratelimit_remaining gauge
ptsync_ghl_ratelimit_remaining{location="loc1",window="burst"} 80
ptsync_ghl_ratelimit_remaining{location="loc1",window="daily"} 150000
`,
		},
		{
			name: "breaker transitions count changes only",
			observe: func(m *Metrics) {
				o := m.GHLObserver()
				o.ObserveBreakerState("ghl", BreakerClosed)
				o.ObserveBreakerState("ghl", BreakerOpen)
				o.ObserveBreakerState("ghl", BreakerOpen)
				o.ObserveBreakerState("ghl", BreakerHalfOpen)
				o.ObserveBreakerState("ghl", "bogus")
			},
			metric: "ptsync_breaker_transitions_total",
			want: `
# HELP ptsync_breaker_transitions_total Circuit breaker state changes per upstream, by the state entered.
# TYPE ptsync_breaker_transitions_total counter
ptsync_breaker_transitions_total{state="half-open",upstream="ghl"} 1
ptsync_breaker_transitions_total{state="open",upstream="ghl"} 1
`,
		},
		{
			name: "breaker state gauge",
			observe: func(m *Metrics) {
				m.GHLObserver().ObserveBreakerState("ghl", BreakerOpen)
				m.PTDObserver().ObserveBreakerState("ptd", BreakerHalfOpen)
			},
			metric: "ptsync_breaker_state",
			want: `
# HELP ptsync_breaker_state Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open.
# TYPE ptsync_breaker_state gauge
ptsync_breaker_state{upstream="ghl"} 2
ptsync_breaker_state{upstream="ptd"} 1
`,
		},
		{
			name: "token refused follows refresh results",
			observe: func(m *Metrics) {
				m.TokenRefresh("loc1", ResultRefused)
				m.TokenRefresh("loc2", ResultRefused)
				m.TokenRefresh("loc2", ResultSuccess)
			},
			metric: "ptsync_ghl_token_refused",
			want: `
# HELP ptsync_ghl_token_refused 1 when HighLevel refused the refresh token for good (invalid_grant) and writes are stopped until 'ptsync auth'.
# TYPE ptsync_ghl_token_refused gauge
ptsync_ghl_token_refused{location="loc1"} 1
ptsync_ghl_token_refused{location="loc2"} 0
`,
		},
		{
			name: "token expiry removed for a token that does not expire",
			observe: func(m *Metrics) {
				o := m.GHLObserver()
				o.ObserveTokenExpiry("loc1", fixedNow.Add(time.Hour))
				o.ObserveTokenExpiry("loc2", fixedNow.Add(time.Hour))
				o.ObserveTokenExpiry("loc2", time.Time{})
			},
			metric: "ptsync_ghl_token_expiry_timestamp_seconds",
			want: fmt.Sprintf(`
# HELP ptsync_ghl_token_expiry_timestamp_seconds Unix time at which the current HighLevel access token expires.
# TYPE ptsync_ghl_token_expiry_timestamp_seconds gauge
ptsync_ghl_token_expiry_timestamp_seconds{location="loc1"} %d
`, fixedNow.Add(time.Hour).Unix()),
		},
		{
			name: "mirror records read at scrape time",
			observe: func(m *Metrics) {
				n := 0
				m.SetMirrorCounter(func() map[string]int { n++; return map[string]int{"contacts": 100 * n, "notes": 3} })
			},
			metric: "ptsync_mirror_records",
			want: `
# HELP ptsync_mirror_records Records held in the local mirror, by kind, read from the store at scrape time.
# TYPE ptsync_mirror_records gauge
ptsync_mirror_records{kind="contacts"} 100
ptsync_mirror_records{kind="notes"} 3
`,
		},
		{
			name:    "mirror records absent without a counter",
			observe: func(m *Metrics) { m.SetMirrorCounter(nil) },
			metric:  "ptsync_mirror_records",
			want:    "",
		},
		{
			name: "label guard folds values past the cap into other",
			observe: func(m *Metrics) {
				for i := range maxLabelValues + 5 {
					m.CapabilityMissing(fmt.Sprintf("cap%03d", i))
				}
				m.CapabilityMissing("")
			},
			metric: "ptsync_ptd_capability_missing_total",
			want:   guardWant(),
		},
		{
			name: "outbox",
			observe: func(m *Metrics) {
				m.SetOutbox(UpstreamGHL, 0, 0)
				m.SetOutbox(UpstreamPTD, 12, 90*time.Second)
			},
			metric: "ptsync_outbox_oldest_age_seconds",
			want: `
# HELP ptsync_outbox_oldest_age_seconds Age of the oldest pending outbox entry per target (0 when empty).
# TYPE ptsync_outbox_oldest_age_seconds gauge
ptsync_outbox_oldest_age_seconds{target="ghl"} 0
ptsync_outbox_oldest_age_seconds{target="ptd"} 90
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, reg := newTestMetrics(t)
			tc.observe(m)
			if err := testutil.GatherAndCompare(reg, strings.NewReader(tc.want), tc.metric); err != nil {
				t.Error(err)
			}
		})
	}
}

func guardWant() string {
	var b strings.Builder
	b.WriteString(`
# HELP ptsync_ptd_capability_missing_total Work skipped because the PTD driver lacks a capability, by capability.
# TYPE ptsync_ptd_capability_missing_total counter
`)
	for i := range maxLabelValues {
		fmt.Fprintf(&b, "ptsync_ptd_capability_missing_total{capability=\"cap%03d\"} 1\n", i)
	}
	b.WriteString("ptsync_ptd_capability_missing_total{capability=\"other\"} 5\n")
	// The empty value is reported as "unknown", whatever the cap.
	b.WriteString("ptsync_ptd_capability_missing_total{capability=\"unknown\"} 1\n")
	return b.String()
}

func TestBuildInfo(t *testing.T) {
	m, reg := newTestMetrics(t)
	m.SetBuildInfo("v1.0.0")
	m.SetBuildInfo("v1.1.0")
	n, err := testutil.GatherAndCount(reg, "ptsync_build_info")
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("ptsync_build_info has %d series after two SetBuildInfo calls, want 1", n)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "ptsync_build_info" {
			continue
		}
		labels := map[string]string{}
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		if labels["version"] != "v1.1.0" || !strings.HasPrefix(labels["goversion"], "go") {
			t.Errorf("build info labels = %v", labels)
		}
	}
}

func TestMirrorCounterPanicFailsScrapeNotProcess(t *testing.T) {
	m, reg := newTestMetrics(t)
	m.SetMirrorCounter(func() map[string]int { panic("store closed") })
	_, err := reg.Gather()
	if err == nil || !strings.Contains(err.Error(), "cannot count mirror records") {
		t.Fatalf("gather error = %v, want the mirror callback's failure", err)
	}
}

func TestNilMetricsIsANoOp(t *testing.T) {
	var m *Metrics
	observeAll(m) // must not panic
	if m.GHLObserver() != nil {
		t.Fatal("nil Metrics returned a non-nil observer")
	}
	var o ghlObserver = m.GHLObserver()
	o.ObserveRequest("x", 200, time.Second)
}

func TestNewPanicsOnDoubleRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg)
	defer func() {
		if recover() == nil {
			t.Fatal("second New on one registry did not panic")
		}
	}()
	New(reg)
}

func TestConcurrentObservations(t *testing.T) {
	m, reg := newTestMetrics(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			o := m.GHLObserver()
			for i := range 200 {
				o.ObserveRequest("contacts.search", 200, time.Millisecond)
				o.ObserveBreakerState("ghl", []string{BreakerClosed, BreakerOpen, BreakerHalfOpen}[(g+i)%3])
				m.SyncFinished("contacts", nil, time.Millisecond)
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if got := testutil.ToFloat64(m.apiRequests.WithLabelValues("ghl", "contacts.search", "200")); got != 1600 {
		t.Fatalf("requests = %v, want 1600", got)
	}
	if !slices.Contains([]float64{0, 1, 2}, testutil.ToFloat64(m.breakerState.WithLabelValues("ghl"))) {
		t.Fatal("breaker state out of range")
	}
}
