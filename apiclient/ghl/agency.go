package ghl

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ghlwire"
	"ptsync/internal/secret"
)

// Operations of the agency routes (apps/oauth.json operationIds), as the Agency reports them.
const (
	OpGetInstalledLocations = "get-installed-location"
	OpGetLocationToken      = "get-location-access-token"
)

// DefaultAgencyScopes returns the scopes `ptsync auth --agency` asks for: the contacts scopes
// the minted location tokens need and the oauth scopes of the agency routes. Each call returns
// a fresh slice.
func DefaultAgencyScopes() []string {
	return append(DefaultScopes(), ghlwire.ScopeOAuthReadonly, ghlwire.ScopeOAuthWrite)
}

// AgencyOptions configure an Agency. CompanyID, ClientID, ClientSecret and Store are
// required; the rest default.
type AgencyOptions struct {
	// CompanyID is the agency the Company token pair belongs to; the pair is stored under it.
	CompanyID    string
	ClientID     string
	ClientSecret Secret
	// AppID is the marketplace app id GET /oauth/installedLocations filters on (default
	// ghlwire.AppIDOf(ClientID): HighLevel's client ids are "<appId>-<suffix>").
	AppID string
	// BaseURL defaults to DefaultBaseURL; the token endpoint is BaseURL + "/oauth/token".
	BaseURL string
	// Store keeps the Company pair (keyed by CompanyID) in the format of the location tokens;
	// it is written durably before a rotated pair is used, as OAuthSource does.
	Store TokenStore
	// HTTPClient or Transport carry every request (share the process's pool); Limiter is the
	// company's own budget, which HighLevel counts apart from every location's (default
	// HighLevel's limits).
	HTTPClient *http.Client
	Transport  http.RoundTripper
	Limiter    *Limiter
	// RefreshBefore: a location token is minted again this long before it expires (default
	// 5 min, never more than a fifth of its lifetime); the Company pair refreshes as an
	// OAuthSource's does.
	RefreshBefore time.Duration
	Version       string
	Logger        hclog.Logger
	Clock         func() time.Time
	// Observer sees the agency's requests and the Company token's expiry under the company
	// id where a location id would be.
	Observer Observer
}

// Agency is ptsync installed at agency level (a Company token, user_type=Company): it lists
// the locations the app is installed on and mints each location's access token from the
// Company token (POST /oauth/locationToken). Its calls go through a Client of their own (the
// company's limiter, retries, breaker "ghl-agency") with the Company pair's OAuthSource as
// credentials, so a refused Company token is refreshed once per call, serialized, rotated and
// stored before use, and invalid_grant is final (ErrInvalidGrant: run `ptsync auth --agency`).
//
// Create one Agency per company per process (two would spend the same single-use refresh
// token). It is safe for concurrent use.
type Agency struct {
	opts    AgencyOptions
	company *OAuthSource
	client  *Client
}

// NewAgency checks the options and builds the agency; it performs no I/O.
func NewAgency(opts AgencyOptions) (*Agency, error) {
	if opts.CompanyID == "" {
		return nil, errors.New("cannot create agency: company id is empty")
	}
	if opts.Store == nil {
		return nil, fmt.Errorf("cannot create agency %s: no token store", opts.CompanyID)
	}
	if opts.AppID == "" {
		opts.AppID = ghlwire.AppIDOf(opts.ClientID)
	}
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	if opts.RefreshBefore <= 0 {
		opts.RefreshBefore = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: opts.Transport, Timeout: 30 * time.Second}
	}
	src, err := NewOAuthSource(OAuthSourceOptions{Location: opts.CompanyID, ClientID: opts.ClientID, ClientSecret: opts.ClientSecret,
		TokenURL: strings.TrimRight(opts.BaseURL, "/") + "/oauth/token", UserType: ghlwire.UserTypeCompany, Store: companyStore{opts.Store},
		HTTPClient: hc, Logger: opts.Logger.Named("agency"), Clock: opts.Clock, Observer: opts.Observer})
	if err != nil {
		return nil, fmt.Errorf("cannot create agency %s: %w", opts.CompanyID, err)
	}
	cl, err := New(Options{BaseURL: opts.BaseURL, LocationID: opts.CompanyID, Credentials: src, HTTPClient: opts.HTTPClient,
		Transport: opts.Transport, Limiter: opts.Limiter, Upstream: "ghl-agency", Version: opts.Version,
		Logger: opts.Logger.Named("agency"), Clock: opts.Clock, Observer: opts.Observer})
	if err != nil {
		return nil, fmt.Errorf("cannot create agency %s: %w", opts.CompanyID, err)
	}
	return &Agency{opts: opts, company: src, client: cl}, nil
}

// CompanyID returns the agency's company id.
func (a *Agency) CompanyID() string { return a.opts.CompanyID }

// Limiter returns the company's rate budget.
func (a *Agency) Limiter() *Limiter { return a.client.Limiter() }

// companyStore stores the Company pair under the company id without a location id: the
// OAuthSource it serves names the company where a location would be.
type companyStore struct{ TokenStore }

// Save implements TokenStore.
func (s companyStore) Save(ctx context.Context, company string, tok Token) error {
	tok.LocationID, tok.UserType = "", ghlwire.UserTypeCompany
	if tok.CompanyID == "" {
		tok.CompanyID = company
	}
	return s.TokenStore.Save(ctx, company, tok)
}

