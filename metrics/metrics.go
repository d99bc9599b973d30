// Package metrics holds ptsync's Prometheus collectors and the HTTP listener that serves them
// together with the health endpoints.
//
// Everything is registered on a Registerer the caller injects; nothing touches the default
// registry. Every label value that comes from code (job, operation, rule, ...) passes through a
// guard that caps the number of distinct values per label, so a caller that mistakenly puts an
// id in a label cannot blow up the series count: past the cap the value becomes "other".
//
// All methods are safe for concurrent use, and all of them are no-ops on a nil *Metrics, so a
// component under test can be built without metrics.
package metrics

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Namespace prefixes every metric ptsync exports.
const Namespace = "ptsync"

// Upstream names used in the upstream and target labels.
const (
	UpstreamGHL = "ghl"
	UpstreamPTD = "ptd"
)

// Results of a sync run, a push, or a token refresh, as they appear in the result label.
const (
	ResultSuccess  = "success"
	ResultError    = "error"
	ResultCanceled = "canceled"
	// ResultRefused marks a token refresh that the server refused for good (invalid_grant).
	ResultRefused = "refused"
)

// Webhook outcomes for WebhookReceived; the result label of ptsync_webhooks_total.
const (
	WebhookAccepted     = "accepted"
	WebhookDuplicate    = "duplicate"
	WebhookBadSignature = "bad_signature"
	WebhookStale        = "stale"
	WebhookMalformed    = "malformed"
	WebhookTooLarge     = "too_large"
	WebhookUnknownEvent = "unknown_event"
	// WebhookError marks a delivery that passed every check but could not be recorded (the
	// store or the handler failed); the sender is told to retry.
	WebhookError = "error"
)

// Webhook signature schemes, the scheme label of ptsync_webhooks_total. The scheme is read
// from the header the delivery carries, before it is verified.
const (
	// SchemeEd25519 is HighLevel's x-ghl-signature (Ed25519), the header it sends today.
	SchemeEd25519 = "ed25519"
	// SchemeRSA is HighLevel's legacy x-wh-signature (RSA PKCS#1 v1.5, SHA-256).
	SchemeRSA = "rsa"
	// SchemeSharedSecret is the shared secret header of PT Distinction's Zapier triggers.
	SchemeSharedSecret = "shared_secret"
	// SchemeNone marks a delivery that carried no signature header at all.
	SchemeNone = "none"
)

// Rate-limit windows, the window label of ptsync_ghl_ratelimit_remaining.
const (
	WindowBurst = "burst"
	WindowDaily = "daily"
)

// Breaker states accepted by ObserveBreakerState and their gauge values.
const (
	BreakerClosed   = "closed"
	BreakerHalfOpen = "half-open"
	BreakerOpen     = "open"
)

// maxLabelValues caps the distinct values accepted per label name; see labelGuard.
const maxLabelValues = 64

// overflowLabel replaces a label value once its label has reached maxLabelValues.
const overflowLabel = "other"

// Histogram buckets. API calls are sub-second normally and bounded by the client timeout;
// sync runs range from a second (incremental) to an hour (first backfill).
func apiBuckets() []float64 { return []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30} }
func syncBuckets() []float64 {
	return []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}
}

