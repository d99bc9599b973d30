package ghl

import (
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sony/gobreaker/v2"
)

// BreakerOptions configure the circuit breaker in front of one upstream. The breaker opens
// after Failures consecutive failed attempts (5xx, transport errors, timeouts; HighLevel's
// 4xx answers are not failures), stays open for Cooldown, then lets HalfOpenProbes attempts
// through; one success closes it. Defaults: 10 failures, 30 s cooldown, 1 probe.
type BreakerOptions struct {
	Failures       uint32
	Cooldown       time.Duration
	HalfOpenProbes uint32
}

// errAttemptFailed marks an attempt the breaker counts as a failure.
var errAttemptFailed = errors.New("attempt failed")

func newBreaker(name string, o BreakerOptions, log hclog.Logger, obs Observer) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	if o.Failures == 0 {
		o.Failures = 10
	}
	if o.Cooldown <= 0 {
		o.Cooldown = 30 * time.Second
	}
	if o.HalfOpenProbes == 0 {
		o.HalfOpenProbes = 1
	}
	return gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: o.HalfOpenProbes,
		Timeout:     o.Cooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= o.Failures },
		OnStateChange: func(name string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				log.Warn("circuit breaker opened", "upstream", name, "from", from.String(), "cooldown", o.Cooldown)
			} else {
				log.Info("circuit breaker state changed", "upstream", name, "from", from.String(), "to", to.String())
			}
			obs.ObserveBreakerState(name, to.String())
		},
	})
}
