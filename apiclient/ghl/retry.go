package ghl

import (
	"math/rand/v2"
	"time"
)

// RetryPolicy is full-jitter exponential backoff: before retry n (n = 1, 2, ...) the client
// sleeps a uniformly random duration in [0, min(Cap, Base·2^(n-1))]. Zero values take the
// defaults (Base 200 ms, Cap 10 s, MaxAttempts 6). Jitter returns a uniform integer in [0, n);
// it is injectable so tests can check the delays; default math/rand/v2.Int64N (safe for
// concurrent use).
type RetryPolicy struct {
	Base        time.Duration
	Cap         time.Duration
	MaxAttempts int // total attempts including the first
	Jitter      func(n int64) int64
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Base <= 0 {
		p.Base = 200 * time.Millisecond
	}
	if p.Cap <= 0 {
		p.Cap = 10 * time.Second
	}
	if p.Cap < p.Base {
		p.Cap = p.Base
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 6
	}
	if p.Jitter == nil {
		p.Jitter = rand.Int64N
	}
	return p
}

// Delay returns the sleep before retry number n (1-based), jittered and bounded by Cap.
func (p RetryPolicy) Delay(n int) time.Duration {
	p = p.withDefaults()
	if n < 1 {
		n = 1
	}
	ceil := p.Cap
	if n <= 62 {
		if d := p.Base << (n - 1); d > 0 && d < p.Cap && d>>(n-1) == p.Base {
			ceil = d
		}
	}
	j := p.Jitter(int64(ceil) + 1)
	if j < 0 {
		j = 0
	}
	if j > int64(ceil) {
		j = int64(ceil)
	}
	return time.Duration(j)
}
