package ghlsim

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ghlwire"
)

// CompanyOptions configure a Company: a HighLevel agency whose locations (sub-accounts) one
// marketplace app may be installed on. The zero value of every field has a usable default.
type CompanyOptions struct {
	// CompanyID is the agency's id (default "simCompany0000000001"); CompanyName is sent in
	// AppInstall webhooks (default "Sim Agency").
	CompanyID, CompanyName string
	// UserID is the installing user reported in token responses and AppInstall webhooks.
	UserID string
	// ClientID and ClientSecret are the OAuth app's credentials (defaults "sim-client-id" and
	// "sim-client-secret"). AppID is the app's marketplace id, the appId of installedLocations
	// and of the app webhooks (default ghlwire.AppIDOf(ClientID)).
	ClientID, ClientSecret, AppID string
	// AccessTokenTTL is the lifetime of every access token the company issues: Location and
	// Company OAuth tokens and minted location tokens (default 24h, expires_in 86399).
	AccessTokenTTL time.Duration
	// Limits are the rate limits of each location and, separately, of the agency routes,
	// which HighLevel counts per app per resource (Location or Company).
	Limits Limits
	// InstallToFutureLocations installs the app on every location added later, as the agency
	// admin's "install to future locations" choice does (AddLocation emits AppInstall).
	InstallToFutureLocations bool
	// WebhookURL receives the AppInstall and AppUninstall webhooks (none are sent while it is
	// empty); WebhookKey signs them (x-ghl-signature, Ed25519; default a key derived from Seed,
	// see WebhookPublicKey).
	WebhookURL string
	WebhookKey ed25519.PrivateKey
	// Now, Seed, Epoch and Logger are passed to every location (see Options); each location's
	// Seed defaults to one derived from Seed and its id, so locations hold different people.
	Now    func() time.Time
	Seed   int64
	Epoch  time.Time
	Logger hclog.Logger
}

func (o CompanyOptions) withDefaults() CompanyOptions {
	// The fields a location has too default as a location's do.
	l := Options{CompanyID: o.CompanyID, UserID: o.UserID, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
		AccessTokenTTL: o.AccessTokenTTL, Now: o.Now, Logger: o.Logger, Limits: o.Limits}.withDefaults()
	o.CompanyID, o.UserID, o.ClientID, o.ClientSecret = l.CompanyID, l.UserID, l.ClientID, l.ClientSecret
	o.AccessTokenTTL, o.Now, o.Logger, o.Limits = l.AccessTokenTTL, l.Now, l.Logger, l.Limits
	if o.CompanyName == "" {
		o.CompanyName = "Sim Agency"
	}
	if o.AppID == "" {
		o.AppID = ghlwire.AppIDOf(o.ClientID)
	}
	if o.WebhookKey == nil {
		o.WebhookKey = derivedWebhookKey(o.Seed)
	}
	return o
}

// Company is an agency with many locations on ONE listener. Each location is a *Server with
// its own data, rate limits, counters, journal and faults; the company holds what HighLevel
// holds per app and agency: the token table, the app's install state per location, the agency
// routes (GET /oauth/installedLocations, POST /oauth/locationToken) and the app webhooks.
//
// Every API request is routed by its bearer token to the token's location. A request that
// names another location than its token's (a locationId in the query or body, or a contact
// of another location) is refused with 403 MsgNoLocationAccess and counted in the token's
// location's Counters.WrongLocation: the figure a multi-location client must keep at zero.
//
// A Server made by New is the only location of a company of one whose OAuth and agency
// counters are the location's own, so single-location tests see what they always saw. Every
// method is safe for concurrent use.
type Company struct {
	*answerer
	opts   CompanyOptions
	now    func() time.Time
	log    hclog.Logger
	auth   *authState
	ctr    *counterSet // the OAuth and agency routes, and API requests no location could own
	faults *faultState // applied to POST /oauth/token when Faults.IncludeOAuth is set
	limits *limiter    // the agency routes' budget, keyed by companyKey
	hooks  appHooks

	mu      sync.RWMutex // guards the fields below
	locs    map[string]*locEntry
	order   []string // location ids in the order they were added
	future  bool
	webhook string

	ctlOnce sync.Once
	ctl     *http.ServeMux

	lis listener
}

