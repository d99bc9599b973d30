package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestDeclareExportsZeroesWithoutResetting: each Declare call makes its series exist at 0 (or
// at the state given), and declaring again after events keeps what they counted.
// declareCase declares some label values, records one event, and names the family to compare.
type declareCase struct {
	name    string
	declare func(m *Metrics)
	event   func(m *Metrics)
	metric  string
	want    string
}

func TestDeclareExportsZeroesWithoutResetting(t *testing.T) {
	for _, tc := range declareCases() {
		t.Run(tc.name, func(t *testing.T) {
			m, reg := newTestMetrics(t)
			tc.declare(m)
			tc.event(m)
			tc.declare(m) // a second declaration must not reset the event
			if err := testutil.GatherAndCompare(reg, strings.NewReader(tc.want), tc.metric); err != nil {
				t.Error(err)
			}
		})
	}
}

func declareCases() []declareCase {
	return []declareCase{
		{
			name:    "jobs",
			declare: func(m *Metrics) { m.DeclareJobs("contacts") },
			event:   func(m *Metrics) { m.SyncFinished("contacts", nil, time.Second) },
			metric:  "ptsync_sync_runs_total",
			want: `
# HELP ptsync_sync_runs_total Sync job runs, by job and result (success, error, canceled).
# TYPE ptsync_sync_runs_total counter
ptsync_sync_runs_total{result="canceled",sync_job="contacts"} 0
ptsync_sync_runs_total{result="error",sync_job="contacts"} 0
ptsync_sync_runs_total{result="success",sync_job="contacts"} 1
`,
		},
		{
			name:    "operations",
			declare: func(m *Metrics) { m.PTDObserver().DeclareOperations("get-client") },
			event:   func(m *Metrics) { m.PTDObserver().ObserveRetry("get-client", RetryServerError) },
			metric:  "ptsync_api_retries_total",
			want: `
# HELP ptsync_api_retries_total Upstream API request retries, by the reason for the retry.
# TYPE ptsync_api_retries_total counter
ptsync_api_retries_total{operation="get-client",reason="rate_limited",upstream="ptd"} 0
ptsync_api_retries_total{operation="get-client",reason="server_error",upstream="ptd"} 1
ptsync_api_retries_total{operation="get-client",reason="timeout",upstream="ptd"} 0
ptsync_api_retries_total{operation="get-client",reason="transport",upstream="ptd"} 0
ptsync_api_retries_total{operation="get-client",reason="unauthorized",upstream="ptd"} 0
`,
		},
		{
			name:    "breaker state without a transition, then one",
			declare: func(m *Metrics) { m.GHLObserver().DeclareBreaker(UpstreamGHL, BreakerClosed) },
			event:   func(m *Metrics) { m.GHLObserver().ObserveBreakerState(UpstreamGHL, BreakerOpen) },
			metric:  "ptsync_breaker_transitions_total",
			want: `
# HELP ptsync_breaker_transitions_total Circuit breaker state changes per upstream, by the state entered.
# TYPE ptsync_breaker_transitions_total counter
ptsync_breaker_transitions_total{state="closed",upstream="ghl"} 0
ptsync_breaker_transitions_total{state="half-open",upstream="ghl"} 0
ptsync_breaker_transitions_total{state="open",upstream="ghl"} 1
`,
		},
		{
			name:    "location",
			declare: func(m *Metrics) { m.DeclareLocation("loc1", false) },
			event:   func(m *Metrics) { m.TokenRefresh("loc1", ResultRefused) },
			metric:  "ptsync_ghl_token_refreshes_total",
			want: `
# HELP ptsync_ghl_token_refreshes_total HighLevel OAuth token refreshes, by result (success, error, refused).
# TYPE ptsync_ghl_token_refreshes_total counter
ptsync_ghl_token_refreshes_total{location="loc1",result="error"} 0
ptsync_ghl_token_refreshes_total{location="loc1",result="refused"} 1
ptsync_ghl_token_refreshes_total{location="loc1",result="success"} 0
`,
		},
		{
			name:    "webhooks by scheme",
			declare: func(m *Metrics) { m.DeclareWebhooks(UpstreamGHL, SchemeRSA) },
			event:   func(m *Metrics) { m.WebhookReceived(UpstreamGHL, SchemeRSA, WebhookAccepted) },
			metric:  "ptsync_webhooks_total",
			want: `
# HELP ptsync_webhooks_total Webhook deliveries received, by source, signature scheme and result (accepted, duplicate, or the rejection reason).
# TYPE ptsync_webhooks_total counter
ptsync_webhooks_total{result="accepted",scheme="rsa",source="ghl"} 1
ptsync_webhooks_total{result="bad_signature",scheme="rsa",source="ghl"} 0
ptsync_webhooks_total{result="duplicate",scheme="rsa",source="ghl"} 0
ptsync_webhooks_total{result="error",scheme="rsa",source="ghl"} 0
ptsync_webhooks_total{result="malformed",scheme="rsa",source="ghl"} 0
ptsync_webhooks_total{result="stale",scheme="rsa",source="ghl"} 0
ptsync_webhooks_total{result="too_large",scheme="rsa",source="ghl"} 0
ptsync_webhooks_total{result="unknown_event",scheme="rsa",source="ghl"} 0
`,
		},
		{
			name:    "pushes",
			declare: func(m *Metrics) { m.DeclarePushOps(UpstreamPTD, "client.create") },
			event:   func(m *Metrics) { m.PushDone(UpstreamPTD, "client.create", nil) },
			metric:  "ptsync_pushes_total",
			want: `
# HELP ptsync_pushes_total Writes pushed to a target system, by operation and result.
# TYPE ptsync_pushes_total counter
ptsync_pushes_total{op="client.create",result="error",target="ptd"} 0
ptsync_pushes_total{op="client.create",result="success",target="ptd"} 1
`,
		},
	}
}

func TestDeclareOnNilMetrics(t *testing.T) {
	var m *Metrics
	m.DeclareJobs("x")
	m.DeclareLocation("x", true)
	m.DeclarePushOps("ptd", "x")
	m.DeclareDecisionRules("x")
	m.DeclareCapabilities("x")
	m.DeclareChildRefreshes([]string{"x"}, []string{"y"})
	m.DeclareWebhooks("ghl", "x")
	m.GHLObserver().DeclareOperations("x")
	m.GHLObserver().DeclareBreaker("ghl", BreakerClosed)
}
