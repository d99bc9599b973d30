// Package ghlsim is a faithful, in-process simulator of the HighLevel Contacts API v2 and
// its OAuth endpoints, for tests, `ptsync demo` and `ptsync sim`.
//
// It follows the official OpenAPI spec (apps/contacts.json, apps/oauth.json) and the
// observed quirks collected in docs/reference: collection paths with a trailing slash, 201 on
// creates, {"succeded": true} (sic) on deletes, 422 with an array message, the duplicate
// 400 with meta, the Version header, single-use rotating refresh tokens, scope checks,
// per-location burst and daily rate limits with the documented headers, the deprecated list's
// startAfter-only bug, and a search index that lags writes.
//
// Beyond the API it offers a control surface (Go methods and HTTP under /_sim/) to change
// data as a HighLevel user would, inject faults, churn contacts and read counters, so tests
// can prove what a client did and did not do. GET /_sim/snapshot (Snapshot) is the whole
// data set in a canonical order: one Seed and Epoch give the same bytes on every run.
//
// Decisions where the sources are silent (each is a place a client must not over-fit):
//   - email is stored as typed but trimmed (emailLowerCase holds the matching form); phones
//     are stored in E.164 (a bare 10-digit number is taken as +1); tags are lower-cased.
//   - dateUpdated moves on every contact write, tag adds/removes included, and strictly
//     increases per contact (+1 ms on a frozen clock); task and note writes do not move it
//     unless Options.ChildWritesBumpContact is set.
//   - GET /contacts/ and the item routes read live data; only POST /contacts/search lags.
//     The list's count equals meta.total.
//   - POST /contacts/search beyond 10,000 records with page answers 400; the default sort is
//     dateAdded desc; cursors are [sortValue..., id] with dates as epoch ms; ties break on id.
//   - 5xx and reset faults happen before the operation (nothing written); body faults
//     corrupt the answer of an operation that did run.
//   - The control surface (Go methods, /_sim/) bypasses auth, limits, faults and counters.
//
// Every exported method is safe for concurrent use. The simulator keeps everything in memory.
package ghlsim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/sim/gen"
)

// Options configure a Server. The zero value of every field has a usable default.
type Options struct {
	// LocationID is the sub-account the simulator serves (default "simLocation000000001").
	LocationID string
	// CompanyID is the agency reported in token responses (default "simCompany0000000001").
	CompanyID string
	// UserID is the installing user reported in token responses.
	UserID string
	// AllowDuplicates mirrors the location's "Allow Duplicate Contact" setting. When false
	// (the default, as in most locations) a create whose email or phone matches gets 400.
	AllowDuplicates bool
	// SearchLag is how far POST /contacts/search trails writes: a search sees the data as of
	// now - SearchLag. Zero makes writes searchable at once.
	SearchLag time.Duration
	// ChildWritesBumpContact makes task and note writes move the contact's dateUpdated.
	// HighLevel's real behaviour is unknown (see the reference, §7.5), so the default is
	// false: clients must not rely on dateUpdated to find child changes.
	ChildWritesBumpContact bool
	// Now is the clock for every date and expiry (default time.Now). Latency faults and slow
	// bodies use real time regardless.
	Now func() time.Time
	// Seed makes ids, seeded data, churn and fault choices reproducible.
	Seed int64
	// Epoch is the "now" of the people Seed generates and of every seeded record's dates
	// (dateAdded, dateUpdated, due dates, appointments), so one Seed and Epoch give the same
	// snapshot (Snapshot, GET /_sim/snapshot) byte for byte. Zero means Now() at New and at
	// each Seed: the same ids and people, dated around the wall clock.
	Epoch time.Time
	// Logger receives request traces at Trace level (default: discard).
	Logger hclog.Logger
	// ClientID and ClientSecret are the OAuth app's credentials (defaults "sim-client-id"
	// and "sim-client-secret").
	ClientID, ClientSecret string
	// AccessTokenTTL is the access token lifetime (default 24h, reported as expires_in 86399).
	AccessTokenTTL time.Duration
	// Limits are the per-location rate limits (defaults 100/10s and 200,000/24h).
	Limits Limits
	// Faults is the initial fault configuration (default none); see SetFaults.
	Faults Faults
}

