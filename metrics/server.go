package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"
)

// DefaultListenAddress is where the metrics listener binds unless told otherwise: loopback
// only, so nothing is exposed by accident.
const DefaultListenAddress = "127.0.0.1:9817"

// Defaults for ServerOptions fields left zero.
const (
	DefaultMaxBodyBytes      = 1 << 20
	DefaultMaxHeaderBytes    = 16 << 10
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 15 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultReadyTimeout      = 5 * time.Second
)

// ErrInsecureRemote is returned (wrapped) by NewServer for a listen address that is not
// loopback when no web config enables TLS or basic auth and AllowInsecureRemote is false.
var ErrInsecureRemote = errors.New("refusing to serve metrics on a non-loopback address without TLS or basic auth")

// ErrServerOpen is returned by Open on a Server that is already open.
var ErrServerOpen = errors.New("server already open")

// ServerOptions configure NewServer. Only Gatherer is required.
type ServerOptions struct {
	// ListenAddress is host:port; DefaultListenAddress when empty. Port 0 picks a free port
	// (see Server.Addr).
	ListenAddress string
	// WebConfigFile is an exporter-toolkit web config (TLS, basic auth with bcrypt hashes,
	// rate limit); https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md.
	// Empty serves plain HTTP without auth. The file is re-read on every TLS handshake, so
	// certificates rotate without a restart.
	WebConfigFile string
	// AllowInsecureRemote permits a non-loopback ListenAddress without TLS or basic auth.
	AllowInsecureRemote bool
	// Gatherer is what /metrics serves, normally the registry given to New.
	Gatherer prometheus.Gatherer
	// Registerer, when set, receives promhttp's own counters (scrapes in flight, scrape errors).
	Registerer prometheus.Registerer
	// Ready answers /readyz: nil means ready, an error is the reason for a 503. It is called
	// on every probe with a context bounded by ReadyTimeout; nil Ready means always ready.
	Ready func(ctx context.Context) error
	// Logger receives serve and scrape errors; hclog.NewNullLogger() when nil.
	Logger hclog.Logger

	// MaxBodyBytes caps every request body, on every handler (DefaultMaxBodyBytes when 0).
	MaxBodyBytes int64
	// MaxHeaderBytes caps request headers (DefaultMaxHeaderBytes when 0).
	MaxHeaderBytes int
	// Timeouts of the http.Server; the Default* constants when 0.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// ReadyTimeout bounds one call of Ready (DefaultReadyTimeout when 0).
	ReadyTimeout time.Duration
}

// Server is the HTTP listener for /metrics, /healthz, /readyz and any handler mounted with
// Handle. Lifecycle: NewServer -> Handle... -> Open -> Close. Close is safe after a failed or
// partial Open and more than once.
type Server struct {
	opts ServerOptions
	log  hclog.Logger
	mux  *http.ServeMux

	mu      sync.Mutex
	ln      net.Listener
	srv     *http.Server
	done    chan struct{}
	serveEr error
}

// NewServer checks opts and builds a Server; it opens nothing. It fails when Gatherer is nil,
// the address does not parse, the web config file is invalid, or the address is not loopback
// while nothing secures it (ErrInsecureRemote) and AllowInsecureRemote is false.
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.Gatherer == nil {
		return nil, errors.New("cannot build metrics server: no gatherer")
	}
	if opts.ListenAddress == "" {
		opts.ListenAddress = DefaultListenAddress
	}
	defaults(&opts.MaxBodyBytes, DefaultMaxBodyBytes)
	defaults(&opts.MaxHeaderBytes, DefaultMaxHeaderBytes)
	defaults(&opts.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	defaults(&opts.ReadTimeout, DefaultReadTimeout)
	defaults(&opts.WriteTimeout, DefaultWriteTimeout)
	defaults(&opts.IdleTimeout, DefaultIdleTimeout)
	defaults(&opts.ReadyTimeout, DefaultReadyTimeout)
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	host, _, err := net.SplitHostPort(opts.ListenAddress)
	if err != nil {
		return nil, fmt.Errorf("cannot use metrics listen address %q: %w", opts.ListenAddress, err)
	}
	secured := false
	if opts.WebConfigFile != "" {
		if err := web.Validate(opts.WebConfigFile); err != nil {
			return nil, fmt.Errorf("cannot use metrics web config %s: %w", opts.WebConfigFile, err)
		}
		if secured, err = webConfigSecures(opts.WebConfigFile); err != nil {
			return nil, fmt.Errorf("cannot use metrics web config %s: %w", opts.WebConfigFile, err)
		}
	}
	if !isLoopback(host) && !secured && !opts.AllowInsecureRemote {
		return nil, fmt.Errorf("cannot use metrics listen address %q: %w (set a web config with tls_server_config or basic_auth_users, listen on 127.0.0.1, or allow insecure remote explicitly)",
			opts.ListenAddress, ErrInsecureRemote)
	}

	s := &Server{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{
		ErrorLog:            scrapeErrorLog{opts.Logger},
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            opts.Registerer,
		MaxRequestsInFlight: 4,
		Timeout:             opts.WriteTimeout - time.Second,
		EnableOpenMetrics:   true,
	}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ptsync: /metrics /healthz /readyz")
	})
	return s, nil
}

