package ghlsim

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ptsync/apiclient/ghlwire"
)

// companyHarness is a company of n installed locations on a real listener, with a Company
// token holding every agency scope.
type companyHarness struct {
	t     *testing.T
	co    *Company
	base  string
	agent string // the Company access token
	clock *fakeClock
}

func newCompanyHarness(t *testing.T, n int, o CompanyOptions) *companyHarness {
	t.Helper()
	clock := newClock()
	if o.Now == nil {
		o.Now = clock.Now
	}
	if o.Limits == (Limits{}) {
		o.Limits.Disabled = true
	}
	co := NewCompany(o)
	for i := 0; i < n; i++ {
		s, err := co.AddLocation(Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := co.Install(s.LocationID()); err != nil {
			t.Fatal(err)
		}
	}
	base, err := co.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { co.Close() })
	return &companyHarness{t: t, co: co, base: base, agent: co.IssueCompanyToken().AccessToken, clock: clock}
}

// as returns a harness that calls the company's listener with token.
func (c *companyHarness) as(token string) *harness {
	return &harness{t: c.t, sim: c.co.Locations()[0], base: c.base, token: token, clock: c.clock}
}

// form posts a form with token and the Version header.
func (c *companyHarness) form(path, token string, f url.Values) resp {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Version", ghlwire.APIVersion)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: data}
}

func (c *companyHarness) mint(loc string) (ghlwire.LocationTokenResponse, resp) {
	c.t.Helper()
	r := c.form(pathLocationToken, c.agent, url.Values{"companyId": {c.co.ID()}, "locationId": {loc}})
	var out ghlwire.LocationTokenResponse
	if r.status == 200 {
		r.decode(c.t, &out)
	}
	return out, r
}

func (c *companyHarness) installed(query string) ghlwire.InstalledLocationsResponse {
	c.t.Helper()
	r := c.as(c.agent).call("GET", pathInstalledLocations+"?companyId="+c.co.ID()+"&appId="+c.co.AppID()+query, nil)
	if r.status != 200 {
		c.t.Fatalf("installedLocations%s: %d %s", query, r.status, r.body)
	}
	var out ghlwire.InstalledLocationsResponse
	r.decode(c.t, &out)
	return out
}

// The agency install: an authorization code exchanged with user_type=Company gives a Company
// pair (no locationId, approvedLocations = where the app is installed); its refresh rotates
// and the spent refresh token is refused.
func TestCompanyCodeExchangeGivesAgencyPair(t *testing.T) {
	c := newCompanyHarness(t, 3, CompanyOptions{})
	redirect := "http://127.0.0.1:1/cb"
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(
		c.base + "/v2/oauth/chooselocation?response_type=code&client_id=sim-client-id&redirect_uri=" + url.QueryEscape(redirect) +
			"&scope=" + url.QueryEscape(strings.Join(AgencyScopes(), " ")))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	code := loc.Query().Get("code")
	token := func(f url.Values) (ghlwire.TokenResponse, resp) {
		f.Set("client_id", "sim-client-id")
		f.Set("client_secret", "sim-client-secret")
		r := c.form("/oauth/token", "", f)
		var tr ghlwire.TokenResponse
		if r.status == 200 {
			r.decode(t, &tr)
		}
		return tr, r
	}
	tr, r := token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "user_type": {"Company"}, "redirect_uri": {redirect}})
	if r.status != 200 {
		t.Fatalf("exchange: %d %s", r.status, r.body)
	}
	if tr.UserType != "Company" || tr.CompanyID != c.co.ID() || tr.LocationID != "" || tr.RefreshToken == "" || len(tr.ApprovedLocations) != 3 {
		t.Fatalf("company token response = %+v", tr)
	}
	if !strings.Contains(tr.Scope, "oauth.write") {
		t.Fatalf("scope %q lacks oauth.write", tr.Scope)
	}
	next, r := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}, "user_type": {"Company"}})
	if r.status != 200 || next.UserType != "Company" || next.RefreshToken == tr.RefreshToken {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	if _, r := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}); r.status != 400 || r.errBody(t).Error != "invalid_grant" {
		t.Fatalf("reused refresh token: %d %s; want 400 invalid_grant", r.status, r.body)
	}
	if _, r := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next.RefreshToken}, "user_type": {"Agency"}}); r.status != 422 {
		t.Fatalf("bad user_type: %d %s; want 422", r.status, r.body)
	}
}