// locEntry is one location of the company and the app's install on it.
type locEntry struct {
	s           *Server
	installed   bool
	installedAt time.Time
}

// companyKey is the company's key in its limiter: HighLevel counts agency calls per Company.
func (co *Company) companyKey() string { return "company:" + co.opts.CompanyID }

// NewCompany returns a company without locations; add them with AddLocation.
func NewCompany(o CompanyOptions) *Company {
	o = o.withDefaults()
	co := &Company{
		answerer: &answerer{logger: o.Logger, seed: o.Seed},
		opts:     o, now: o.Now, log: o.Logger,
		auth:   newAuthState(),
		ctr:    newCounterSet(),
		faults: newFaultState(o.Seed+3, Faults{}),
		limits: newLimiter(o.Limits),
		locs:   map[string]*locEntry{},
		future: o.InstallToFutureLocations, webhook: o.WebhookURL,
		lis: listener{log: o.Logger},
	}
	co.hooks = newAppHooks(o.WebhookKey)
	return co
}

// companyOfOne wraps a location made by New: the company shares its answerer, counters,
// faults and limiter, and the app is installed on it from the start.
func companyOfOne(s *Server) *Company {
	o := s.opts
	co := &Company{
		answerer: s.answerer,
		opts: CompanyOptions{CompanyID: o.CompanyID, CompanyName: "Sim Agency", UserID: o.UserID, ClientID: o.ClientID,
			ClientSecret: o.ClientSecret, AppID: ghlwire.AppIDOf(o.ClientID), AccessTokenTTL: o.AccessTokenTTL,
			Limits: o.Limits, Now: o.Now, Seed: o.Seed, Epoch: o.Epoch, Logger: o.Logger},
		now: o.Now, log: o.Logger,
		auth: s.auth, ctr: s.ctr, faults: s.faults, limits: s.limits,
		locs:  map[string]*locEntry{o.LocationID: {s: s, installed: true, installedAt: o.Now()}},
		order: []string{o.LocationID},
		lis:   listener{log: o.Logger},
	}
	co.hooks = newAppHooks(derivedWebhookKey(o.Seed))
	return co
}

// ID returns the company id.
func (co *Company) ID() string { return co.opts.CompanyID }

// AppID returns the marketplace app's id (installedLocations' appId).
func (co *Company) AppID() string { return co.opts.AppID }

// ClientCredentials returns the OAuth client id and secret the token endpoint accepts.
func (co *Company) ClientCredentials() (id, secret string) {
	return co.opts.ClientID, co.opts.ClientSecret
}

// ErrLocationExists: AddLocation was given the id of a location the company already has.
var ErrLocationExists = errors.New("location exists")

// AddLocation adds a location to the company and returns its simulator. The company's ids,
// credentials, token lifetime and clock always apply; unset limits, epoch and logger come from
// the company too, the id defaults to the next "simLocation<9 digits>" and the seed to one
// derived from the company's and the id. The app is installed on it only with InstallToFutureLocations, which also emits the
// AppInstall webhook (without userId, as HighLevel's note on future-location installs says).
func (co *Company) AddLocation(o Options) (*Server, error) {
	co.mu.Lock()
	if o.LocationID == "" {
		o.LocationID = fmt.Sprintf("simLocation%09d", len(co.order)+1)
	}
	if _, dup := co.locs[o.LocationID]; dup {
		co.mu.Unlock()
		return nil, fmt.Errorf("cannot add location %s: %w", o.LocationID, ErrLocationExists)
	}
	c := co.opts
	o.CompanyID, o.UserID, o.ClientID, o.ClientSecret, o.AccessTokenTTL = c.CompanyID, c.UserID, c.ClientID, c.ClientSecret, c.AccessTokenTTL
	o.Now = c.Now
	if o.Logger == nil {
		o.Logger = c.Logger.Named(o.LocationID)
	}
	if o.Limits == (Limits{}) {
		o.Limits = c.Limits
	}
	if o.Epoch.IsZero() {
		o.Epoch = c.Epoch
	}
	if o.Seed == 0 {
		h := fnv.New64a()
		h.Write([]byte(o.LocationID))
		o.Seed = c.Seed ^ int64(h.Sum64()>>1)
	}
	s := newLocation(o.withDefaults(), co.auth)
	s.co = co
	e := &locEntry{s: s}
	co.locs[o.LocationID] = e
	co.order = append(co.order, o.LocationID)
	future := co.future
	if future {
		e.installed, e.installedAt = true, co.now()
	}
	co.mu.Unlock()
	if future {
		co.sendAppEvent(co.installEvent(o.LocationID, false))
	}
	return s, nil
}