// Handle mounts handler on pattern (http.ServeMux syntax, e.g. "POST /webhooks/ghl"). The body
// limit applies to it as to every handler. Safe before or after Open; it panics, like
// ServeMux, on a pattern that conflicts with one already mounted.
func (s *Server) Handle(pattern string, handler http.Handler) { s.mux.Handle(pattern, handler) }

// Handler returns the server's complete handler (routes plus the body limit) for callers that
// serve it themselves, e.g. with httptest. TLS and basic auth are not part of it; they wrap it
// inside Open.
func (s *Server) Handler() http.Handler {
	limit := s.opts.MaxBodyBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			writeText(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		s.mux.ServeHTTP(w, r)
	})
}

// Open binds the listen address and starts serving in the background; it returns once the
// socket is bound, so a busy port is reported here. The web config is re-validated first.
func (s *Server) Open(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return ErrServerOpen
	}
	cfgPath := s.opts.WebConfigFile
	if err := web.Validate(cfgPath); err != nil {
		return fmt.Errorf("cannot use metrics web config %s: %w", cfgPath, err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.ListenAddress)
	if err != nil {
		return fmt.Errorf("cannot listen for metrics on %s: %w", s.opts.ListenAddress, err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
		ErrorLog:          log.New(serverErrorLog{s.log}, "", 0),
	}
	s.ln, s.srv, s.done = ln, srv, make(chan struct{})
	flags := &web.FlagConfig{
		WebListenAddresses: &[]string{s.opts.ListenAddress},
		WebConfigFile:      &cfgPath,
	}
	go func(done chan struct{}) {
		defer close(done)
		err := web.Serve(ln, srv, flags, newSlogLogger(s.log))
		_ = ln.Close() // web.Serve may fail before http.Server owns the listener
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics listener stopped", "address", ln.Addr().String(), "error", err)
			s.mu.Lock()
			s.serveEr = err
			s.mu.Unlock()
		}
	}(s.done)
	s.log.Info("metrics listening", "address", ln.Addr().String(), "web_config", cfgPath != "")
	return nil
}

// Addr is the bound address after Open (useful with port 0), nil before.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Done is closed when the listener stops serving, after Close or on a serve error (see Err).
// Before Open it returns nil, which blocks forever in a select.
func (s *Server) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// Err reports why serving stopped on its own, nil after a clean Close or while serving.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serveEr
}

// Close shuts the listener down gracefully: it stops accepting, lets in-flight requests finish
// until ctx expires, then cuts the remaining connections. Safe before Open, after a failed Open,
// and more than once. It returns ctx's error when the deadline cut requests short.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	srv, ln, done := s.srv, s.ln, s.done
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("cannot shut metrics listener down gracefully: %w", err)
	}
	_ = ln.Close()
	<-done
	return err
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ready == nil {
		writeText(w, http.StatusOK, "ready")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.ReadyTimeout)
	defer cancel()
	if err := s.opts.Ready(ctx); err != nil {
		writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
		return
	}
	writeText(w, http.StatusOK, "ready")
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

// webConfigSecures reports whether the web config at path turns on TLS or basic auth.
func webConfigSecures(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	var c web.Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return false, err
	}
	return c.TLSConfig.IsEnabled() || len(c.Users) > 0, nil
}

// isLoopback reports whether host (from host:port) only reaches this machine. An empty host
// or a wildcard binds every interface; a name other than localhost could resolve anywhere.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func defaults[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// scrapeErrorLog adapts hclog to promhttp.Logger.
type scrapeErrorLog struct{ log hclog.Logger }

func (l scrapeErrorLog) Println(v ...any) {
	l.log.Warn("metrics scrape error", "detail", strings.TrimSpace(fmt.Sprintln(v...)))
}

// serverErrorLog adapts hclog to the *log.Logger of http.Server (TLS handshake errors, ...).
type serverErrorLog struct{ log hclog.Logger }

func (l serverErrorLog) Write(p []byte) (int, error) {
	l.log.Debug("metrics http error", "detail", strings.TrimSpace(string(p)))
	return len(p), nil
}