// Metrics owns every ptsync collector. Build it once per process with New and hand it (or the
// observers it returns) to the components that report.
type Metrics struct {
	// Clock stamps ptsync_sync_last_success_timestamp_seconds. New sets it to time.Now; replace
	// it before the first observation (it is read without a lock).
	Clock func() time.Time

	guard *labelGuard

	syncRuns        *prometheus.CounterVec
	syncDuration    *prometheus.HistogramVec
	syncLastSuccess *prometheus.GaugeVec
	syncInterval    *prometheus.GaugeVec

	apiRequests  *prometheus.CounterVec
	apiDuration  *prometheus.HistogramVec
	apiRetries   *prometheus.CounterVec
	apiThrottled *prometheus.CounterVec

	rateRemaining *prometheus.GaugeVec
	tokenExpiry   *prometheus.GaugeVec
	tokenRefresh  *prometheus.CounterVec
	tokenRefused  *prometheus.GaugeVec

	breakerState       *prometheus.GaugeVec
	breakerTransitions *prometheus.CounterVec
	breakerMu          sync.Mutex
	breakerLast        map[string]string

	mirror *mirrorCollector

	outboxEntries  *prometheus.GaugeVec
	outboxOldest   *prometheus.GaugeVec
	deadLetters    *prometheus.GaugeVec
	conflicts      prometheus.Gauge
	quarantine     prometheus.Gauge
	sweepsHeld     *prometheus.CounterVec
	sweepsWaiting  prometheus.Gauge
	pushes         *prometheus.CounterVec
	reconcile      *prometheus.CounterVec
	webhooks       *prometheus.CounterVec
	backfillDone   prometheus.Gauge
	backfillTotal  prometheus.Gauge
	capabilityMiss *prometheus.CounterVec
	remindersSent  prometheus.Counter
	childRefreshes *prometheus.CounterVec
	buildInfo      *prometheus.GaugeVec
	futureStamps   *prometheus.CounterVec

	op      operatorMetrics  // operator.go
	fresh   freshnessMetrics // freshness.go
	cluster clusterMetrics   // cluster.go
}

// New builds every ptsync collector and registers it on reg. It panics if reg already holds a
// collector with one of these names: that is a wiring bug (two Metrics on one registry), not a
// runtime condition. Give every test its own prometheus.NewRegistry().
//
// The collectors are built by area (the build*Collectors functions); a new metric goes into
// its area's function, into collectors (or it is never registered), and into docs/metrics.md.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Clock:       time.Now,
		guard:       newLabelGuard(maxLabelValues),
		breakerLast: map[string]string{},
		mirror:      newMirrorCollector(),
	}
	m.buildSyncCollectors()
	m.buildUpstreamCollectors()
	m.buildGHLAccountCollectors()
	m.buildBacklogCollectors()
	m.buildFlowCollectors()
	m.op = newOperatorMetrics()
	m.fresh = newFreshnessMetrics()
	m.cluster = newClusterMetrics()
	reg.MustRegister(m.collectors()...)
	m.SetBuildInfo("dev")
	return m
}

// buildSyncCollectors: the sync jobs' runs, durations, last success and schedule.
func (m *Metrics) buildSyncCollectors() {
	m.syncRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "sync", Name: "runs_total",
		Help: "Sync job runs, by job and result (success, error, canceled).",
	}, []string{"sync_job", "result"})
	m.syncDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "sync", Name: "duration_seconds",
		Help: "Wall time of one sync job run, whatever its result.", Buckets: syncBuckets(),
	}, []string{"sync_job"})
	m.syncLastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "sync", Name: "last_success_timestamp_seconds",
		Help: "Unix time at which the job last finished successfully.",
	}, []string{"sync_job"})
	m.syncInterval = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "sync", Name: "schedule_interval_seconds",
		Help: "Expected seconds between two runs of the job, from its cron schedule; alerts compare staleness to it.",
	}, []string{"sync_job"})
}

// buildUpstreamCollectors: every upstream API call (requests, durations, retries, 429s) and
// each upstream's circuit breaker.
func (m *Metrics) buildUpstreamCollectors() {
	m.apiRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "api", Name: "requests_total",
		Help: "Requests to an upstream API, by operation and HTTP status code (\"error\" when no response arrived).",
	}, []string{"upstream", "operation", "code"})
	m.apiDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "api", Name: "request_duration_seconds",
		Help: "Duration of one upstream API request attempt, including failed ones.", Buckets: apiBuckets(),
	}, []string{"upstream", "operation"})
	m.apiRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "api", Name: "retries_total",
		Help: "Upstream API request retries, by the reason for the retry.",
	}, []string{"upstream", "operation", "reason"})
	m.apiThrottled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "api", Name: "throttled_total",
		Help: "Upstream API responses with status 429 Too Many Requests.",
	}, []string{"upstream", "operation"})

	m.breakerState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "breaker", Name: "state",
		Help: "Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open.",
	}, []string{"upstream"})
	m.breakerTransitions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "breaker", Name: "transitions_total",
		Help: "Circuit breaker state changes per upstream, by the state entered.",
	}, []string{"upstream", "state"})
}