// GET /oauth/installedLocations pages through the company's locations with their install
// state, filters on isInstalled, name and locationId, and refuses what the spec refuses.
func TestInstalledLocations(t *testing.T) {
	c := newCompanyHarness(t, 5, CompanyOptions{})
	extra, _ := c.co.AddLocation(Options{Name: "Downtown Gym"})
	all := c.installed("")
	if all.Count != 6 || len(all.Locations) != 6 {
		t.Fatalf("all: count %d, %d rows; want 6", all.Count, len(all.Locations))
	}
	inst := c.installed("&isInstalled=true&limit=2&skip=4")
	if inst.Count != 5 || len(inst.Locations) != 1 || inst.Locations[0].ID != "simLocation000000005" || inst.Locations[0].InstalledAt == "" {
		t.Fatalf("installed page 3: %+v", inst)
	}
	if got := c.installed("&isInstalled=false"); got.Count != 1 || got.Locations[0].ID != extra.LocationID() || got.Locations[0].IsInstalled {
		t.Fatalf("not installed: %+v", got)
	}
	if got := c.installed("&query=downtown"); got.Count != 1 || got.Locations[0].Name != "Downtown Gym" {
		t.Fatalf("query: %+v", got)
	}
	loc1, _ := c.mint("simLocation000000001")
	for _, tc := range []struct {
		name, token, query string
		status             int
		msg                string
	}{
		{"no company", c.agent, "?appId=" + c.co.AppID(), 422, "companyId should not be empty"},
		{"other company", c.agent, "?companyId=x&appId=" + c.co.AppID(), 403, "does not have access to this company"},
		{"other app", c.agent, "?companyId=" + c.co.ID() + "&appId=x", 403, "this app"},
		{"bad limit", c.agent, "?companyId=" + c.co.ID() + "&appId=" + c.co.AppID() + "&limit=-1", 422, "limit"},
		{"location token", loc1.AccessToken, "?companyId=" + c.co.ID() + "&appId=" + c.co.AppID(), 401, ghlwire.MsgAuthClass},
		{"unknown token", "nope", "?companyId=" + c.co.ID() + "&appId=" + c.co.AppID(), 401, ghlwire.MsgInvalidToken},
		{"scope", c.co.IssueCompanyToken("contacts.readonly").AccessToken, "?companyId=" + c.co.ID() + "&appId=" + c.co.AppID(), 401, ghlwire.MsgScopeNotAuthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.as(tc.token).call("GET", pathInstalledLocations+tc.query, nil)
			if r.status != tc.status || !strings.Contains(strings.Join(r.errBody(t).Messages(), " "), tc.msg) {
				t.Fatalf("%d %s; want %d %q", r.status, r.body, tc.status, tc.msg)
			}
		})
	}
}

// POST /oauth/locationToken mints, per installed location, a token without refresh token
// that opens that location's API and no other's; an uninstalled location is refused.
func TestLocationTokenMinting(t *testing.T) {
	c := newCompanyHarness(t, 2, CompanyOptions{})
	a, b := c.co.Locations()[0], c.co.Locations()[1]
	a.Seed(3)
	b.Seed(4)
	ta, r := c.mint(a.LocationID())
	if r.status != 200 || ta.LocationID != a.LocationID() || ta.ExpiresIn != 86399 || !strings.Contains(string(r.body), `"userId"`) {
		t.Fatalf("mint: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "refresh_token") {
		t.Fatalf("a minted location token came with a refresh token: %s", r.body)
	}
	h := c.as(ta.AccessToken)
	if got := h.call("GET", "/contacts/?locationId="+a.LocationID(), nil); got.status != 200 {
		t.Fatalf("list with the minted token: %d %s", got.status, got.body)
	}
	var list ghlwire.ListContactsResponse
	h.call("GET", "/contacts/?locationId="+a.LocationID(), nil).decode(t, &list)
	if list.Count != 3 {
		t.Fatalf("location A lists %d contacts; want its own 3", list.Count)
	}
	if got := c.co.Counters().LocationTokens; got != 1 {
		t.Fatalf("LocationTokens = %d; want 1", got)
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		token  string
		status int
	}{
		{"other company", url.Values{"companyId": {"x"}, "locationId": {a.LocationID()}}, c.agent, 403},
		{"no location", url.Values{"companyId": {c.co.ID()}}, c.agent, 422},
		{"unknown location", url.Values{"companyId": {c.co.ID()}, "locationId": {"nowhere"}}, c.agent, 400},
		{"location token", url.Values{"companyId": {c.co.ID()}, "locationId": {a.LocationID()}}, ta.AccessToken, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := c.form(pathLocationToken, tc.token, tc.form); r.status != tc.status {
				t.Fatalf("%d %s; want %d", r.status, r.body, tc.status)
			}
		})
	}
	c.clock.Advance(24 * time.Hour)
	if got := h.call("GET", "/contacts/?locationId="+a.LocationID(), nil); got.status != 401 {
		t.Fatalf("after a day the minted token answers %d; want 401", got.status)
	}
}