// InstalledQuery narrows GET /oauth/installedLocations.
type InstalledQuery struct {
	// OnlyInstalled lists only the locations the app is installed on (isInstalled=true);
	// otherwise every location of the company is listed with its IsInstalled flag.
	OnlyInstalled bool
	// Name keeps the locations whose name contains it (the query parameter).
	Name string
	// PageSize is the limit of one page (default 100).
	PageSize int
}

// InstalledLocations pages through GET /oauth/installedLocations (skip/limit) and returns
// every location, each once, in the listing's order. A page shorter than the limit, or skip
// reaching count, ends the walk; a page that brings no new location ends it with a
// *RepeatedCursorError (a server ignoring skip would loop forever). An install or uninstall
// while it pages can shift rows between pages: callers re-list periodically and act on the
// app webhooks too.
func (a *Agency) InstalledLocations(ctx context.Context, q InstalledQuery) ([]ghlwire.InstalledLocation, error) {
	limit := q.PageSize
	if limit <= 0 {
		limit = 100
	}
	var out []ghlwire.InstalledLocation
	seen := map[string]bool{}
	for skip := 0; ; {
		v := url.Values{"companyId": {a.opts.CompanyID}, "appId": {a.opts.AppID}, "skip": {strconv.Itoa(skip)}, "limit": {strconv.Itoa(limit)}}
		if q.OnlyInstalled {
			v.Set("isInstalled", "true")
		}
		if q.Name != "" {
			v.Set("query", q.Name)
		}
		r, err := a.client.do(ctx, call{op: OpGetInstalledLocations, method: http.MethodGet, path: "/oauth/installedLocations", query: v, idempotent: true})
		if err != nil {
			return nil, fmt.Errorf("cannot list the locations of company %s: %w", a.opts.CompanyID, err)
		}
		var page ghlwire.InstalledLocationsResponse
		if err := decodeInto(OpGetInstalledLocations, r, &page); err != nil {
			return nil, err
		}
		fresh := 0
		for _, l := range page.Locations {
			if l.ID != "" && !seen[l.ID] {
				seen[l.ID] = true
				out = append(out, l)
				fresh++
			}
		}
		skip += len(page.Locations)
		if len(page.Locations) < limit || skip >= page.Count {
			return out, nil
		}
		if fresh == 0 {
			return nil, &RepeatedCursorError{Op: OpGetInstalledLocations, Cursor: "skip=" + strconv.Itoa(skip-len(page.Locations))}
		}
	}
}

// ErrMintRefused: HighLevel refused to mint a token for the location (400 or 403), as it does
// for a location the app is not installed on or one outside the company.
var ErrMintRefused = errors.New("location token refused")

// MintLocationToken mints an access token for the location from the Company token. It checks
// that the answer names the location asked for (a token of another location must never serve
// this one), and returns it with its expiry and scopes; it has no refresh token. A refusal
// matches ErrMintRefused (and the *APIError's sentinel).
func (a *Agency) MintLocationToken(ctx context.Context, location string) (Token, error) {
	if err := requireID(OpGetLocationToken, "location id", location); err != nil {
		return Token{}, err
	}
	form := url.Values{"companyId": {a.opts.CompanyID}, "locationId": {location}}
	r, err := a.client.do(ctx, call{op: OpGetLocationToken, method: http.MethodPost, path: "/oauth/locationToken", form: form, idempotent: true})
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusForbidden) {
			return Token{}, fmt.Errorf("cannot mint token for location %s: %w: %w", location, ErrMintRefused, err)
		}
		return Token{}, fmt.Errorf("cannot mint token for location %s: %w", location, err)
	}
	var tr ghlwire.LocationTokenResponse
	if err := decodeInto(OpGetLocationToken, r, &tr); err != nil {
		return Token{}, err
	}
	if tr.AccessToken == "" {
		return Token{}, &OpError{Op: OpGetLocationToken, Kind: ErrDecode, Detail: "answer has no access_token"}
	}
	if tr.LocationID != "" && tr.LocationID != location {
		return Token{}, &OpError{Op: OpGetLocationToken, Kind: ErrDecode, Detail: fmt.Sprintf("asked for location %s, answer is for %s", location, tr.LocationID)}
	}
	ttl := time.Duration(tr.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = 86399 * time.Second // the documented lifetime of every access token
	}
	return Token{AccessToken: secret.New(tr.AccessToken), TokenType: "Bearer", Expiry: a.opts.Clock().Add(ttl),
		Scopes: strings.Fields(tr.Scope), LocationID: location, UserType: ghlwire.UserTypeLocation,
		CompanyID: a.opts.CompanyID, UserID: tr.UserID}, nil
}

// IsWrongLocation reports whether err is HighLevel's 403 for a token used on another location's
// data (ghlwire.MsgNoLocationAccess). A multi-location service must never see it: it means a
// location's client holds another location's credentials, or a record crossed locations.
func IsWrongLocation(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
		return false
	}
	for _, m := range ae.Messages {
		if m == ghlwire.MsgNoLocationAccess {
			return true
		}
	}
	return false
}