// Location returns the location's simulator, or nil.
func (co *Company) Location(id string) *Server {
	co.mu.RLock()
	defer co.mu.RUnlock()
	if e := co.locs[id]; e != nil {
		return e.s
	}
	return nil
}

// Locations returns every location in the order they were added.
func (co *Company) Locations() []*Server {
	co.mu.RLock()
	defer co.mu.RUnlock()
	out := make([]*Server, 0, len(co.order))
	for _, id := range co.order {
		out = append(out, co.locs[id].s)
	}
	return out
}

// Installed reports whether the app is installed on the location.
func (co *Company) Installed(id string) bool {
	co.mu.RLock()
	defer co.mu.RUnlock()
	e := co.locs[id]
	return e != nil && e.installed
}

// ErrUnknownLocation: the company has no location with that id.
var ErrUnknownLocation = errors.New("unknown location")

// Install installs the app on the location and sends the AppInstall webhook; it returns the
// delivery (Skipped when no webhook URL is set). Installing where the app is installed
// already changes nothing and sends nothing.
func (co *Company) Install(id string) (AppWebhook, error) {
	co.mu.Lock()
	e := co.locs[id]
	if e == nil {
		co.mu.Unlock()
		return AppWebhook{}, fmt.Errorf("cannot install the app on location %s: %w", id, ErrUnknownLocation)
	}
	was := e.installed
	if !was {
		e.installed, e.installedAt = true, co.now()
	}
	co.mu.Unlock()
	if was {
		return AppWebhook{Skipped: true, Type: ghlwire.EventAppInstall, LocationID: id}, nil
	}
	return co.sendAppEvent(co.installEvent(id, true)), nil
}

// Uninstall removes the app from the location, as its admin would: every OAuth token of the
// location dies at once (access tokens answer 401, refresh tokens invalid_grant), minting a
// token for it is refused, and the AppUninstall webhook is sent. The location's data stays.
// Uninstalling where the app is not installed changes nothing and sends nothing.
func (co *Company) Uninstall(id string) (AppWebhook, error) {
	co.mu.Lock()
	e := co.locs[id]
	if e == nil {
		co.mu.Unlock()
		return AppWebhook{}, fmt.Errorf("cannot uninstall the app from location %s: %w", id, ErrUnknownLocation)
	}
	was := e.installed
	e.installed, e.installedAt = false, time.Time{}
	co.mu.Unlock()
	if !was {
		return AppWebhook{Skipped: true, Type: ghlwire.EventAppUninstall, LocationID: id}, nil
	}
	co.auth.revokeLocation(id)
	return co.sendAppEvent(co.uninstallEvent(id)), nil
}

// SetInstallToFutureLocations changes whether AddLocation installs the app.
func (co *Company) SetInstallToFutureLocations(on bool) {
	co.mu.Lock()
	defer co.mu.Unlock()
	co.future = on
}

// SetWebhookURL changes where the app webhooks go ("" stops sending them).
func (co *Company) SetWebhookURL(url string) {
	co.mu.Lock()
	defer co.mu.Unlock()
	co.webhook = url
}

// WebhookPublicKey returns the key that verifies the company's app webhooks.
func (co *Company) WebhookPublicKey() ed25519.PublicKey { return co.hooks.public() }

// defaultLocation is the location the single-location control surface (/_sim/ without a
// location) and a code without a chosen location go to: the first one added.
func (co *Company) defaultLocation() *Server {
	co.mu.RLock()
	defer co.mu.RUnlock()
	if len(co.order) == 0 {
		return nil
	}
	return co.locs[co.order[0]].s
}