// A request with location A's token that names location B (query, body, or a contact of B)
// is refused 403 and counted on A; B's data is untouched and B counts nothing.
func TestWrongLocationRefusedAndCounted(t *testing.T) {
	c := newCompanyHarness(t, 2, CompanyOptions{})
	a, b := c.co.Locations()[0], c.co.Locations()[1]
	idB := b.Seed(1)[0]
	ta, _ := c.mint(a.LocationID())
	h := c.as(ta.AccessToken)
	str := func(v string) *string { return &v }
	for _, tc := range []struct {
		name, method, path string
		body               any
		write              bool
	}{
		{"list", "GET", "/contacts/?locationId=" + b.LocationID(), nil, false},
		{"search", "POST", "/contacts/search", ghlwire.SearchRequest{LocationID: b.LocationID(), PageLimit: 10}, false},
		{"create", "POST", "/contacts/", ghlwire.ContactInput{LocationID: b.LocationID(), FirstName: str("X")}, true},
		{"get", "GET", "/contacts/" + idB, nil, false},
		{"update", "PUT", "/contacts/" + idB, ghlwire.ContactInput{City: str("Elsewhere")}, true},
		{"task", "POST", "/contacts/" + idB + "/tasks", ghlwire.TaskInput{Title: str("t"), DueDate: str("2026-07-01T00:00:00Z"), Completed: new(bool)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call(tc.method, tc.path, tc.body)
			if r.status != 403 || r.errBody(t).Messages()[0] != ghlwire.MsgNoLocationAccess {
				t.Fatalf("%d %s; want 403 %q", r.status, r.body, ghlwire.MsgNoLocationAccess)
			}
		})
	}
	ca, cb := a.Counters(), b.Counters()
	if ca.WrongLocation != 6 || ca.RefusedWrites != 3 || ca.Writes != 0 {
		t.Fatalf("A counters: wrongLocation %d refusedWrites %d writes %d; want 6, 3, 0", ca.WrongLocation, ca.RefusedWrites, ca.Writes)
	}
	if cb.Total != 0 || c.co.WrongLocationRequests() != 6 {
		t.Fatalf("B saw %d requests, company wrong-location %d; want 0 and 6", cb.Total, c.co.WrongLocationRequests())
	}
	if got, _ := b.Contact(idB); got.City == "Elsewhere" || len(b.Tasks(idB)) != len(b.Snapshot().Contacts[0].Tasks) {
		t.Fatalf("B's contact changed: %+v", got)
	}
	if r := h.call("GET", "/contacts/nosuchcontact", nil); r.status != 404 {
		t.Fatalf("a contact no location holds: %d; want 404", r.status)
	}
	if r := c.as(c.agent).call("GET", "/contacts/?locationId="+a.LocationID(), nil); r.status != 401 || r.errBody(t).Messages()[0] != ghlwire.MsgAuthClass {
		t.Fatalf("company token on contacts: %d %s; want 401 authClass", r.status, r.body)
	}
}

