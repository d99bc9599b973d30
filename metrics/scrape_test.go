package metrics

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ptsync/metrics/promtest"
)

// TestRealPrometheusScrape runs Debian's prometheus against the listener, plain and behind TLS
// with basic auth, and reads ptsync series back through Prometheus' query API. It skips when
// no prometheus binary is on PATH. Each case takes about 6s, almost all of it Prometheus'
// discovery manager holding its first target update for 5s.
func TestRealPrometheusScrape(t *testing.T) {
	tests := []struct {
		name   string
		secure bool
	}{
		{name: "plain http on loopback"},
		{name: "tls and basic auth", secure: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // Prometheus' discovery batches its first update for 5s; overlap the waits
			reg := prometheus.NewRegistry()
			m := New(reg)
			m.SetBuildInfo("v0.0.1-scrape")
			m.SetMirrorCounter(func() map[string]int { return map[string]int{"contacts": 42} })
			m.GHLObserver().ObserveRateLimit("loc1", 99, 123456)

			opts := ServerOptions{Gatherer: reg}
			popts := promtest.Options{}
			if tc.secure {
				dir := t.TempDir()
				certFile, _ := promtest.WriteSelfSignedCert(t, dir)
				opts.WebConfigFile = copyFile(t, "testdata/web/tls-basic-auth.yml", filepath.Join(dir, "web.yml"))
				popts = promtest.Options{Scheme: "https", CAFile: certFile,
					BasicAuthUser: "prometheus", BasicAuthPassword: "scrape-s3cret"}
			}
			_, addr := openServer(t, opts)
			popts.Targets = []string{addr}
			p := promtest.Start(t, popts)

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			queries := []struct {
				expr  string
				label string
				want  string
				value float64
			}{
				{expr: `ptsync_mirror_records{kind="contacts"}`, label: "kind", want: "contacts", value: 42},
				{expr: `ptsync_ghl_ratelimit_remaining{window="daily"}`, label: "location", want: "loc1", value: 123456},
				{expr: `ptsync_build_info`, label: "version", want: "v0.0.1-scrape", value: 1},
				{expr: `up{job="ptsync"}`, label: "job", want: "ptsync", value: 1},
			}
			for _, q := range queries {
				samples, err := p.WaitFor(ctx, q.expr)
				if err != nil {
					t.Fatalf("%v\nprometheus log:\n%s", err, p.LogTail(1500))
				}
				if len(samples) != 1 || samples[0].Metric[q.label] != q.want || samples[0].Value != q.value {
					t.Errorf("%s = %+v, want one sample with %s=%q value %v", q.expr, samples, q.label, q.want, q.value)
				}
			}
		})
	}
}