// buildGHLAccountCollectors: the HighLevel location's rate budget and OAuth token.
func (m *Metrics) buildGHLAccountCollectors() {
	m.rateRemaining = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "ghl", Name: "ratelimit_remaining",
		Help: "Requests left in HighLevel's rate-limit window (burst or daily), from the last X-RateLimit-* headers.",
	}, []string{"location", "window"})
	m.tokenExpiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "ghl", Name: "token_expiry_timestamp_seconds",
		Help: "Unix time at which the current HighLevel access token expires.",
	}, []string{"location"})
	m.tokenRefresh = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "ghl", Name: "token_refreshes_total",
		Help: "HighLevel OAuth token refreshes, by result (success, error, refused).",
	}, []string{"location", "result"})
	m.tokenRefused = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "ghl", Name: "token_refused",
		Help: "1 when HighLevel refused the refresh token for good (invalid_grant) and writes are stopped until 'ptsync auth'.",
	}, []string{"location"})
}

// buildBacklogCollectors: what waits in the mirror (outbox, dead letters, conflicts,
// quarantine, held sweeps). The held-sweep counter is declared at 0 for every guarded listing.
func (m *Metrics) buildBacklogCollectors() {
	m.outboxEntries = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "outbox", Name: "entries",
		Help: "Pending writes in the outbox per target.",
	}, []string{"target"})
	m.outboxOldest = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "outbox", Name: "oldest_age_seconds",
		Help: "Age of the oldest pending outbox entry per target (0 when empty).",
	}, []string{"target"})
	m.deadLetters = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "outbox", Name: "dead_letters",
		Help: "Outbox entries given up on after their retries, waiting for the operator.",
	}, []string{"target"})
	m.conflicts = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "reconcile", Name: "conflicts_pending",
		Help: "Field conflicts queued for the operator (rule manual).",
	})
	m.quarantine = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "reconcile", Name: "quarantine_records",
		Help: "Deleted records held in quarantine before the delete policy applies.",
	})
	m.sweepsHeld = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "sweep", Name: "held_total",
		Help: "Sweeps held as suspect (their listing would quarantine too much or contradicts itself), by side and kind.",
	}, []string{"side", "kind"})
	// Every guarded listing, at 0 from start (declare.go): the first held sweep is an increase().
	for _, side := range []string{UpstreamGHL, UpstreamPTD} {
		for _, kind := range []string{"contact", "task", "note"} {
			m.sweepsHeld.WithLabelValues(side, kind)
		}
	}
	m.sweepsWaiting = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "sweep", Name: "held",
		Help: "Held sweeps waiting for 'ptsync quarantine approve' or for a believed sweep of the same listing.",
	})
}

