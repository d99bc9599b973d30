package metrics

import (
	"strconv"
	"time"
)

// UpstreamObserver reports what an API client sees of one upstream: requests, retries, the
// rate-limit headers, the token expiry and the circuit breaker. It implements the Observer
// interface the HighLevel client declares (apiclient/ghl), and the PTD client can use it too.
// It is safe for concurrent use; a nil *UpstreamObserver discards everything.
type UpstreamObserver struct {
	m        *Metrics
	upstream string
}

// Upstream returns the observer for upstream (UpstreamGHL or UpstreamPTD). Observers are cheap;
// two observers for the same upstream feed the same series.
func (m *Metrics) Upstream(upstream string) *UpstreamObserver {
	if m == nil {
		return nil
	}
	return &UpstreamObserver{m: m, upstream: m.guard.value("upstream", upstream)}
}

// GHLObserver is Upstream(UpstreamGHL), the observer to hand to the HighLevel client.
func (m *Metrics) GHLObserver() *UpstreamObserver { return m.Upstream(UpstreamGHL) }

// PTDObserver is Upstream(UpstreamPTD), the observer to hand to the PT Distinction adapter.
func (m *Metrics) PTDObserver() *UpstreamObserver { return m.Upstream(UpstreamPTD) }

// ObserveRequest records one request attempt: status is the HTTP status, 0 when no response
// arrived (transport error, timeout); d is the attempt's duration. A 429 is also counted in
// ptsync_api_throttled_total.
func (o *UpstreamObserver) ObserveRequest(operation string, status int, d time.Duration) {
	if o == nil {
		return
	}
	operation = o.m.guard.value("operation", operation)
	o.m.apiRequests.WithLabelValues(o.upstream, operation, codeLabel(status)).Inc()
	o.m.apiDuration.WithLabelValues(o.upstream, operation).Observe(d.Seconds())
	if status == 429 {
		o.m.apiThrottled.WithLabelValues(o.upstream, operation).Inc()
	}
}

// ObserveRateLimit publishes the remaining burst and daily budget for location from the last
// X-RateLimit-* headers. A negative value means the header was absent and leaves that window's
// gauge unchanged.
func (o *UpstreamObserver) ObserveRateLimit(location string, burstRemaining, dailyRemaining int) {
	if o == nil {
		return
	}
	location = o.m.guard.value("location", location)
	if burstRemaining >= 0 {
		o.m.rateRemaining.WithLabelValues(location, WindowBurst).Set(float64(burstRemaining))
	}
	if dailyRemaining >= 0 {
		o.m.rateRemaining.WithLabelValues(location, WindowDaily).Set(float64(dailyRemaining))
	}
}

// ObserveTokenExpiry publishes when location's access token expires. A zero expiry (a Private
// Integration Token, which does not expire) removes the series, so the expiry alert stays quiet.
func (o *UpstreamObserver) ObserveTokenExpiry(location string, expiry time.Time) {
	if o == nil {
		return
	}
	location = o.m.guard.value("location", location)
	if expiry.IsZero() {
		o.m.tokenExpiry.DeleteLabelValues(location)
		return
	}
	o.m.tokenExpiry.WithLabelValues(location).Set(float64(expiry.UnixNano()) / 1e9)
}

// ObserveRetry counts one retry of operation; reason is short and fixed (rate_limited,
// server_error, transport, timeout, unauthorized).
func (o *UpstreamObserver) ObserveRetry(operation, reason string) {
	if o == nil {
		return
	}
	o.m.apiRetries.WithLabelValues(o.upstream, o.m.guard.value("operation", operation),
		o.m.guard.value("retry_reason", reason)).Inc()
}

// ObserveBreakerState publishes the circuit breaker state of upstream: "closed", "half-open"
// or "open" (anything else is ignored, as it cannot be charted). A change from the previous
// state (closed before the first call) counts one transition into the new state.
func (o *UpstreamObserver) ObserveBreakerState(upstream, state string) {
	o.setBreaker(upstream, state, false)
}

// setBreaker publishes state for upstream; declare exports every state's transition counter
// instead of counting a change (DeclareBreaker).
func (o *UpstreamObserver) setBreaker(upstream, state string, declare bool) {
	if o == nil {
		return
	}
	v, ok := breakerValue(state)
	if !ok {
		return
	}
	m := o.m
	upstream = m.guard.value("upstream", upstream)
	m.breakerMu.Lock()
	defer m.breakerMu.Unlock()
	prev, seen := m.breakerLast[upstream]
	if !seen {
		prev = BreakerClosed
	}
	m.breakerLast[upstream] = state
	m.breakerState.WithLabelValues(upstream).Set(v)
	switch {
	case declare:
		for _, s := range breakerStates() {
			m.breakerTransitions.WithLabelValues(upstream, s)
		}
	case prev != state:
		m.breakerTransitions.WithLabelValues(upstream, state).Inc()
	}
}

// breakerValue is the ptsync_breaker_state value of state; false for an unknown state.
func breakerValue(state string) (float64, bool) {
	switch state {
	case BreakerClosed:
		return 0, true
	case BreakerHalfOpen:
		return 1, true
	case BreakerOpen:
		return 2, true
	}
	return 0, false
}

// codeLabel turns an HTTP status into the code label: the number for a real status, "error"
// when there was no response, "other" for numbers outside HTTP's range.
func codeLabel(status int) string {
	switch {
	case status == 0:
		return "error"
	case status < 100 || status > 599:
		return overflowLabel
	default:
		return strconv.Itoa(status)
	}
}
