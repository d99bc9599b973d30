package ghlsim

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"ptsync/apiclient/ghlwire"
)

// serveOAuth handles POST /oauth/token and the auto-approving authorize page for every
// location of the company and for the company itself (user_type=Company).
func (co *Company) serveOAuth(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/oauth/token" {
		co.serveAuthorize(w, r)
		return
	}
	co.ctr.request(r.Method + " /oauth/token")
	if r.Method != http.MethodPost {
		co.writeErr(w, &Error{Status: 404, Messages: []string{"Cannot " + r.Method + " /oauth/token"}})
		return
	}
	if co.oauthFault(w, r) {
		return
	}
	f, ok := co.tokenForm(w, r)
	if !ok {
		return
	}
	now := co.now()
	co.auth.mu.Lock()
	var installed string // a location the exchange installed the app on
	switch f.Get("grant_type") {
	case "authorization_code":
		installed = co.grantCodeLocked(w, f, now)
	case "refresh_token":
		co.grantRefreshLocked(w, f, now)
	default:
		co.oauthErr(w, 400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token", "Unsupported grant type")
	}
	co.auth.mu.Unlock()
	if installed != "" {
		// After the answer, without a lock: a receiver may call back into the simulator.
		go co.sendAppEvent(co.installEvent(installed, true))
	}
}

// oauthFault applies the 5xx, reset and latency faults to the token endpoint when
// Faults.IncludeOAuth is set; it reports whether it answered.
func (co *Company) oauthFault(w http.ResponseWriter, r *http.Request) bool {
	if !co.faults.includeOAuth() {
		return false
	}
	f := co.faults.decide()
	if f.latency > 0 && !sleepCtx(r, f.latency) {
		return true
	}
	switch f.kind {
	case Fault500, Fault502, Fault503:
		co.ctr.fault(f.kind)
		co.writeErr(w, &Error{Status: f.kind.status(), Messages: []string{http.StatusText(f.kind.status())}})
		return true
	case FaultReset:
		co.ctr.fault(f.kind)
		resetConnection(w)
		return true
	}
	return false
}

// tokenForm parses and checks the token request's form: its content type, the required
// fields, user_type's values and the client credentials. false means it answered.
func (co *Company) tokenForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	f, e := formBody(r)
	if e != nil {
		co.writeErr(w, e)
		return nil, false
	}
	var msgs []string
	for _, k := range []string{"client_id", "client_secret", "grant_type"} {
		if f.Get(k) == "" {
			msgs = append(msgs, k+" should not be empty")
		}
	}
	if ut := f.Get("user_type"); ut != "" && ut != userCompany && ut != userLocation {
		msgs = append(msgs, "user_type must be one of the following values: Company, Location")
	}
	if len(msgs) > 0 {
		co.writeErr(w, errUnprocessable(msgs...))
		return nil, false
	}
	if f.Get("client_id") != co.opts.ClientID || f.Get("client_secret") != co.opts.ClientSecret {
		co.ctr.tokenRefused()
		co.oauthErr(w, 401, ghlwire.OAuthErrInvalidClient, "client authentication failed", "Invalid client credentials")
		return nil, false
	}
	return f, true
}

// grantCodeLocked exchanges an authorization code. user_type=Company gives the Company pair;
// otherwise the pair of the location chosen on the authorize page, installing the app there
// if it was not (the id is returned so the caller sends AppInstall). co.auth.mu is held.
func (co *Company) grantCodeLocked(w http.ResponseWriter, f url.Values, now time.Time) (installed string) {
	c := co.auth.codes[f.Get("code")]
	delete(co.auth.codes, f.Get("code")) // single use, even when the exchange fails below
	if c == nil || !now.Before(c.expires) || (f.Get("redirect_uri") != "" && f.Get("redirect_uri") != c.redirectURI) {
		co.ctr.tokenRefused()
		co.oauthErr(w, 400, ghlwire.OAuthErrInvalidGrant, "authorization code is invalid", "Invalid grant: authorization code is invalid")
		return ""
	}
	if f.Get("user_type") == userCompany {
		co.ctr.tokenGranted(false)
		co.writeJSON(w, 200, co.issueCompanyLocked(c.scopes, now))
		return ""
	}
	s := co.Location(c.location)
	if s == nil {
		s = co.defaultLocation()
	}
	if s == nil {
		co.ctr.tokenRefused()
		co.oauthErr(w, 400, ghlwire.OAuthErrInvalidGrant, "the company has no location to install on", "Invalid grant: no location")
		return ""
	}
	co.mu.Lock()
	if e := co.locs[s.opts.LocationID]; !e.installed {
		e.installed, e.installedAt, installed = true, now, s.opts.LocationID
	}
	co.mu.Unlock()
	co.ctr.tokenGranted(false)
	co.writeJSON(w, 200, s.issueLocked(c.scopes, now))
	return installed
}

