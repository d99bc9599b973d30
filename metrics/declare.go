package metrics

// Declaring label values at start.
//
// A labelled series that appears only with its first event cannot be told apart from a dead
// exporter, and increase() misses that first event because it has no earlier sample. So the
// service declares, once at start, every label value it already knows (its jobs, its
// location, the operations of each client, the targets of the pusher, ...): the counters are
// exported at 0 and the gauges at their current value. Prometheus' instrumentation guide calls
// this "avoid missing metrics". Declaring is idempotent and never resets a value that already
// moved. Values still pass the label guard, so a declaration cannot exceed its bound either.
//
// Families whose first value cannot honestly be a zero are not declared: a last-success time,
// a token expiry or a remaining budget of 0 would each fire an alert. docs/metrics.md lists
// them under "Series that wait for their first value".

// retryReasons are the values of the reason label of ptsync_api_retries_total.
func retryReasons() []string {
	return []string{RetryRateLimited, RetryServerError, RetryTransport, RetryTimeout, RetryUnauthorized}
}

// Retry reasons for UpstreamObserver.ObserveRetry: the reason label of ptsync_api_retries_total.
const (
	RetryRateLimited  = "rate_limited"
	RetryServerError  = "server_error"
	RetryTransport    = "transport"
	RetryTimeout      = "timeout"
	RetryUnauthorized = "unauthorized"
)

// webhookResults are the values of the result label of ptsync_webhooks_total.
func webhookResults() []string {
	return []string{WebhookAccepted, WebhookDuplicate, WebhookBadSignature, WebhookStale,
		WebhookMalformed, WebhookTooLarge, WebhookUnknownEvent, WebhookError}
}

// syncResults, refreshResults and pushResults are the result labels of the sync, token and
// push counters; breakerStates the states of ptsync_breaker_state.
func syncResults() []string    { return []string{ResultSuccess, ResultError, ResultCanceled} }
func refreshResults() []string { return []string{ResultSuccess, ResultError, ResultRefused} }
func pushResults() []string    { return []string{ResultSuccess, ResultError} }
func breakerStates() []string  { return []string{BreakerClosed, BreakerHalfOpen, BreakerOpen} }

// DeclareJobs exports ptsync_sync_runs_total at 0 for every result and an empty
// ptsync_sync_duration_seconds for each job.
func (m *Metrics) DeclareJobs(jobs ...string) {
	if m == nil {
		return
	}
	for _, job := range jobs {
		job = m.guard.value("job", job)
		for _, r := range syncResults() {
			m.syncRuns.WithLabelValues(job, r)
		}
		m.syncDuration.WithLabelValues(job)
	}
}

// DeclareLocation exports location's token series: ptsync_ghl_token_refreshes_total at 0 for
// every result, and ptsync_ghl_token_refused at refused (its state as stored with the tokens).
func (m *Metrics) DeclareLocation(location string, refused bool) {
	if m == nil {
		return
	}
	loc := m.guard.value("location", location)
	for _, r := range refreshResults() {
		m.tokenRefresh.WithLabelValues(loc, r)
	}
	m.SetTokenRefused(location, refused)
}

// DeclarePushOps exports ptsync_pushes_total at 0 for each of target's operations and both
// results.
func (m *Metrics) DeclarePushOps(target string, ops ...string) {
	if m == nil {
		return
	}
	target = m.guard.value("target", target)
	for _, op := range ops {
		op = m.guard.value("op", op)
		for _, r := range pushResults() {
			m.pushes.WithLabelValues(target, op, r)
		}
	}
}

// DeclareDecisionRules exports ptsync_reconcile_decisions_total at 0 for each rule.
func (m *Metrics) DeclareDecisionRules(rules ...string) {
	if m == nil {
		return
	}
	for _, r := range rules {
		m.reconcile.WithLabelValues(m.guard.value("rule", r))
	}
}

// DeclareCapabilities exports ptsync_ptd_capability_missing_total at 0 for each capability.
func (m *Metrics) DeclareCapabilities(capabilities ...string) {
	if m == nil {
		return
	}
	for _, c := range capabilities {
		m.capabilityMiss.WithLabelValues(m.guard.value("capability", c))
	}
}

// DeclareChildRefreshes exports ptsync_children_refreshes_total at 0 for each kind and reason.
func (m *Metrics) DeclareChildRefreshes(kinds, reasons []string) {
	if m == nil {
		return
	}
	for _, k := range kinds {
		k = m.guard.value("kind", k)
		for _, r := range reasons {
			m.childRefreshes.WithLabelValues(k, m.guard.value("reason", r))
		}
	}
}

// DeclareWebhooks exports ptsync_webhooks_total at 0 for source with each scheme it accepts
// and every result.
func (m *Metrics) DeclareWebhooks(source string, schemes ...string) {
	if m == nil {
		return
	}
	source = m.guard.value("source", source)
	for _, sc := range schemes {
		sc = m.guard.value("scheme", sc)
		for _, r := range webhookResults() {
			m.webhooks.WithLabelValues(source, sc, m.guard.value("webhook_result", r))
		}
	}
}

// DeclareOperations exports, for each of the upstream's operations, ptsync_api_retries_total
// at 0 for every reason and ptsync_api_throttled_total at 0. Requests and durations are not
// declared: their code label is the answer, unknown before the first request.
func (o *UpstreamObserver) DeclareOperations(operations ...string) {
	if o == nil {
		return
	}
	for _, op := range operations {
		op = o.m.guard.value("operation", op)
		for _, r := range retryReasons() {
			o.m.apiRetries.WithLabelValues(o.upstream, op, o.m.guard.value("retry_reason", r))
		}
		o.m.apiThrottled.WithLabelValues(o.upstream, op)
	}
}

// DeclareBreaker publishes the current state of upstream's circuit breaker ("closed",
// "half-open" or "open"; anything else is ignored) without counting a transition, and exports
// ptsync_breaker_transitions_total at 0 for every state. Later ObserveBreakerState calls count
// changes from this state.
func (o *UpstreamObserver) DeclareBreaker(upstream, state string) {
	o.setBreaker(upstream, state, true)
}
