package secrettest

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeTB records failures instead of failing, so the sink itself can be tested; cleanups run
// when finish is called.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) finish() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}
func (f *fakeTB) failures() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errs...)
}

// redacted mimics the project's secret types.
type redacted string

func (redacted) String() string { return "[redacted]" }

func TestSinkCatchesEverySpelling(t *testing.T) {
	const secret = `s3cr3t&value/with?chars=yes<>`
	tests := []struct {
		name string
		log  func(s *Sink)
		leak bool
	}{
		{"redacted type", func(s *Sink) { s.Logger().Info("token refreshed", "token", redacted(secret)) }, false},
		{"unrelated text", func(s *Sink) { s.Logger().Info("sync complete", "upserts", 3) }, false},
		{"raw value at trace", func(s *Sink) { s.Logger().Trace("request", "authorization", "Bearer "+secret) }, true},
		{"json format escapes", func(s *Sink) { s.JSONLogger().Info("request", "header", secret) }, true},
		{"quoted in an error", func(s *Sink) { s.Logger().Error("failed", "error", fmt.Errorf("cannot x: %q", secret)) }, true},
		{"query-escaped url", func(s *Sink) {
			s.Logger().Warn("post failed", "url", "https://hooks.example/catch?k="+url.QueryEscape(secret))
		}, true},
		{"error text via Check", func(s *Sink) { s.Check("error", errors.New("cannot refresh: "+secret).Error()) }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeTB{TB: t}
			s := NewSink(ft, secret)
			tc.log(s)
			ft.finish()
			got := ft.failures()
			if tc.leak != (len(got) > 0) {
				t.Fatalf("leak reported = %v, want %v (failures %q; output %q)", len(got) > 0, tc.leak, got, s.Text())
			}
			for _, f := range got {
				if strings.Contains(f, "s3cr3t") {
					t.Fatalf("the failure message prints the secret: %s", f)
				}
			}
		})
	}
}

func TestSinkRecheckCatchesLateRegistration(t *testing.T) {
	ft := &fakeTB{TB: t}
	s := NewSink(ft)
	s.Logger().Info("refreshed", "raw", "rotated-token-123456")
	s.Register("rotated-token-123456") // the test learns the token only afterwards
	if len(ft.failures()) != 0 {
		t.Fatal("reported before the recheck")
	}
	ft.finish()
	if len(ft.failures()) != 1 {
		t.Fatalf("failures after recheck = %q, want exactly one", ft.failures())
	}
}

func TestRegisterRefusesShortSecrets(t *testing.T) {
	ft := &fakeTB{TB: t}
	NewSink(ft, "abc")
	if len(ft.failures()) != 1 {
		t.Fatalf("a 3-byte secret was accepted: %q", ft.failures())
	}
}

func TestCheckRegistry(t *testing.T) {
	const secret = "hooks.zapier.example/hooks/catch/1/add"
	tests := []struct {
		name  string
		label string
		leak  bool
	}{
		{"clean label", "add_client", false},
		{"secret label value", "https://" + secret, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"hook"})
			reg.MustRegister(c)
			c.WithLabelValues(tc.label).Inc()
			ft := &fakeTB{TB: t}
			n := CheckRegistry(ft, reg, secret)
			if n != 1 {
				t.Fatalf("checked %d label values, want 1", n)
			}
			if got := len(ft.failures()) > 0; got != tc.leak {
				t.Fatalf("leak reported = %v, want %v", got, tc.leak)
			}
		})
	}
}
