// Package promtest runs a real Prometheus server against test targets, so a test can prove that
// what ptsync exports is scraped and queryable, not only that it renders.
//
// Start skips the test when no prometheus binary is on PATH (CI installs Debian's prometheus
// package). The server listens on 127.0.0.1 only, keeps its TSDB in t.TempDir(), and is stopped
// by t.Cleanup.
package promtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options describe what the Prometheus server scrapes.
type Options struct {
	// Targets are host:port addresses scraped as job "ptsync".
	Targets []string
	// ScrapeInterval defaults to 1s (the scrape timeout follows it).
	ScrapeInterval time.Duration
	// MetricsPath defaults to /metrics.
	MetricsPath string
	// Scheme is "http" (default) or "https".
	Scheme string
	// BasicAuthUser and BasicAuthPassword, when set, are sent on every scrape.
	BasicAuthUser, BasicAuthPassword string
	// CAFile verifies the target's certificate; InsecureSkipVerify skips verification instead.
	CAFile             string
	InsecureSkipVerify bool
	// Binary defaults to "prometheus" looked up on PATH.
	Binary string
	// StartTimeout bounds the wait for the server to become ready (default 60s).
	StartTimeout time.Duration
}

// Prometheus is one running server. Its methods are safe for concurrent use.
type Prometheus struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:41234.
	URL string

	cmd     *exec.Cmd
	logPath string
	client  *http.Client
	once    sync.Once
	exited  chan struct{}
}

// Sample is one element of an instant-vector query result.
type Sample struct {
	Metric map[string]string
	Value  float64
	Time   time.Time
}

// Start writes a configuration for opts, starts Prometheus and waits until it is ready. It
// calls t.Skip when the binary is missing and t.Fatal when the server does not come up (with
// the tail of its log). The server is stopped when the test ends.
func Start(t testing.TB, opts Options) *Prometheus {
	t.Helper()
	bin := opts.Binary
	if bin == "" {
		bin = "prometheus"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Skipf("skipping real-Prometheus scrape: %q not found on PATH (apt-get install prometheus)", bin)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(ConfigYAML(opts)), 0o600); err != nil {
		t.Fatalf("cannot write prometheus config: %v", err)
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	// The free port is found by binding and releasing it, so another process can take it in
	// between; a start that fails on the port is retried with a new one.
	var lastErr error
	for attempt := range 3 {
		p, err := start(t, path, dir, cfgPath, attempt, timeout)
		if err == nil {
			return p
		}
		lastErr = err
	}
	t.Fatalf("cannot start prometheus: %v", lastErr)
	return nil
}

func start(t testing.TB, bin, dir, cfgPath string, attempt int, timeout time.Duration) (*Prometheus, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logPath := filepath.Join(dir, fmt.Sprintf("prometheus-%d.log", attempt))
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("cannot create prometheus log: %w", err)
	}
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--web.listen-address="+addr,
		"--storage.tsdb.path="+filepath.Join(dir, fmt.Sprintf("data-%d", attempt)),
		"--log.level=info",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("cannot run %s: %w", bin, err)
	}
	p := &Prometheus{
		URL: "http://" + addr, cmd: cmd, logPath: logPath,
		client: &http.Client{Timeout: 5 * time.Second},
		exited: make(chan struct{}),
	}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	t.Cleanup(p.stop)

	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("prometheus exited during start-up; log:\n%s", p.LogTail(2000))
		case <-time.After(200 * time.Millisecond):
		}
		resp, err := p.client.Get(p.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
	}
	p.stop()
	return nil, fmt.Errorf("prometheus not ready after %s; log:\n%s", timeout, p.LogTail(2000))
}