// buildFlowCollectors: what moves between the systems (pushes, decisions, webhooks, backfill,
// children refreshes, reminders, skipped work, future timestamps) and the build info.
func (m *Metrics) buildFlowCollectors() {
	m.pushes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "pushes_total",
		Help: "Writes pushed to a target system, by operation and result.",
	}, []string{"target", "op", "result"})
	m.reconcile = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "reconcile", Name: "decisions_total",
		Help: "Field-level reconcile decisions, by the rule that decided.",
	}, []string{"rule"})
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "webhooks_total",
		Help: "Webhook deliveries received, by source, signature scheme and result (accepted, duplicate, or the rejection reason).",
	}, []string{"source", "scheme", "result"})
	m.backfillDone = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "backfill", Name: "contacts_done",
		Help: "Contacts read so far by the initial backfill.",
	})
	m.backfillTotal = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "backfill", Name: "contacts_expected",
		Help: "Contacts HighLevel reported for the initial backfill (0 until known).",
	})
	m.capabilityMiss = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "ptd", Name: "capability_missing_total",
		Help: "Work skipped because the PTD driver lacks a capability, by capability.",
	}, []string{"capability"})
	m.remindersSent = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "reminders_sent_total",
		Help: "Task reminders sent to PT Distinction.",
	})
	m.childRefreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "children", Name: "refreshes_total",
		Help: "Per-contact child refreshes (tasks, notes, appointments), by why the contact was picked (dirty or sweep).",
	}, []string{"kind", "reason"})
	m.futureStamps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "future_timestamps_total",
		Help: "Records (versions) read with a timestamp later than the answer that carried them, by side (ghl, ptd): applied, but the poll cursor was held at the request time.",
	}, []string{"side"})
	for _, side := range []string{UpstreamGHL, UpstreamPTD} {
		m.futureStamps.WithLabelValues(side) // at 0 from start (declare.go)
	}
	m.buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info",
		Help: "Always 1; the labels carry the ptsync version and the Go version it was built with.",
	}, []string{"version", "goversion"})
}

// collectors lists every collector New registers.
func (m *Metrics) collectors() []prometheus.Collector {
	own := []prometheus.Collector{
		m.syncRuns, m.syncDuration, m.syncLastSuccess, m.syncInterval,
		m.apiRequests, m.apiDuration, m.apiRetries, m.apiThrottled,
		m.rateRemaining, m.tokenExpiry, m.tokenRefresh, m.tokenRefused,
		m.breakerState, m.breakerTransitions, m.mirror,
		m.outboxEntries, m.outboxOldest, m.deadLetters, m.conflicts, m.quarantine, m.sweepsHeld, m.sweepsWaiting,
		m.pushes, m.reconcile, m.webhooks, m.backfillDone, m.backfillTotal,
		m.capabilityMiss, m.remindersSent, m.childRefreshes, m.buildInfo,
		m.op.mirrorWriteErrors, m.op.notReady, m.futureStamps,
		m.fresh.ptdChildrenLag,
	}
	return append(own, m.cluster.collectors()...)
}

// SetBuildInfo publishes ptsync_build_info for version (and the running Go version), replacing
// any earlier value. New publishes "dev"; main calls this with the linked version.
func (m *Metrics) SetBuildInfo(version string) {
	if m == nil {
		return
	}
	if version == "" {
		version = "dev"
	}
	m.buildInfo.Reset()
	m.buildInfo.WithLabelValues(version, runtime.Version()).Set(1)
}

// SetSyncSchedule publishes how often job is meant to run (e.g. the gap between the next two
// firings of its cron spec). Call it at start-up and on reload for every scheduled job; the
// stale-sync alert fires when the last success is older than three intervals, or when a job
// with a schedule has never succeeded.
func (m *Metrics) SetSyncSchedule(job string, interval time.Duration) {
	if m == nil {
		return
	}
	m.syncInterval.WithLabelValues(m.guard.value("job", job)).Set(interval.Seconds())
}

// SyncFinished records one run of job: its result (from err: nil is success, a context
// cancellation is "canceled", anything else "error"), its duration, and on success the time it
// finished, read from Clock.
func (m *Metrics) SyncFinished(job string, err error, d time.Duration) {
	if m == nil {
		return
	}
	job = m.guard.value("job", job)
	result := ResultSuccess
	switch {
	case err == nil:
		m.syncLastSuccess.WithLabelValues(job).Set(float64(m.Clock().UnixNano()) / 1e9)
	case errors.Is(err, context.Canceled):
		result = ResultCanceled
	default:
		result = ResultError
	}
	m.syncRuns.WithLabelValues(job, result).Inc()
	m.syncDuration.WithLabelValues(job).Observe(d.Seconds())
}

