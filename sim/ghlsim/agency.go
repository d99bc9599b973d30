package ghlsim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"ptsync/apiclient/ghlwire"
)

// The agency routes of apps/oauth.json. Both demand a Company token (security
// Agency-Access-Only) and the Version header, and count against the company's own rate budget,
// since HighLevel limits each app per resource, a Company being one.
const (
	pathInstalledLocations = "/oauth/installedLocations"
	pathLocationToken      = "/oauth/locationToken"
)

// errNoCompanyAccess refuses a companyId that is not the token's company. The spec lists no
// 403 for these routes; the message mirrors MsgNoLocationAccess (a simulator choice).
var errNoCompanyAccess = &Error{Status: 403, Messages: []string{"The token does not have access to this company."}}

// serveAgency runs the agency pipeline: count, authenticate (a Company token), rate-limit the
// company, check Version and scope, then the operation.
func (co *Company) serveAgency(w http.ResponseWriter, r *http.Request) {
	co.ctr.request(r.Method + " " + r.URL.Path)
	now := co.now()
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	want, scope := http.MethodGet, ghlwire.ScopeOAuthReadonly
	if r.URL.Path == pathLocationToken {
		want, scope = http.MethodPost, ghlwire.ScopeOAuthWrite
	}
	if r.Method != want {
		co.writeErr(w, &Error{Status: 404, Messages: []string{"Cannot " + r.Method + " " + r.URL.Path}})
		return
	}
	tok, e := co.auth.authenticate(r, now)
	if e == nil && tok.userType != userCompany {
		co.ctr.with(func(c *Counters) { c.AuthClassRefused++ })
		e = errAuthClass
	} else if e != nil {
		co.ctr.unauthorized(false)
	}
	if e != nil {
		co.limits.peek(co.companyKey(), now, w.Header())
		co.writeErr(w, e)
		return
	}
	if kind := co.limits.take(co.companyKey(), now, w.Header()); kind != "" {
		co.ctr.rateLimited(kind, false)
		co.writeErr(w, &Error{Status: 429, Messages: []string{ghlwire.MsgTooManyRequests}})
		return
	}
	if v := r.Header.Get(ghlwire.HeaderVersion); v != ghlwire.APIVersion {
		co.writeErr(w, errBadRequest("version header is missing or invalid: expected "+ghlwire.APIVersion))
		return
	}
	if !tok.scopes[scope] {
		co.ctr.scopeRefused(false)
		co.writeErr(w, &Error{Status: 401, Messages: []string{ghlwire.MsgScopeNotAuthorized}})
		return
	}
	if want == http.MethodGet {
		co.hInstalledLocations(w, r)
		return
	}
	co.hLocationToken(w, r, tok, now)
}

// installedQuery is GET /oauth/installedLocations' query, checked.
type installedQuery struct {
	skip, limit int
	installed   *bool
	name        string // lower-cased substring of the name
	location    string
}

// parseInstalledQuery checks the query: companyId and appId are required and must be the
// token's company and this app; skip and limit are non-negative integers (defaults 0 and 20);
// isInstalled is a boolean.
func (co *Company) parseInstalledQuery(q map[string][]string) (installedQuery, *Error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	out := installedQuery{limit: 20, name: strings.ToLower(strings.TrimSpace(get("query"))), location: get("locationId")}
	var msgs []string
	for _, k := range []string{"companyId", "appId"} {
		if get(k) == "" {
			msgs = append(msgs, k+" should not be empty")
		}
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"skip", &out.skip}, {"limit", &out.limit}} {
		if v := get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				msgs = append(msgs, p.name+" must be a number string")
			} else {
				*p.dst = n
			}
		}
	}
	switch v := get("isInstalled"); v {
	case "":
	case "true", "false":
		b := v == "true"
		out.installed = &b
	default:
		msgs = append(msgs, "isInstalled must be a boolean value")
	}
	if len(msgs) > 0 {
		return out, errUnprocessable(msgs...)
	}
	if get("companyId") != co.opts.CompanyID {
		return out, errNoCompanyAccess
	}
	if get("appId") != co.opts.AppID {
		return out, &Error{Status: 403, Messages: []string{"The token does not have access to this app."}}
	}
	return out, nil
}

// hInstalledLocations lists the company's locations with the app's install state on each,
// in the order they were added. count is the number that match before skip and limit.
func (co *Company) hInstalledLocations(w http.ResponseWriter, r *http.Request) {
	q, e := co.parseInstalledQuery(r.URL.Query())
	if e != nil {
		co.writeErr(w, e)
		return
	}
	co.mu.RLock()
	out := ghlwire.InstalledLocationsResponse{Locations: []ghlwire.InstalledLocation{}, InstallToFutureLocations: co.future}
	var match []ghlwire.InstalledLocation
	for _, id := range co.order {
		e := co.locs[id]
		row := ghlwire.InstalledLocation{ID: id, Name: e.s.opts.Name, Address: e.s.opts.Address, IsInstalled: e.installed}
		if e.installed {
			row.VersionID, row.InstalledAt = "simVersion", isoMillis(e.installedAt)
		}
		if (q.installed == nil || *q.installed == e.installed) && (q.location == "" || q.location == id) &&
			(q.name == "" || strings.Contains(strings.ToLower(row.Name), q.name)) {
			match = append(match, row)
		}
	}
	co.mu.RUnlock()
	out.Count = len(match)
	if q.skip < len(match) {
		out.Locations = append(out.Locations, match[q.skip:min(len(match), q.skip+q.limit)]...)
	}
	co.writeJSON(w, 200, out)
}

// hLocationToken mints a location access token from the Company token: form companyId and
// locationId, the location in the company and the app installed on it. The token has the
// Company token's scopes, expires like every access token and comes without a refresh token.
func (co *Company) hLocationToken(w http.ResponseWriter, r *http.Request, company *accessToken, now time.Time) {
	f, e := formBody(r)
	if e != nil {
		co.writeErr(w, e)
		return
	}
	var msgs []string
	for _, k := range []string{"companyId", "locationId"} {
		if f.Get(k) == "" {
			msgs = append(msgs, k+" should not be empty")
		}
	}
	if len(msgs) > 0 {
		co.writeErr(w, errUnprocessable(msgs...))
		return
	}
	if f.Get("companyId") != co.opts.CompanyID {
		co.writeErr(w, errNoCompanyAccess)
		return
	}
	loc := f.Get("locationId")
	if !co.Installed(loc) {
		co.ctr.with(func(c *Counters) { c.LocationTokensRefused++ })
		msg := "Location not found in this company."
		if co.Location(loc) != nil {
			msg = "The app is not installed on this location."
		}
		co.writeErr(w, errBadRequest(msg))
		return
	}
	at := "sim-at-" + randomHex(24)
	scopes := make([]string, 0, len(company.scopes))
	co.auth.mu.Lock()
	for s := range company.scopes {
		scopes = append(scopes, s)
	}
	co.auth.access[at] = &accessToken{scopes: scopeSet(scopes), location: loc, userType: userLocation, expires: now.Add(co.opts.AccessTokenTTL)}
	co.auth.mu.Unlock()
	co.ctr.with(func(c *Counters) { c.LocationTokens++ })
	slices.Sort(scopes)
	co.writeJSON(w, 200, ghlwire.LocationTokenResponse{
		AccessToken: at, TokenType: "Bearer", ExpiresIn: int(co.opts.AccessTokenTTL/time.Second) - 1,
		Scope: strings.Join(scopes, " "), LocationID: loc, PlanID: "simPlan", UserID: co.opts.UserID,
		AppID: co.opts.AppID, VersionID: "simVersion",
	})
}