// ConfigYAML renders the prometheus.yml that Start uses for opts; exported so a failing test
// can print it.
func ConfigYAML(opts Options) string {
	interval := opts.ScrapeInterval
	if interval <= 0 {
		interval = time.Second
	}
	path := opts.MetricsPath
	if path == "" {
		path = "/metrics"
	}
	scheme := opts.Scheme
	if scheme == "" {
		scheme = "http"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n", promDuration(interval), promDuration(interval))
	fmt.Fprintf(&b, "scrape_configs:\n  - job_name: ptsync\n    metrics_path: %q\n    scheme: %s\n", path, scheme)
	if opts.BasicAuthUser != "" {
		fmt.Fprintf(&b, "    basic_auth:\n      username: %q\n      password: %q\n", opts.BasicAuthUser, opts.BasicAuthPassword)
	}
	if opts.CAFile != "" || opts.InsecureSkipVerify {
		b.WriteString("    tls_config:\n")
		if opts.CAFile != "" {
			fmt.Fprintf(&b, "      ca_file: %q\n", opts.CAFile)
		}
		if opts.InsecureSkipVerify {
			b.WriteString("      insecure_skip_verify: true\n")
		}
	}
	b.WriteString("    static_configs:\n      - targets:\n")
	for _, t := range opts.Targets {
		fmt.Fprintf(&b, "          - %q\n", t)
	}
	return b.String()
}

// promDuration formats d in Prometheus' duration syntax (whole milliseconds).
func promDuration(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// Query runs an instant query and returns the vector result; a scalar or other result type
// is an error.
func (p *Prometheus) Query(ctx context.Context, expr string) ([]Sample, error) {
	u := p.URL + "/api/v1/query?" + url.Values{"query": {expr}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot build query %q: %w", expr, err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot query prometheus for %q: %w", expr, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status    string `json:"status"`
		Error     string `json:"error"`
		ErrorType string `json:"errorType"`
		Data      struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("cannot decode query response for %q (HTTP %d): %w", expr, resp.StatusCode, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("cannot query %q: %s: %s", expr, body.ErrorType, body.Error)
	}
	if body.Data.ResultType != "vector" {
		return nil, fmt.Errorf("cannot query %q: result type %s, want vector", expr, body.Data.ResultType)
	}
	out := make([]Sample, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		ts, _ := r.Value[0].(float64)
		vs, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(vs, 64)
		if err != nil {
			return nil, fmt.Errorf("cannot parse sample value %q of %q: %w", vs, expr, err)
		}
		out = append(out, Sample{Metric: r.Metric, Value: v, Time: time.UnixMilli(int64(ts * 1000))})
	}
	return out, nil
}

// WaitFor polls expr until it returns at least one sample or ctx ends. On timeout the error
// includes the scrape targets' health, which usually says why (auth, TLS, connection refused).
func (p *Prometheus) WaitFor(ctx context.Context, expr string) ([]Sample, error) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		s, err := p.Query(ctx, expr)
		if err == nil && len(s) > 0 {
			return s, nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			health, _ := p.TargetHealth(context.Background())
			return nil, fmt.Errorf("cannot find %q in prometheus: %w (last query error: %v; targets: %s)",
				expr, ctx.Err(), lastErr, health)
		case <-p.exited:
			return nil, fmt.Errorf("cannot find %q: prometheus exited; log:\n%s", expr, p.LogTail(2000))
		case <-tick.C:
		}
	}
}

// TargetHealth summarises /api/v1/targets: each active target's URL, health and last error.
func (p *Prometheus) TargetHealth(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/api/v1/targets", nil)
	if err != nil {
		return "", err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("cannot read prometheus targets: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			ActiveTargets []struct {
				ScrapeURL string `json:"scrapeUrl"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", fmt.Errorf("cannot decode prometheus targets: %w", err)
	}
	var parts []string
	for _, t := range body.Data.ActiveTargets {
		parts = append(parts, fmt.Sprintf("%s health=%s error=%q", t.ScrapeURL, t.Health, t.LastError))
	}
	return strings.Join(parts, "; "), nil
}

// LogTail returns up to the last n bytes of the server's log.
func (p *Prometheus) LogTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// stop sends SIGTERM, waits up to 10s for a clean TSDB shutdown, then kills.
func (p *Prometheus) stop() {
	p.once.Do(func() {
		select {
		case <-p.exited:
			return
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("cannot find a free port: %w", err)
	}
	defer l.Close()
	tcp, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, fmt.Errorf("cannot find a free port: listener address %v is not TCP", l.Addr())
	}
	return tcp.Port, nil
}

// WriteSelfSignedCert writes a fresh ECDSA P-256 certificate valid for 127.0.0.1, ::1 and
// localhost, with its key, as cert.pem and key.pem (0600) in dir. The certificate is its own CA:
// pass the cert file as Options.CAFile or to an x509.CertPool.
func WriteSelfSignedCert(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("cannot generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "ptsync test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("cannot create certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("cannot encode key: %v", err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatalf("cannot write certificate: %v", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatalf("cannot write key: %v", err)
	}
	return certFile, keyFile
}
