package promtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestConfigYAMLIsAcceptedByPromtool checks the generated prometheus.yml for each option shape
// with `promtool check config` (skipped without promtool).
func TestConfigYAMLIsAcceptedByPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("skipping: promtool not on PATH")
	}
	dir := t.TempDir()
	certFile, _ := WriteSelfSignedCert(t, dir)
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{name: "plain", opts: Options{Targets: []string{"127.0.0.1:9817"}},
			want: []string{"scrape_interval: 1000ms", `- "127.0.0.1:9817"`, "scheme: http"}},
		{name: "tls and basic auth", opts: Options{Targets: []string{"127.0.0.1:1", "127.0.0.1:2"},
			ScrapeInterval: 2 * time.Second, Scheme: "https", CAFile: certFile,
			BasicAuthUser: "prometheus", BasicAuthPassword: `pa"ss`, MetricsPath: "/m"},
			want: []string{"scheme: https", `password: "pa\"ss"`, "ca_file:", `metrics_path: "/m"`, "scrape_interval: 2000ms"}},
		{name: "insecure", opts: Options{Targets: []string{"127.0.0.1:1"}, Scheme: "https", InsecureSkipVerify: true},
			want: []string{"insecure_skip_verify: true"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ConfigYAML(tc.opts)
			for _, w := range tc.want {
				if !strings.Contains(cfg, w) {
					t.Errorf("config lacks %q:\n%s", w, cfg)
				}
			}
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(promtool, "check", "config", path).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool check config: %v\n%s\n%s", err, out, cfg)
			}
		})
	}
}

// skipRecorder records Skipf instead of skipping the real test.
type skipRecorder struct {
	testing.TB
	skipped string
}

func (s *skipRecorder) Skipf(format string, args ...any) {
	s.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestStartSkipsWithoutBinary(t *testing.T) {
	rec := &skipRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(rec, Options{Binary: "ptsync-no-such-prometheus"})
		t.Error("Start returned without skipping")
	}()
	<-done
	if !strings.Contains(rec.skipped, `"ptsync-no-such-prometheus" not found on PATH`) {
		t.Fatalf("skip message %q", rec.skipped)
	}
}
