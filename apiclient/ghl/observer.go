package ghl

import "time"

// Observer receives the client's measurements. The metrics package implements it; the method
// set is a contract shared with that package and must not change. Implementations must be
// safe for concurrent use and must not block: they are called on the request path.
type Observer interface {
	// ObserveRequest reports one HTTP attempt; status 0 means a transport error.
	ObserveRequest(operation string, status int, d time.Duration)
	// ObserveRateLimit reports the remaining burst and daily budget the server announced.
	ObserveRateLimit(location string, burstRemaining, dailyRemaining int)
	// ObserveTokenExpiry reports the expiry of the access token now in use.
	ObserveTokenExpiry(location string, expiry time.Time)
	// ObserveRetry reports one retry of an operation and why ("server_error", "transport",
	// "timeout", "rate_limited", "unauthorized").
	ObserveRetry(operation, reason string)
	// ObserveBreakerState reports a breaker transition: "closed" | "half-open" | "open".
	ObserveBreakerState(upstream, state string)
}

// NopObserver discards every observation; it is the default.
type NopObserver struct{}

var _ Observer = NopObserver{}

// ObserveRequest implements Observer.
func (NopObserver) ObserveRequest(string, int, time.Duration) {}

// ObserveRateLimit implements Observer.
func (NopObserver) ObserveRateLimit(string, int, int) {}

// ObserveTokenExpiry implements Observer.
func (NopObserver) ObserveTokenExpiry(string, time.Time) {}

// ObserveRetry implements Observer.
func (NopObserver) ObserveRetry(string, string) {}

// ObserveBreakerState implements Observer.
func (NopObserver) ObserveBreakerState(string, string) {}
