// Package ghlsim is a faithful, in-process simulator of the HighLevel Contacts API v2 and
// its OAuth endpoints, for tests, `ptsync demo` and `ptsync sim`.
//
// A Server is one location (sub-account). A Company is an agency holding many locations on
// one listener: it routes each request by its bearer token, refuses and counts a request that
// names another location than its token's, issues Company (agency) token pairs, lists the
// locations the app is installed on, mints location tokens, and sends the AppInstall and
// AppUninstall webhooks (docs/ghl-agency.md says what it serves and why). New makes a Server
// that is the only location of a company of its own, so single-location use is unchanged.
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
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
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
	// Name and Address describe the location in GET /oauth/installedLocations (default name
	// "Sim Location <n>", no address).
	Name, Address string
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

// Server is the simulator of one location. Create it with New (a location of its own, in a
// company of one) or Company.AddLocation (one of many locations of an agency on one listener);
// serve it in-process through ServeHTTP or on a listener with Start; Close stops the listener.
type Server struct {
	*answerer
	opts   Options
	now    func() time.Time
	log    hclog.Logger
	routes []route
	// co is the company the location belongs to: the one that routes requests to it by
	// token, holds the tokens (auth is co.auth) and knows the other locations.
	co *Company

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

	jrn journal

	ctlOnce sync.Once
	ctl     *http.ServeMux

	lis listener
}

// withDefaults fills in the defaults of every unset option.
func (o Options) withDefaults() Options {
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
	if o.Name == "" {
		o.Name = "Sim Location " + strings.TrimLeft(strings.TrimPrefix(o.LocationID, "simLocation"), "0")
	}
	o.Limits = o.Limits.withDefaults()
	return o
}

// New returns a Server with an empty location, the only location of a company of its own
// (Company returns it): the app is installed on it, and the agency routes answer for it. It
// never fails; invalid options fall back to defaults.
func New(o Options) *Server {
	s := newLocation(o.withDefaults(), newAuthState())
	s.co = companyOfOne(s)
	return s
}

// newLocation builds a location's simulator over auth, the token table of its company; o has
// its defaults filled in. The caller sets s.co.
func newLocation(o Options, auth *authState) *Server {
	s := &Server{
		answerer:  &answerer{logger: o.Logger, seed: o.Seed},
		opts:      o,
		now:       o.Now,
		log:       o.Logger,
		st:        newStore(o.LocationID, o.Seed),
		lag:       o.SearchLag,
		allowDup:  o.AllowDuplicates,
		childBump: o.ChildWritesBumpContact,
		gen:       gen.NewAt(o.Seed, cmp.Or(o.Epoch, o.Now())),
		churnRng:  rand.New(rand.NewPCG(uint64(o.Seed), 0xc4a2)),
		auth:      auth,
		limits:    newLimiter(o.Limits),
		faults:    newFaultState(o.Seed+2, o.Faults),
		ctr:       newCounterSet(),
		lis:       listener{log: o.Logger},
	}
	s.routes = s.apiRoutes()
	return s
}

// LocationID returns the location the simulator serves.
func (s *Server) LocationID() string { return s.opts.LocationID }

// Name returns the location's name, as the installed-locations listing shows it.
func (s *Server) Name() string { return s.opts.Name }

// Company returns the company the location belongs to (its own company of one after New).
func (s *Server) Company() *Company { return s.co }

// ClientCredentials returns the OAuth client id and secret the token endpoint accepts.
func (s *Server) ClientCredentials() (id, secret string) {
	return s.opts.ClientID, s.opts.ClientSecret
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background until Close.
// It returns the base URL, e.g. "http://127.0.0.1:41234". Everything the location's company
// serves is served there (see Company.ServeHTTP).
func (s *Server) Start(addr string) (string, error) { return s.lis.start(addr, s) }

// Close stops a server started with Start, dropping open connections. It is safe to call
// without Start and more than once.
func (s *Server) Close() error { return s.lis.close() }

// ServeHTTP serves the whole company the location belongs to: its control surface (/_sim/),
// the OAuth and agency endpoints, and the API, routed by token (Company.ServeHTTP). For a
// Server made by New that is exactly this one location.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.co.ServeHTTP(w, r) }