// TokenRefresh records the result of one HighLevel token refresh for location: ResultSuccess,
// ResultError (transient; will be retried) or ResultRefused (invalid_grant). Success clears
// ptsync_ghl_token_refused, refused sets it; an unknown result is counted as "error".
func (m *Metrics) TokenRefresh(location, result string) {
	if m == nil {
		return
	}
	location = m.guard.value("location", location)
	switch result {
	case ResultSuccess:
		m.tokenRefused.WithLabelValues(location).Set(0)
	case ResultRefused:
		m.tokenRefused.WithLabelValues(location).Set(1)
	default:
		result = ResultError
	}
	m.tokenRefresh.WithLabelValues(location, result).Inc()
}

// SetTokenRefused sets ptsync_ghl_token_refused for location directly, e.g. at start-up from the
// state stored with the tokens, or to 0 after 'ptsync auth' installed a fresh grant.
func (m *Metrics) SetTokenRefused(location string, refused bool) {
	if m == nil {
		return
	}
	v := 0.0
	if refused {
		v = 1
	}
	m.tokenRefused.WithLabelValues(m.guard.value("location", location)).Set(v)
}

// SetMirrorCounter installs the callback that ptsync_mirror_records reads at every scrape; it
// returns record counts by kind (contacts, tasks, notes, appointments, ...). Until it is set, or
// after it is set to nil, the metric has no series. The callback runs on the scraping goroutine,
// possibly concurrently with itself, and must be quick (a read transaction, not a scan); a panic
// in it is recovered and reported as a scrape error.
func (m *Metrics) SetMirrorCounter(count func() map[string]int) {
	if m == nil {
		return
	}
	m.mirror.set(count)
}

// SetOutbox publishes the outbox for target: pending entries and the age of the oldest one
// (pass 0 when empty).
func (m *Metrics) SetOutbox(target string, depth int, oldest time.Duration) {
	if m == nil {
		return
	}
	target = m.guard.value("target", target)
	m.outboxEntries.WithLabelValues(target).Set(float64(depth))
	m.outboxOldest.WithLabelValues(target).Set(oldest.Seconds())
}

// SetDeadLetters publishes how many outbox entries for target were given up on.
func (m *Metrics) SetDeadLetters(target string, n int) {
	if m == nil {
		return
	}
	m.deadLetters.WithLabelValues(m.guard.value("target", target)).Set(float64(n))
}

// SetConflictsPending publishes the number of conflicts waiting for the operator.
func (m *Metrics) SetConflictsPending(n int) {
	if m == nil {
		return
	}
	m.conflicts.Set(float64(n))
}

// SetQuarantine publishes the number of deleted records held in quarantine.
func (m *Metrics) SetQuarantine(n int) {
	if m == nil {
		return
	}
	m.quarantine.Set(float64(n))
}

// SweepHeld counts one sweep of side's kind (store.Side*, store.Kind*) held as suspect.
func (m *Metrics) SweepHeld(side, kind string) {
	if m == nil {
		return
	}
	m.sweepsHeld.WithLabelValues(m.guard.value("side", side), m.guard.value("kind", kind)).Inc()
}

// SetSweepsHeld publishes how many held sweeps wait for an operator or a believed sweep.
func (m *Metrics) SetSweepsHeld(n int) {
	if m == nil {
		return
	}
	m.sweepsWaiting.Set(float64(n))
}

// PushDone counts one write pushed to target (UpstreamGHL or UpstreamPTD) with operation op
// (create, update, delete, complete, tag_add, tag_remove, ...): err nil is "success", else "error".
func (m *Metrics) PushDone(target, op string, err error) {
	if m == nil {
		return
	}
	result := ResultSuccess
	if err != nil {
		result = ResultError
	}
	m.pushes.WithLabelValues(m.guard.value("target", target), m.guard.value("op", op), result).Inc()
}

// ReconcileDecision counts one field decision made by rule (only_ghl_changed, only_ptd_changed,
// newest, ghl, ptd, manual, initial, ...).
func (m *Metrics) ReconcileDecision(rule string) {
	if m == nil {
		return
	}
	m.reconcile.WithLabelValues(m.guard.value("rule", rule)).Inc()
}