// Each location has its own burst budget: spending A's leaves B's whole.
func TestLocationsHaveTheirOwnLimits(t *testing.T) {
	c := newCompanyHarness(t, 2, CompanyOptions{Limits: Limits{BurstMax: 3, BurstInterval: time.Hour}})
	a, b := c.co.Locations()[0], c.co.Locations()[1]
	ha, hb := c.as(a.IssuePIT()), c.as(b.IssuePIT())
	for i := 0; i < 3; i++ {
		if r := ha.call("GET", "/contacts/?locationId="+a.LocationID(), nil); r.status != 200 {
			t.Fatalf("A request %d: %d", i, r.status)
		}
	}
	if r := ha.call("GET", "/contacts/?locationId="+a.LocationID(), nil); r.status != 429 {
		t.Fatalf("A's fourth request: %d; want 429", r.status)
	}
	if r := hb.call("GET", "/contacts/?locationId="+b.LocationID(), nil); r.status != 200 || r.header.Get("X-RateLimit-Remaining") != "2" {
		t.Fatalf("B after A's burst: %d remaining %s; want 200 and 2", r.status, r.header.Get("X-RateLimit-Remaining"))
	}
}

// hookSink is a webhook receiver that verifies each delivery's signature.
type hookSink struct {
	mu     sync.Mutex
	events []ghlwire.AppEvent
	bad    int
}

func (h *hookSink) handler(pub ed25519.PublicKey) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sig, _ := base64.StdEncoding.DecodeString(r.Header.Get(ghlwire.HeaderSignature))
		h.mu.Lock()
		defer h.mu.Unlock()
		if !ed25519.Verify(pub, body, sig) {
			h.bad++
			w.WriteHeader(401)
			return
		}
		var ev ghlwire.AppEvent
		json.Unmarshal(body, &ev)
		h.events = append(h.events, ev)
	}
}