// ownerOf returns the id of the location, other than except, that holds contactID, or "".
// It scans the other locations: only a request for a contact its location lacks pays for it.
func (co *Company) ownerOf(contactID, except string) string {
	for _, s := range co.Locations() {
		if s.opts.LocationID == except {
			continue
		}
		s.mu.RLock()
		_, ok := s.st.contacts[contactID]
		s.mu.RUnlock()
		if ok {
			return s.opts.LocationID
		}
	}
	return ""
}

// WrongLocationRequests returns the requests every location refused because they named
// another location than their token's (the sum of Counters.WrongLocation).
func (co *Company) WrongLocationRequests() int64 {
	var n int64
	for _, s := range co.Locations() {
		n += s.Counters().WrongLocation
	}
	return n
}

// Counters returns the company's own counters: the OAuth and agency routes (token grants,
// location tokens minted and refused, 429s of the company budget) and API requests no
// location could own (an unknown token, a Company token). A company of one shares them with
// its location.
func (co *Company) Counters() Counters { return co.ctr.snapshot() }

// SetLimits replaces the rate limits of the agency routes; each location keeps its own (see
// Server.SetLimits).
func (co *Company) SetLimits(l Limits) { co.limits.set(l) }

// ExpireAccessTokens makes every OAuth access token of the company invalid: every location's,
// the Company tokens and the minted ones. Refresh tokens and PITs stay valid.
func (co *Company) ExpireAccessTokens() {
	co.auth.mu.Lock()
	defer co.auth.mu.Unlock()
	for k, t := range co.auth.access {
		if !t.pit {
			delete(co.auth.access, k)
		}
	}
}

// Start listens on addr and serves the company in the background until Close; it returns
// the base URL.
func (co *Company) Start(addr string) (string, error) { return co.lis.start(addr, co) }

// Close stops the listener; it is safe without Start and more than once.
func (co *Company) Close() error { return co.lis.close() }

// ServeHTTP dispatches: /_sim/company/ to the company's control surface, /_sim/locations/{id}/
// to that location's, the rest of /_sim/ to the first location's (the single-location
// surface), the OAuth and agency endpoints to the company, and everything else to the API of
// the location the bearer token belongs to.
func (co *Company) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/_sim/company" || strings.HasPrefix(p, "/_sim/company/"):
		co.serveControl(w, r)
	case strings.HasPrefix(p, "/_sim/locations/"):
		co.serveLocationControl(w, r)
	case strings.HasPrefix(p, "/_sim/"):
		if d := co.defaultLocation(); d != nil {
			d.serveControl(w, r)
			return
		}
		co.writeErr(w, &Error{Status: 404, Messages: []string{"Cannot " + r.Method + " " + p + ": the company has no location"}})
	case p == "/oauth/token" || p == "/v2/oauth/chooselocation" || p == "/oauth/chooselocation":
		co.serveOAuth(w, r)
	case p == pathInstalledLocations || p == pathLocationToken:
		co.serveAgency(w, r)
	default:
		co.routeAPI(w, r)
	}
}

// routeAPI hands the request to the location its token belongs to. A token no location owns
// is answered here and counted by the company: unknown (401 invalid token) or a Company
// token (401 authClass, as HighLevel refuses agency tokens on a location's routes).
func (co *Company) routeAPI(w http.ResponseWriter, r *http.Request) {
	tok, known := co.auth.peek(r)
	if known && tok.userType != userCompany {
		if s := co.Location(tok.location); s != nil {
			s.serveAPI(w, r)
			return
		}
	}
	if d := co.defaultLocation(); d != nil && len(co.Locations()) == 1 {
		d.serveAPI(w, r) // a company of one: the location answers and counts it, as always
		return
	}
	co.ctr.request("UNROUTED " + r.Method)
	w.Header().Set("Date", co.now().UTC().Format(http.TimeFormat))
	if known && tok.userType == userCompany {
		co.ctr.with(func(c *Counters) { c.AuthClassRefused++ })
		co.writeErr(w, errAuthClass)
		return
	}
	co.ctr.unauthorized(false)
	co.writeErr(w, errInvalidToken)
}
