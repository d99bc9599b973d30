package ghlsim

import (
	"bytes"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// FaultKind names one injected failure.
type FaultKind string

// Fault kinds. 5xx and resets happen before the operation runs, so nothing is written. The
// body faults (slow, malformed, truncated, wrong content type, oversized) corrupt the
// response of an operation that DID run: a write is applied and its answer is lost, exactly
// the case idempotent pushes must survive.
const (
	Fault500              FaultKind = "500"
	Fault502              FaultKind = "502"
	Fault503              FaultKind = "503"
	FaultReset            FaultKind = "reset"              // connection closed with RST, no response
	FaultSlowBody         FaultKind = "slow_body"          // headers at once, body dripped slowly
	FaultMalformed        FaultKind = "malformed"          // 200 with invalid JSON
	FaultTruncated        FaultKind = "truncated"          // Content-Length promises more than is sent
	FaultWrongContentType FaultKind = "wrong_content_type" // text/html body (a proxy error page)
	FaultOversized        FaultKind = "oversized"          // valid JSON padded to OversizedBytes
)

func (k FaultKind) status() int {
	n, _ := strconv.Atoi(string(k))
	return n
}

func (k FaultKind) corruptsBody() bool {
	switch k {
	case FaultSlowBody, FaultMalformed, FaultTruncated, FaultWrongContentType, FaultOversized:
		return true
	}
	return false
}

// Faults configures random failures. Each rate is a probability in [0,1] applied per API
// request, in the order of the fields; choices come from a stream seeded by Options.Seed,
// so a single-goroutine test sees the same faults every run.
type Faults struct {
	ErrorRate            float64 // 500, 502 or 503, chosen evenly
	ResetRate            float64
	SlowBodyRate         float64
	MalformedRate        float64
	TruncatedRate        float64
	WrongContentTypeRate float64
	OversizedRate        float64
	// LatencyMin..LatencyMax is added to every API request (uniform).
	LatencyMin, LatencyMax time.Duration
	// SlowBodyDelay is the pause between the 16-byte chunks of a slow body (default 50ms).
	SlowBodyDelay time.Duration
	// OversizedBytes is the size of an oversized body (default 8 MiB).
	OversizedBytes int
	// IncludeOAuth applies 5xx, resets and latency to POST /oauth/token as well.
	IncludeOAuth bool
	// FutureTimestampRate is the fraction of POST /contacts/search answers whose first
	// contact carries dateUpdated FutureTimestamp, in the answer only: its searchAfter and
	// the stored contact keep the true value, as a misbehaving proxy rewrote them (issue
	// #22). FutureTimestampUntil, when later than now, does it to every search answer.
	FutureTimestampRate  float64
	FutureTimestampUntil time.Time
}

type faultDecision struct {
	kind    FaultKind
	latency time.Duration
}

type faultState struct {
	mu    sync.Mutex
	rng   *rand.Rand
	cfg   Faults
	queue []FaultKind
}

func newFaultState(seed int64, f Faults) *faultState {
	return &faultState{rng: rand.New(rand.NewPCG(uint64(seed), 0xfa17)), cfg: f}
}

func (f *faultState) includeOAuth() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg.IncludeOAuth
}

func (f *faultState) decide() faultDecision {
	f.mu.Lock()
	defer f.mu.Unlock()
	var d faultDecision
	if f.cfg.LatencyMax > 0 {
		d.latency = f.cfg.LatencyMin
		if span := f.cfg.LatencyMax - f.cfg.LatencyMin; span > 0 {
			d.latency += time.Duration(f.rng.Int64N(int64(span)))
		}
	}
	if len(f.queue) > 0 {
		d.kind, f.queue = f.queue[0], f.queue[1:]
		return d
	}
	c := f.cfg
	roll := func(rate float64) bool { return rate > 0 && f.rng.Float64() < rate }
	switch {
	case roll(c.ErrorRate):
		d.kind = []FaultKind{Fault500, Fault502, Fault503}[f.rng.IntN(3)]
	case roll(c.ResetRate):
		d.kind = FaultReset
	case roll(c.SlowBodyRate):
		d.kind = FaultSlowBody
	case roll(c.MalformedRate):
		d.kind = FaultMalformed
	case roll(c.TruncatedRate):
		d.kind = FaultTruncated
	case roll(c.WrongContentTypeRate):
		d.kind = FaultWrongContentType
	case roll(c.OversizedRate):
		d.kind = FaultOversized
	}
	return d
}

// SetFaults replaces the random fault configuration; the zero Faults turns them off.
func (s *Server) SetFaults(f Faults) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.cfg = f
}

// CurrentFaults returns the random fault configuration in force.
func (s *Server) CurrentFaults() Faults {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.cfg
}

// InjectNext queues faults for the next API requests, one per request in order, ahead of
// the random ones: InjectNext(Fault503, Fault503) fails exactly the next two requests.
func (s *Server) InjectNext(kinds ...FaultKind) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.queue = append(s.faults.queue, kinds...)
}

// resetConnection drops the connection with a TCP RST when the writer can be hijacked, and
// otherwise aborts the response (net/http then closes the connection).
func resetConnection(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// corrupt sends the buffered response rec mangled as kind says.
func (s *Server) corrupt(w http.ResponseWriter, r *http.Request, rec *bufferedWriter, kind FaultKind) {
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	body := rec.body.Bytes()
	s.faults.mu.Lock()
	cfg := s.faults.cfg
	s.faults.mu.Unlock()
	switch kind {
	case FaultMalformed:
		cut := len(body) / 2
		mangled := append(append([]byte{}, body[:cut]...), []byte(`,,"}{`)...)
		w.Header().Set("Content-Length", strconv.Itoa(len(mangled)))
		w.WriteHeader(rec.status)
		w.Write(mangled)
	case FaultWrongContentType:
		page := []byte("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>")
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		w.WriteHeader(rec.status)
		w.Write(page)
	case FaultOversized:
		size := cfg.OversizedBytes
		if size <= 0 {
			size = 8 << 20
		}
		var b bytes.Buffer
		b.Grow(size + len(body))
		trimmed := bytes.TrimSpace(body)
		if len(trimmed) > 1 && trimmed[0] == '{' {
			b.WriteString(`{"_padding":"`)
			b.Write(bytes.Repeat([]byte("x"), size))
			b.WriteString(`",`)
			b.Write(trimmed[1:])
		} else {
			b.Write(bytes.Repeat([]byte(" "), size))
			b.Write(trimmed)
		}
		w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
		w.WriteHeader(rec.status)
		w.Write(b.Bytes())
	case FaultTruncated:
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.status)
		w.Write(body[:len(body)/2])
		rc := http.NewResponseController(w)
		rc.Flush()
		if conn, _, err := rc.Hijack(); err == nil {
			conn.Close() // a clean close: the client reads half the body, then EOF
		} else {
			panic(http.ErrAbortHandler)
		}
	case FaultSlowBody:
		delay := cfg.SlowBodyDelay
		if delay <= 0 {
			delay = 50 * time.Millisecond
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.status)
		rc := http.NewResponseController(w)
		rc.Flush()
		for len(body) > 0 {
			n := min(16, len(body))
			if _, err := w.Write(body[:n]); err != nil {
				return
			}
			rc.Flush()
			body = body[n:]
			if len(body) > 0 && !sleepCtx(r, delay) {
				return
			}
		}
	}
}