// Server is the simulator. Create it with New; serve it in-process through ServeHTTP or on
// a listener with Start; Close stops the listener.
type Server struct {
	opts   Options
	now    func() time.Time
	log    hclog.Logger
	routes []route

	mu           sync.RWMutex // guards st and the settings below
	st           *store
	lag          time.Duration
	allowDup     bool
	childBump    bool
	gen          *gen.Generator
	churnRng     *rand.Rand
	cursorRepeat bool

	auth   *authState
	limits *limiter
	faults *faultState
	ctr    *counterSet

	listing listingFaultState // listingfault.go; guarded by its own mutex

	traceSeq atomic.Uint64
	jrn      journal

	ctlOnce sync.Once
	ctl     *http.ServeMux

	srvMu   sync.Mutex
	httpSrv *http.Server
}

// New returns a Server with an empty location. It never fails; invalid options fall back
// to defaults.
func New(o Options) *Server {
	if o.LocationID == "" {
		o.LocationID = "simLocation000000001"
	}
	if o.CompanyID == "" {
		o.CompanyID = "simCompany0000000001"
	}
	if o.UserID == "" {
		o.UserID = "simUser0000000000001"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.ClientID == "" {
		o.ClientID = "sim-client-id"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = "sim-client-secret"
	}
	if o.AccessTokenTTL <= 0 {
		o.AccessTokenTTL = 24 * time.Hour
	}
	o.Limits = o.Limits.withDefaults()
	s := &Server{
		opts:      o,
		now:       o.Now,
		log:       o.Logger,
		st:        newStore(o.LocationID, o.Seed),
		lag:       o.SearchLag,
		allowDup:  o.AllowDuplicates,
		childBump: o.ChildWritesBumpContact,
		gen:       gen.NewAt(o.Seed, cmp.Or(o.Epoch, o.Now())),
		churnRng:  rand.New(rand.NewPCG(uint64(o.Seed), 0xc4a2)),
		auth:      newAuthState(),
		limits:    newLimiter(o.Limits),
		faults:    newFaultState(o.Seed+2, o.Faults),
		ctr:       newCounterSet(),
	}
	s.routes = s.apiRoutes()
	return s
}

// LocationID returns the location the simulator serves.
func (s *Server) LocationID() string { return s.opts.LocationID }

// ClientCredentials returns the OAuth client id and secret the token endpoint accepts.
func (s *Server) ClientCredentials() (id, secret string) {
	return s.opts.ClientID, s.opts.ClientSecret
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background until Close.
// It returns the base URL, e.g. "http://127.0.0.1:41234".
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.srvMu.Lock()
	if s.httpSrv != nil {
		s.srvMu.Unlock()
		ln.Close()
		return "", errors.New("cannot start simulator: already started")
	}
	s.httpSrv = srv
	s.srvMu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("simulator stopped serving", "error", err)
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

// Close stops a server started with Start, dropping open connections. It is safe to call
// without Start and more than once.
func (s *Server) Close() error {
	s.srvMu.Lock()
	srv := s.httpSrv
	s.httpSrv = nil
	s.srvMu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
	}
	return nil
}

// ServeHTTP dispatches to the control surface (/_sim/), the OAuth endpoints or the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/_sim/"):
		s.serveControl(w, r)
	case r.URL.Path == "/oauth/token" || r.URL.Path == "/v2/oauth/chooselocation" || r.URL.Path == "/oauth/chooselocation":
		s.serveOAuth(w, r)
	default:
		s.serveAPI(w, r)
	}
}

func (s *Server) traceID() string {
	n := s.traceSeq.Add(1)
	return fmt.Sprintf("sim-%08x-%04x-%012x", uint32(s.opts.Seed), n>>48, n&0xffffffffffff)
}
