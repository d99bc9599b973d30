package ghl

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ptsync/internal/secret"
	"ptsync/sim/ghlsim"
)

// agencyEnv is a company simulator with installed locations, ptsync installed at agency level
// through the real authorization-code exchange (user_type=Company), and an Agency over it.
type agencyEnv struct {
	co     *ghlsim.Company
	url    string
	clock  *fakeClock
	sink   *secretSink
	store  *FileTokenStore
	agency *Agency
}

func newAgencyEnv(t *testing.T, installed, notInstalled int, transport http.RoundTripper) *agencyEnv {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	co := ghlsim.NewCompany(ghlsim.CompanyOptions{Now: clock.Now, Seed: 13, Limits: ghlsim.Limits{BurstMax: 1 << 30, BurstInterval: time.Second}})
	for i := 0; i < installed+notInstalled; i++ {
		s, err := co.AddLocation(ghlsim.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Seed(i + 1) // location n holds n contacts: a mix-up shows in the counts
		if i < installed {
			co.Install(s.LocationID())
		}
	}
	srv := httptest.NewServer(co)
	t.Cleanup(srv.Close)
	env := &agencyEnv{co: co, url: srv.URL, clock: clock, sink: newSecretSink(t)}
	id, clientSecret := co.ClientCredentials()
	env.sink.Register(clientSecret)
	env.store = NewFileTokenStore(filepath.Join(t.TempDir(), "tokens.json"))
	in := Install{BaseURL: srv.URL, AuthorizeURL: srv.URL + "/v2/oauth/chooselocation", ClientID: id, ClientSecret: secret.New(clientSecret),
		Scopes: DefaultAgencyScopes(), RedirectURL: "http://127.0.0.1:9/callback"}
	tok, err := in.ExchangeCompany(context.Background(), authorizeCode(t, in))
	if err != nil {
		t.Fatal(err)
	}
	if tok.CompanyID != co.ID() || tok.LocationID != "" || tok.RefreshToken.IsZero() {
		t.Fatalf("company token %v", tok)
	}
	store := sinkStore{env.store, env.sink}
	if err := store.Save(context.Background(), tok.CompanyID, tok); err != nil {
		t.Fatal(err)
	}
	env.agency, err = NewAgency(AgencyOptions{CompanyID: tok.CompanyID, ClientID: id, ClientSecret: secret.New(clientSecret), BaseURL: srv.URL,
		Store: store, Transport: transport, Clock: clock.Now, Logger: env.sink.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// authorizeCode follows the authorize URL as the operator's browser would and returns the code.
func authorizeCode(t *testing.T, in Install) string {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(in.AuthCodeURL("st"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize redirect %q: %v", res.Header.Get("Location"), err)
	}
	return loc.Query().Get("code")
}

// client is a Client for location with creds.
func (e *agencyEnv) client(t *testing.T, location string, creds CredentialSource) *Client {
	t.Helper()
	c, err := New(Options{BaseURL: e.url, LocationID: location, Credentials: creds, Clock: e.clock.Now, Logger: e.sink.Logger(),
		Retry: RetryPolicy{Base: time.Millisecond, Cap: 5 * time.Millisecond, MaxAttempts: 3}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Acceptance (M1): install at agency level, list the 5 installed locations, mint a token for
// each and read each location's own data with it; no request carries another location's token.
func TestAgencyListsAndMintsPerLocation(t *testing.T) {
	env := newAgencyEnv(t, 5, 1, nil)
	ctx := context.Background()
	locs, err := env.agency.InstalledLocations(ctx, InstalledQuery{OnlyInstalled: true, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(locs) != 5 {
		t.Fatalf("installed locations: %d; want 5", len(locs))
	}
	all, err := env.agency.InstalledLocations(ctx, InstalledQuery{})
	if err != nil || len(all) != 6 || all[5].IsInstalled {
		t.Fatalf("all locations: %d (%v), last installed=%v; want 6 with the last not installed", len(all), err, all[len(all)-1].IsInstalled)
	}
	for i, l := range locs {
		src := env.agency.LocationSource(l.ID, nil)
		res, err := env.client(t, l.ID, src).ListContactsPage(ctx, ListParams{Limit: 100})
		if err != nil {
			t.Fatalf("location %s: %v", l.ID, err)
		}
		if res.Count != i+1 {
			t.Fatalf("location %s lists %d contacts; want its own %d", l.ID, res.Count, i+1)
		}
		tok, _ := src.Current(ctx)
		if tok.LocationID != l.ID || !tok.RefreshToken.IsZero() {
			t.Fatalf("minted token %v for %s", tok, l.ID)
		}
		env.sink.Register(tok.AccessToken.Reveal())
	}
	if n := env.co.Counters().LocationTokens; n != 5 {
		t.Fatalf("minted %d tokens; want 5 (one per location)", n)
	}
	if n := env.co.WrongLocationRequests(); n != 0 {
		t.Fatalf("%d requests with a token of the wrong location; want 0", n)
	}
	if env.sink.Lines() == 0 {
		t.Fatal("no log line was checked for secrets")
	}
}

// A location token is minted again before it expires (no refresh token exists for it), and
// again after HighLevel refuses it; a token stored by an earlier process is reused.
func TestLocationTokenReminted(t *testing.T) {
	env := newAgencyEnv(t, 1, 0, nil)
	ctx := context.Background()
	loc := env.co.Locations()[0]
	store := NewFileTokenStore(filepath.Join(t.TempDir(), "minted.json"))
	src := env.agency.LocationSource(loc.LocationID(), store)
	first, err := src.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	env.clock.Add(23*time.Hour + 50*time.Minute) // 10 minutes before expiry: not yet
	if tok, _ := src.Current(ctx); !tok.AccessToken.Equal(first.AccessToken) {
		t.Fatal("minted again 10 minutes before expiry; want the same token until RefreshBefore")
	}
	env.clock.Add(6 * time.Minute)
	second, err := src.Current(ctx)
	if err != nil || second.AccessToken.Equal(first.AccessToken) || !second.Expiry.After(first.Expiry) {
		t.Fatalf("4 minutes before expiry: %v (%v); want a new token", second, err)
	}
	loc.ExpireAccessTokens() // HighLevel drops it early: the next call gets 401 and re-mints
	c := env.client(t, loc.LocationID(), src)
	if _, err := c.ListContactsPage(ctx, ListParams{Limit: 10}); err != nil {
		t.Fatalf("list after the token was dropped: %v", err)
	}
	if n := env.co.Counters().LocationTokens; n != 3 {
		t.Fatalf("minted %d tokens; want 3 (first, before expiry, after the 401)", n)
	}
	again := env.agency.LocationSource(loc.LocationID(), store) // a restarted process
	if _, err := env.client(t, loc.LocationID(), again).ListContactsPage(ctx, ListParams{Limit: 10}); err != nil {
		t.Fatal(err)
	}
	if n := env.co.Counters().LocationTokens; n != 3 {
		t.Fatalf("a restart minted again (%d tokens); want the stored one reused", n)
	}
}

// Uninstall: the listing says isInstalled false, minting is refused (ErrMintRefused, held so
// the company's budget is not spent on every call), and the location's client stops on it.
func TestUninstalledLocationIsRefused(t *testing.T) {
	env := newAgencyEnv(t, 2, 0, nil)
	ctx := context.Background()
	gone := env.co.Locations()[1]
	src := env.agency.LocationSource(gone.LocationID(), nil)
	c := env.client(t, gone.LocationID(), src)
	if _, err := c.ListContactsPage(ctx, ListParams{Limit: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.co.Uninstall(gone.LocationID()); err != nil {
		t.Fatal(err)
	}
	locs, _ := env.agency.InstalledLocations(ctx, InstalledQuery{OnlyInstalled: true})
	if len(locs) != 1 || locs[0].ID == gone.LocationID() {
		t.Fatalf("installed after uninstall: %+v", locs)
	}
	_, err := c.ListContactsPage(ctx, ListParams{Limit: 10})
	if !errors.Is(err, ErrMintRefused) {
		t.Fatalf("list on the uninstalled location: %v; want ErrMintRefused", err)
	}
	if _, err := c.ListContactsPage(ctx, ListParams{Limit: 10}); !errors.Is(err, ErrMintRefused) {
		t.Fatalf("second call: %v; want the held refusal", err)
	}
	if n := env.co.Counters().LocationTokensRefused; n != 1 {
		t.Fatalf("the simulator refused %d mints; want 1 (the refusal is held)", n)
	}
	if _, err := env.agency.MintLocationToken(ctx, "nowhere"); !errors.Is(err, ErrMintRefused) || !errors.Is(err, ErrValidation) {
		t.Fatalf("mint for an unknown location: %v", err)
	}
}

// The Company pair rotates like a location's: a refused Company token is refreshed once, the
// new pair is in the store before use, and a spent refresh token is final.
func TestAgencyCompanyTokenRotates(t *testing.T) {
	env := newAgencyEnv(t, 1, 0, nil)
	ctx := context.Background()
	before, _ := env.store.Load(ctx, env.co.ID())
	env.co.ExpireAccessTokens()
	if _, err := env.agency.InstalledLocations(ctx, InstalledQuery{}); err != nil {
		t.Fatalf("list after the company token expired: %v", err)
	}
	after, _ := env.store.Load(ctx, env.co.ID())
	if after.RefreshToken.Equal(before.RefreshToken) || after.UserType != "Company" || after.LocationID != "" || after.CompanyID != env.co.ID() {
		t.Fatalf("stored pair after refresh: %v (user type %q, company %q)", after, after.UserType, after.CompanyID)
	}
	if n := env.co.Counters().Refreshes; n != 1 {
		t.Fatalf("refreshes: %d; want 1", n)
	}
	if err := env.store.Save(ctx, env.co.ID(), before); err != nil { // an operator restores a stale file
		t.Fatal(err)
	}
	stale, _ := NewAgency(AgencyOptions{CompanyID: env.co.ID(), ClientID: "sim-client-id", ClientSecret: secret.New("sim-client-secret"),
		BaseURL: env.url, Store: env.store, Clock: env.clock.Now})
	env.co.ExpireAccessTokens()
	if _, err := stale.InstalledLocations(ctx, InstalledQuery{}); !errors.Is(err, ErrInvalidGrant) {
		t.Fatalf("with a spent refresh token: %v; want ErrInvalidGrant", err)
	}
}

// A client of location B given location A's credentials is refused by HighLevel (403), and the
// simulator counts it: the figure a multi-location service must keep at zero.
func TestAnotherLocationsTokenIsRefusedAndCounted(t *testing.T) {
	env := newAgencyEnv(t, 2, 0, nil)
	ctx := context.Background()
	a, b := env.co.Locations()[0], env.co.Locations()[1]
	wrong := env.client(t, b.LocationID(), env.agency.LocationSource(a.LocationID(), nil))
	_, err := wrong.ListContactsPage(ctx, ListParams{Limit: 10})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || !IsWrongLocation(err) || !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("B's list with A's token: %v; want 403", err)
	}
	if n := a.Counters().WrongLocation; n != 1 || env.co.WrongLocationRequests() != 1 {
		t.Fatalf("counted %d on A, %d in all; want 1", n, env.co.WrongLocationRequests())
	}
}

// The listing's paging is guarded: a server that ignores skip ends the walk with
// ErrRepeatedCursor instead of looping; a mint answered for another location is refused.
func TestAgencyGuardsBadAnswers(t *testing.T) {
	bad := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/oauth/installedLocations":
			w.Write([]byte(`{"locations":[{"_id":"L1","name":"a","address":""},{"_id":"L2","name":"b","address":""}],"count":10}`))
		case "/oauth/locationToken":
			w.Write([]byte(`{"access_token":"x","token_type":"Bearer","expires_in":86399,"locationId":"SOMEONE_ELSE","userId":"u"}`))
		default:
			http.NotFound(w, r)
		}
	})
	srv := httptest.NewServer(bad)
	defer srv.Close()
	store := NewFileTokenStore(filepath.Join(t.TempDir(), "t.json"))
	store.Save(context.Background(), "C1", Token{AccessToken: secret.New("at"), RefreshToken: secret.New("rt"), UserType: "Company", Expiry: time.Now().Add(time.Hour)})
	ag, err := NewAgency(AgencyOptions{CompanyID: "C1", ClientID: "app-x", ClientSecret: secret.New("s"), BaseURL: srv.URL, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ag.InstalledLocations(context.Background(), InstalledQuery{PageSize: 2}); !errors.Is(err, ErrRepeatedCursor) {
		t.Fatalf("a server ignoring skip: %v; want ErrRepeatedCursor", err)
	}
	if _, err := ag.MintLocationToken(context.Background(), "MINE"); err == nil || !strings.Contains(err.Error(), "SOMEONE_ELSE") {
		t.Fatalf("a token for another location: %v; want refused", err)
	}
}

// Mints are serialized per location: 20 callers of each of 3 fresh sources at once cause one
// mint per location, and every caller gets its own location's token.
func TestLocationSourceMintsOncePerLocation(t *testing.T) {
	env := newAgencyEnv(t, 3, 0, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for _, loc := range env.co.Locations() {
		src := env.agency.LocationSource(loc.LocationID(), nil)
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok, err := src.Current(context.Background())
				if err == nil && tok.LocationID != loc.LocationID() {
					err = errors.New("a token of " + tok.LocationID + " for " + loc.LocationID())
				}
				if err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := env.co.Counters().LocationTokens; n != 3 {
		t.Fatalf("60 concurrent callers minted %d tokens; want 3", n)
	}
}