// Installing and uninstalling emit signed AppInstall / AppUninstall webhooks shaped as the
// docs show them; an uninstall kills the location's tokens and refuses minting, keeps its
// data, and a later install lets minting work again.
func TestInstallUninstallWebhooks(t *testing.T) {
	c := newCompanyHarness(t, 1, CompanyOptions{})
	sink := &hookSink{}
	srv := httptest.NewServer(sink.handler(c.co.WebhookPublicKey()))
	defer srv.Close()
	c.co.SetWebhookURL(srv.URL)
	loc := c.co.Locations()[0]
	loc.Seed(2)
	tok, _ := c.mint(loc.LocationID())
	oauth := loc.IssueToken()

	d, err := c.co.Uninstall(loc.LocationID())
	if err != nil || d.Status != 200 || d.Skipped {
		t.Fatalf("uninstall delivery %+v, %v", d, err)
	}
	if r := c.as(tok.AccessToken).call("GET", "/contacts/?locationId="+loc.LocationID(), nil); r.status != 401 {
		t.Fatalf("minted token after uninstall: %d; want 401", r.status)
	}
	if r := c.as(oauth.AccessToken).call("GET", "/contacts/?locationId="+loc.LocationID(), nil); r.status != 401 {
		t.Fatalf("oauth token after uninstall: %d; want 401", r.status)
	}
	if _, r := c.mint(loc.LocationID()); r.status != 400 || c.co.Counters().LocationTokensRefused != 1 {
		t.Fatalf("mint after uninstall: %d %s; want 400", r.status, r.body)
	}
	if got := c.installed("&locationId=" + loc.LocationID()); got.Locations[0].IsInstalled {
		t.Fatalf("listing still says installed: %+v", got)
	}
	if loc.ContactCount() != 2 {
		t.Fatalf("uninstall lost data: %d contacts", loc.ContactCount())
	}
	if d, _ := c.co.Uninstall(loc.LocationID()); !d.Skipped {
		t.Fatalf("a second uninstall sent a webhook: %+v", d)
	}
	added, _ := c.co.AddLocation(Options{})
	if _, err := c.co.Install(added.LocationID()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.co.Install(loc.LocationID()); err != nil {
		t.Fatal(err)
	}
	if _, r := c.mint(loc.LocationID()); r.status != 200 {
		t.Fatalf("mint after reinstall: %d %s", r.status, r.body)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	var types []string
	for _, ev := range sink.events {
		types = append(types, ev.Type+" "+ev.LocationID)
		if ev.AppID != "sim" || ev.WebhookID == "" || ev.Timestamp == "" {
			t.Errorf("event lacks appId or envelope: %+v", ev)
		}
	}
	want := []string{"UNINSTALL " + loc.LocationID(), "INSTALL " + added.LocationID(), "INSTALL " + loc.LocationID()}
	if sink.bad != 0 || !slices.Equal(types, want) {
		t.Fatalf("deliveries %v (bad signatures %d); want %v", types, sink.bad, want)
	}
	if ev := sink.events[1]; ev.CompanyID != c.co.ID() || ev.UserID == "" || ev.CompanyName == "" {
		t.Fatalf("install event %+v lacks companyId/userId/companyName", ev)
	}
}

// The control surface: add a location (installed when the company installs to future
// locations), seed it through /_sim/locations/{id}/, uninstall it, read the counters.
func TestCompanyControlSurface(t *testing.T) {
	c := newCompanyHarness(t, 1, CompanyOptions{})
	h := c.as("")
	if r := h.call("POST", "/_sim/company/install-future?on=true", nil); r.status != 200 {
		t.Fatalf("install-future: %d %s", r.status, r.body)
	}
	r := h.call("POST", "/_sim/company/locations", newLocationJSON{ID: "locFromControl000001", Name: "North", Seed: 4})
	var made companyLocation
	r.decode(t, &made)
	if r.status != 201 || made.ID != "locFromControl000001" || !made.Installed {
		t.Fatalf("add location: %d %s", r.status, r.body)
	}
	if r := h.call("POST", "/_sim/company/locations", newLocationJSON{ID: "locFromControl000001"}); r.status != 409 {
		t.Fatalf("duplicate location: %d; want 409", r.status)
	}
	var snap Snapshot
	h.call("GET", "/_sim/locations/locFromControl000001/snapshot", nil).decode(t, &snap)
	if snap.LocationID != "locFromControl000001" || len(snap.Contacts) != 4 {
		t.Fatalf("location snapshot: %s with %d contacts", snap.LocationID, len(snap.Contacts))
	}
	if r := h.call("POST", "/_sim/company/locations/locFromControl000001/uninstall", nil); r.status != 200 || c.co.Installed("locFromControl000001") {
		t.Fatalf("uninstall: %d %s", r.status, r.body)
	}
	if r := h.call("POST", "/_sim/company/locations/nowhere/install", nil); r.status != 404 {
		t.Fatalf("install unknown: %d; want 404", r.status)
	}
	c.mint("locFromControl000001")
	var ctr companyCounters
	h.call("GET", "/_sim/company/counters", nil).decode(t, &ctr)
	if ctr.Company.LocationTokensRefused != 1 || len(ctr.Locations) != 2 {
		t.Fatalf("counters: %+v", ctr)
	}
	var desc companyJSON
	h.call("GET", "/_sim/company", nil).decode(t, &desc)
	key, _ := base64.StdEncoding.DecodeString(desc.WebhookPublicKey)
	if len(desc.Locations) != 2 || !ed25519.PublicKey(key).Equal(c.co.WebhookPublicKey()) {
		t.Fatalf("describe: %+v", desc)
	}
}

// A Server made by New is a company of one: the agency routes list and mint for it, and its
// own counters see the OAuth and agency requests.
func TestSingleServerIsCompanyOfOne(t *testing.T) {
	h := newHarness(t, Options{})
	co := h.sim.Company()
	agent := co.IssueCompanyToken().AccessToken
	r := (&harness{t: t, base: h.base, token: agent}).call("GET", pathInstalledLocations+"?companyId="+co.ID()+"&appId="+co.AppID(), nil)
	var got ghlwire.InstalledLocationsResponse
	r.decode(t, &got)
	if r.status != 200 || got.Count != 1 || got.Locations[0].ID != h.sim.LocationID() || !got.Locations[0].IsInstalled {
		t.Fatalf("installed: %d %s", r.status, r.body)
	}
	if n := h.sim.Counters().Requests["GET "+pathInstalledLocations]; n != 1 {
		t.Fatalf("the location counted %d agency requests; want 1", n)
	}
}
