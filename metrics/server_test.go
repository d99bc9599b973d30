package metrics

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"ptsync/metrics/promtest"
)

// openServer starts a Server on a free loopback port and closes it when the test ends.
func openServer(t *testing.T, opts ServerOptions) (*Server, string) {
	t.Helper()
	if opts.ListenAddress == "" {
		opts.ListenAddress = "127.0.0.1:0"
	}
	if opts.Logger == nil {
		opts.Logger = hclog.New(&hclog.LoggerOptions{Output: testWriter{t}, Level: hclog.Debug})
	}
	s, err := NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	if err := s.Open(context.Background()); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, s.Addr().String()
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestServerEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.SetBuildInfo("v9.9.9")
	var notReady atomic.Pointer[string]
	reason := "no successful sync in the last 15m"
	notReady.Store(&reason)
	var sawDeadline atomic.Bool
	s, addr := openServer(t, ServerOptions{
		Gatherer:     reg,
		Registerer:   reg,
		MaxBodyBytes: 64,
		Ready: func(ctx context.Context) error {
			_, ok := ctx.Deadline()
			sawDeadline.Store(ok)
			if r := notReady.Load(); r != nil {
				return errors.New(*r)
			}
			return nil
		},
	})
	s.Handle("POST /hook", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		_, _ = w.Write(b)
	}))
	base := "http://" + addr

	tests := []struct {
		name       string
		method     string
		path       string
		accept     string
		body       io.Reader
		chunked    bool
		before     func()
		wantCode   int
		wantBody   string
		wantHeader string
	}{
		{name: "metrics text", method: "GET", path: "/metrics", wantCode: 200, wantBody: `ptsync_build_info{goversion="`},
		{name: "metrics openmetrics", method: "GET", path: "/metrics",
			accept:   "application/openmetrics-text;version=1.0.0",
			wantCode: 200, wantBody: "# EOF", wantHeader: "application/openmetrics-text"},
		{name: "healthz", method: "GET", path: "/healthz", wantCode: 200, wantBody: "ok"},
		{name: "readyz not ready says why", method: "GET", path: "/readyz", wantCode: 503,
			wantBody: "not ready: no successful sync in the last 15m"},
		{name: "readyz ready", method: "GET", path: "/readyz", before: func() { notReady.Store(nil) },
			wantCode: 200, wantBody: "ready"},
		{name: "metrics wrong method", method: "POST", path: "/metrics", wantCode: 405},
		{name: "unknown path", method: "GET", path: "/nope", wantCode: 404},
		{name: "index", method: "GET", path: "/", wantCode: 200, wantBody: "/metrics"},
		{name: "mounted handler", method: "POST", path: "/hook", body: strings.NewReader("hello"),
			wantCode: 200, wantBody: "hello"},
		{name: "declared body over the cap", method: "POST", path: "/hook",
			body: strings.NewReader(strings.Repeat("x", 65)), wantCode: 413},
		{name: "chunked body over the cap", method: "POST", path: "/hook", chunked: true,
			body: strings.NewReader(strings.Repeat("x", 200)), wantCode: 413, wantBody: "request body too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			body := tc.body
			if tc.chunked {
				body = io.MultiReader(body) // hides the length, so the client streams it chunked
			}
			req, err := http.NewRequest(tc.method, base+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("status %d, want %d; body %q", resp.StatusCode, tc.wantCode, got)
			}
			if !strings.Contains(string(got), tc.wantBody) {
				t.Errorf("body %q does not contain %q", got, tc.wantBody)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, tc.wantHeader) {
				t.Errorf("content type %q does not contain %q", ct, tc.wantHeader)
			}
		})
	}
	if !sawDeadline.Load() {
		t.Error("Ready was called without a deadline")
	}
}

func TestNewServerChecksAddressAndWebConfig(t *testing.T) {
	certDir := t.TempDir()
	promtest.WriteSelfSignedCert(t, certDir)
	tlsCfg := copyFile(t, "testdata/web/tls-basic-auth.yml", filepath.Join(certDir, "web.yml"))
	reg := prometheus.NewRegistry()

	tests := []struct {
		name    string
		addr    string
		config  string
		allow   bool
		wantErr string
		wantIs  error
	}{
		{name: "default is loopback", addr: ""},
		{name: "ipv4 loopback", addr: "127.0.0.1:9817"},
		{name: "ipv6 loopback", addr: "[::1]:9817"},
		{name: "localhost", addr: "localhost:9817"},
		{name: "wildcard refused", addr: "0.0.0.0:9817", wantIs: ErrInsecureRemote,
			wantErr: `cannot use metrics listen address "0.0.0.0:9817": refusing to serve metrics on a non-loopback address without TLS or basic auth`},
		{name: "empty host refused", addr: ":9817", wantIs: ErrInsecureRemote},
		{name: "ipv6 wildcard refused", addr: "[::]:9817", wantIs: ErrInsecureRemote},
		{name: "lan address refused", addr: "192.0.2.10:9817", wantIs: ErrInsecureRemote},
		{name: "host name refused", addr: "metrics.example.com:9817", wantIs: ErrInsecureRemote},
		{name: "explicitly allowed", addr: "0.0.0.0:9817", allow: true},
		{name: "tls and basic auth permit remote", addr: "0.0.0.0:9817", config: tlsCfg},
		{name: "basic auth alone permits remote", addr: "0.0.0.0:9817", config: "testdata/web/basic-auth-only.yml"},
		{name: "config securing nothing refused", addr: "0.0.0.0:9817", config: "testdata/web/empty.yml", wantIs: ErrInsecureRemote},
		{name: "unknown web config field", addr: "127.0.0.1:9817", config: "testdata/web/unknown-field.yml",
			wantErr: "cannot use metrics web config testdata/web/unknown-field.yml: yaml: unmarshal errors:\n  line 4: field certfile_typo not found in type web.TLSConfig"},
		{name: "missing certificate", addr: "127.0.0.1:9817", config: "testdata/web/missing-cert.yml",
			wantErr: "cannot use metrics web config testdata/web/missing-cert.yml: failed to read cert_file (testdata/web/does-not-exist.pem)"},
		{name: "missing web config file", addr: "127.0.0.1:9817", config: "testdata/web/nope.yml",
			wantErr: "cannot use metrics web config testdata/web/nope.yml: open testdata/web/nope.yml: no such file or directory"},
		{name: "address without port", addr: "127.0.0.1", wantErr: `cannot use metrics listen address "127.0.0.1": address 127.0.0.1: missing port in address`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewServer(ServerOptions{Gatherer: reg, ListenAddress: tc.addr,
				WebConfigFile: tc.config, AllowInsecureRemote: tc.allow})
			if tc.wantErr == "" && tc.wantIs == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v is not %v", err, tc.wantIs)
			}
			if !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("error\n%s\nwant prefix\n%s", err, tc.wantErr)
			}
		})
	}
	if _, err := NewServer(ServerOptions{}); err == nil {
		t.Error("NewServer without a gatherer succeeded")
	}
}

func TestServerTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	certFile, _ := promtest.WriteSelfSignedCert(t, dir)
	cfg := copyFile(t, "testdata/web/tls-basic-auth.yml", filepath.Join(dir, "web.yml"))
	reg := prometheus.NewRegistry()
	New(reg)
	_, addr := openServer(t, ServerOptions{Gatherer: reg, WebConfigFile: cfg})

	pool := x509.NewCertPool()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem)
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	tests := []struct {
		name     string
		client   *http.Client
		url      string
		user     string
		pass     string
		wantCode int
		wantErr  bool
	}{
		{name: "right password", client: tlsClient, url: "https://" + addr + "/metrics", user: "prometheus", pass: "scrape-s3cret", wantCode: 200},
		{name: "health behind auth too", client: tlsClient, url: "https://" + addr + "/healthz", user: "prometheus", pass: "scrape-s3cret", wantCode: 200},
		{name: "no credentials", client: tlsClient, url: "https://" + addr + "/metrics", wantCode: 401},
		{name: "wrong password", client: tlsClient, url: "https://" + addr + "/metrics", user: "prometheus", pass: "guess", wantCode: 401},
		{name: "unknown user", client: tlsClient, url: "https://" + addr + "/metrics", user: "root", pass: "scrape-s3cret", wantCode: 401},
		{name: "plain http to the TLS port", client: http.DefaultClient, url: "http://" + addr + "/metrics", user: "prometheus", pass: "scrape-s3cret", wantCode: 400},
		{name: "untrusted certificate", client: http.DefaultClient, url: "https://" + addr + "/metrics", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", tc.url, nil)
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := tc.client.Do(req)
			if tc.wantErr {
				if err == nil {
					resp.Body.Close()
					t.Fatal("request succeeded against an untrusted certificate")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("status %d, want %d; body %q", resp.StatusCode, tc.wantCode, body)
			}
			if tc.wantCode == 200 && strings.HasSuffix(tc.url, "/metrics") && !strings.Contains(string(body), "ptsync_build_info") {
				t.Errorf("metrics body lacks ptsync_build_info: %.200s", body)
			}
		})
	}
}

func TestServerLifecycle(t *testing.T) {
	reg := prometheus.NewRegistry()
	ctx := context.Background()

	t.Run("close before open", func(t *testing.T) {
		s, err := NewServer(ServerOptions{Gatherer: reg, ListenAddress: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatalf("Close before Open: %v", err)
		}
		if s.Addr() != nil {
			t.Fatal("Addr before Open is not nil")
		}
	})

	t.Run("busy port then close", func(t *testing.T) {
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		s, err := NewServer(ServerOptions{Gatherer: reg, ListenAddress: busy.Addr().String()})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Open(ctx)
		if err == nil || !strings.Contains(err.Error(), "cannot listen for metrics on "+busy.Addr().String()) {
			t.Fatalf("Open on a busy port: %v", err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatalf("Close after failed Open: %v", err)
		}
	})

	t.Run("open twice, close twice", func(t *testing.T) {
		s, err := NewServer(ServerOptions{Gatherer: reg, ListenAddress: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Open(ctx); !errors.Is(err, ErrServerOpen) {
			t.Fatalf("second Open: %v, want ErrServerOpen", err)
		}
		addr := s.Addr().String()
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		select {
		case <-s.Done():
		default:
			t.Fatal("Done not closed after Close")
		}
		if s.Err() != nil {
			t.Fatalf("Err after clean Close: %v", s.Err())
		}
		if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
			t.Fatal("server still answers after Close")
		}
	})

	t.Run("close waits for in-flight requests until its deadline", func(t *testing.T) {
		s, err := NewServer(ServerOptions{Gatherer: reg, ListenAddress: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		entered, release := make(chan struct{}), make(chan struct{})
		s.Handle("GET /slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-release
		}))
		if err := s.Open(ctx); err != nil {
			t.Fatal(err)
		}
		go func() {
			resp, err := http.Get("http://" + s.Addr().String() + "/slow")
			if err == nil {
				resp.Body.Close()
			}
		}()
		<-entered
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		err = s.Close(short)
		close(release)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close with a stuck request = %v, want a deadline error", err)
		}
	})
}

func copyFile(t *testing.T, from, to string) string {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return to
}