// grantRefreshLocked spends a refresh token for a new pair of the same class and location.
// co.auth.mu is held.
func (co *Company) grantRefreshLocked(w http.ResponseWriter, f url.Values, now time.Time) {
	rt := co.auth.refresh[f.Get("refresh_token")]
	var loc *Server
	if rt != nil && rt.userType != userCompany {
		loc = co.Location(rt.location)
	}
	if rt == nil || rt.used || (rt.userType != userCompany && loc == nil) {
		co.ctr.tokenRefused()
		co.oauthErr(w, 400, ghlwire.OAuthErrInvalidGrant, "refresh token is invalid", ghlwire.MsgInvalidRefreshToken)
		return
	}
	rt.used = true
	co.ctr.tokenGranted(true)
	if rt.userType == userCompany {
		co.writeJSON(w, 200, co.issueCompanyLocked(rt.scopes, now))
		return
	}
	co.writeJSON(w, 200, loc.issueLocked(rt.scopes, now))
}

// issueCompanyLocked mints a Company (agency) pair: no locationId, the locations the app is
// installed on as approvedLocations. co.auth.mu is held.
func (co *Company) issueCompanyLocked(scopes []string, now time.Time) ghlwire.TokenResponse {
	at, rt := "sim-at-"+randomHex(24), "sim-rt-"+randomHex(24)
	co.auth.access[at] = &accessToken{scopes: scopeSet(scopes), userType: userCompany, expires: now.Add(co.opts.AccessTokenTTL)}
	co.auth.refresh[rt] = &refreshToken{scopes: scopes, userType: userCompany}
	co.mu.RLock()
	var approved []string
	for _, id := range co.order {
		if co.locs[id].installed {
			approved = append(approved, id)
		}
	}
	future := co.future
	co.mu.RUnlock()
	return ghlwire.TokenResponse{
		AccessToken: at, TokenType: "Bearer", ExpiresIn: int(co.opts.AccessTokenTTL/time.Second) - 1, RefreshToken: rt,
		Scope: strings.Join(scopes, " "), UserType: userCompany, CompanyID: co.opts.CompanyID,
		ApprovedLocations: approved, UserID: co.opts.UserID, PlanID: "simPlan",
		IsBulkInstallation: true, InstallToFutureLocation: future,
	}
}

// IssueCompanyToken installs the app at agency level without the browser and returns the
// token response a real exchange with user_type=Company would. No scopes means
// contacts.readonly, contacts.write, oauth.readonly and oauth.write.
func (co *Company) IssueCompanyToken(scopes ...string) ghlwire.TokenResponse {
	if len(scopes) == 0 {
		scopes = AgencyScopes()
	}
	co.auth.mu.Lock()
	defer co.auth.mu.Unlock()
	return co.issueCompanyLocked(slices.Clone(scopes), co.now())
}

// AgencyScopes returns the scopes an agency install of ptsync needs: the contacts scopes its
// location tokens carry and the oauth scopes of the agency routes.
func AgencyScopes() []string {
	return []string{ghlwire.ScopeContactsReadonly, ghlwire.ScopeContactsWrite, ghlwire.ScopeOAuthReadonly, ghlwire.ScopeOAuthWrite}
}

// serveAuthorize auto-approves GET /v2/oauth/chooselocation (and the SDK's older
// /oauth/chooselocation) and redirects 302 to redirect_uri with a single-use code. The code
// is for the company's first location unless the (simulator-only) locationId parameter
// chooses another, as the location chooser would.
func (co *Company) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	co.ctr.request(r.Method + " " + r.URL.Path)
	q := r.URL.Query()
	var msgs []string
	if q.Get("response_type") != "code" {
		msgs = append(msgs, "response_type must be code")
	}
	if q.Get("client_id") != co.opts.ClientID {
		msgs = append(msgs, "client_id is unknown")
	}
	ru, err := url.Parse(q.Get("redirect_uri"))
	if q.Get("redirect_uri") == "" || err != nil || !ru.IsAbs() {
		msgs = append(msgs, "redirect_uri must be an absolute URL")
	}
	if r.Method != http.MethodGet {
		msgs = append(msgs, "method must be GET")
	}
	if loc := q.Get("locationId"); loc != "" && co.Location(loc) == nil {
		msgs = append(msgs, "locationId is not a location of this company")
	}
	if len(msgs) > 0 {
		co.writeErr(w, &Error{Status: 400, Messages: msgs})
		return
	}
	code := "sim-code-" + randomHex(16)
	co.auth.mu.Lock()
	co.auth.codes[code] = &authCode{scopes: defaultScopes(strings.Fields(q.Get("scope"))), location: q.Get("locationId"),
		redirectURI: q.Get("redirect_uri"), expires: co.now().Add(10 * time.Minute)}
	co.auth.mu.Unlock()
	rq := ru.Query()
	rq.Set("code", code)
	if st := q.Get("state"); st != "" {
		rq.Set("state", st)
	}
	ru.RawQuery = rq.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}