// WebhookReceived counts one webhook delivery from source (ghl, ptd) signed with scheme (one of
// the Scheme* constants) with result, one of the Webhook* constants.
func (m *Metrics) WebhookReceived(source, scheme, result string) {
	if m == nil {
		return
	}
	m.webhooks.WithLabelValues(m.guard.value("source", source), m.guard.value("scheme", scheme),
		m.guard.value("webhook_result", result)).Inc()
}

// SetBackfill publishes the initial backfill's progress: contacts read so far and the total
// HighLevel reported (0 when not known yet).
func (m *Metrics) SetBackfill(done, total int) {
	if m == nil {
		return
	}
	m.backfillDone.Set(float64(done))
	m.backfillTotal.Set(float64(total))
}

// CapabilityMissing counts one piece of work skipped because the PTD driver lacks capability.
func (m *Metrics) CapabilityMissing(capability string) {
	if m == nil {
		return
	}
	m.capabilityMiss.WithLabelValues(m.guard.value("capability", capability)).Inc()
}

// RemindersSent counts n task reminders sent to PT Distinction.
func (m *Metrics) RemindersSent(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.remindersSent.Add(float64(n))
}

// ChildrenRefreshed counts one refresh of a contact's children of kind (tasks, notes,
// appointments); reason is "dirty" (webhook or changed contact) or "sweep" (rotation).
func (m *Metrics) ChildrenRefreshed(kind, reason string) {
	if m == nil {
		return
	}
	m.childRefreshes.WithLabelValues(m.guard.value("kind", kind), m.guard.value("reason", reason)).Inc()
}

// FutureTimestamp counts one record version stamped later than the answer that carried it
// (side: UpstreamGHL or UpstreamPTD). Count each version once, not on every re-read.
func (m *Metrics) FutureTimestamp(side string) {
	if m == nil {
		return
	}
	m.futureStamps.WithLabelValues(m.guard.value("side", side)).Inc()
}

// labelGuard caps the number of distinct values per label name. Label values are meant to be
// constants from code; the cap turns a bug (an id in a label) into one "other" series instead of
// an unbounded number of them.
type labelGuard struct {
	limit int
	mu    sync.Mutex
	seen  map[string]map[string]struct{}
}

func newLabelGuard(limit int) *labelGuard {
	return &labelGuard{limit: limit, seen: map[string]map[string]struct{}{}}
}

// value returns v if label has room for it (or already holds it), "unknown" for an empty v, and
// overflowLabel past the limit.
func (g *labelGuard) value(label, v string) string {
	if v == "" {
		return "unknown"
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	set := g.seen[label]
	if set == nil {
		set = map[string]struct{}{}
		g.seen[label] = set
	}
	if _, ok := set[v]; ok {
		return v
	}
	if len(set) >= g.limit {
		return overflowLabel
	}
	set[v] = struct{}{}
	return v
}

// mirrorCollector reads record counts through a callback at scrape time, so the numbers are
// as fresh as the store and nothing has to push them.
type mirrorCollector struct {
	desc  *prometheus.Desc
	count atomic.Pointer[func() map[string]int]
}

func newMirrorCollector() *mirrorCollector {
	return &mirrorCollector{desc: prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "mirror", "records"),
		"Records held in the local mirror, by kind, read from the store at scrape time.",
		[]string{"kind"}, nil)}
}

func (c *mirrorCollector) set(count func() map[string]int) {
	if count == nil {
		c.count.Store(nil)
		return
	}
	c.count.Store(&count)
}

// Describe implements prometheus.Collector.
func (c *mirrorCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *mirrorCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.count.Load()
	if p == nil {
		return
	}
	counts, err := safeCount(*p)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for kind, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), kind)
	}
}

// safeCount calls count and turns a panic into an error, so a broken callback fails one scrape
// instead of the process.
func safeCount(count func() map[string]int) (counts map[string]int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("cannot count mirror records: callback panicked")
		}
	}()
	return count(), nil
}

var _ prometheus.Collector = (*mirrorCollector)(nil)
