package deploy

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ptsync/metrics"
	"ptsync/metrics/promtest"
)

// TestDashboardQueriesRunInPrometheus feeds every metric, lets a real Prometheus scrape it, and
// runs each dashboard query (with Grafana's variables filled in): each must parse and return
// data, so a typo in a label or a function shows up here and not on the operator's screen.
// Skips without a prometheus binary.
func TestDashboardQueriesRunInPrometheus(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.SetBuildInfo("v0-dashboard")
	m.SetSyncSchedule("contacts", time.Minute)
	m.SyncFinished("contacts", nil, time.Second)
	m.SyncFinished("contacts", errors.New("boom"), time.Second)
	ghl := m.GHLObserver()
	ghl.ObserveRequest("contacts.search", 200, 100*time.Millisecond)
	ghl.ObserveRequest("contacts.search", 429, 10*time.Millisecond)
	ghl.ObserveRetry("contacts.search", "rate_limited")
	ghl.ObserveRateLimit("loc1", 90, 150000)
	ghl.ObserveTokenExpiry("loc1", time.Now().Add(20*time.Hour))
	ghl.ObserveBreakerState("ghl", metrics.BreakerOpen)
	m.TokenRefresh("loc1", metrics.ResultSuccess)
	m.SetMirrorCounter(func() map[string]int { return map[string]int{"contacts": 5} })
	m.SetOutbox(metrics.UpstreamPTD, 2, time.Minute)
	m.SetDeadLetters(metrics.UpstreamPTD, 1)
	m.SetConflictsPending(1)
	m.SetQuarantine(1)
	m.PushDone(metrics.UpstreamPTD, "update", nil)
	m.ReconcileDecision("newest")
	m.WebhookReceived(metrics.UpstreamGHL, metrics.WebhookAccepted)
	m.SetBackfill(10, 20)
	m.CapabilityMissing("appointments")
	m.RemindersSent(1)
	m.ChildrenRefreshed("tasks", "sweep")
	m.FutureTimestamp(metrics.UpstreamPTD)

	srv, err := metrics.NewServer(metrics.ServerOptions{Gatherer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	p := promtest.Start(t, promtest.Options{Targets: []string{strings.TrimPrefix(ts.URL, "http://")}})

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	// rate() needs two samples in its window: wait for three scrapes.
	if _, err := p.WaitFor(ctx, `count_over_time(ptsync_build_info[1m]) >= 3`); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer(`$instance`, `.*`, `$__rate_interval`, `1m`)
	for _, panel := range parseDashboard(t).Panels {
		for _, tg := range panel.Targets {
			expr := vars.Replace(tg.Expr)
			t.Run(panel.Title+"/"+tg.Expr, func(t *testing.T) {
				samples, err := p.Query(ctx, expr)
				if err != nil {
					t.Fatal(err)
				}
				if len(samples) == 0 {
					t.Errorf("%s returned no data", expr)
				}
			})
		}
	}
}
