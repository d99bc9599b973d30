package ghlsim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"ptsync/apiclient/ghlwire"
)

type accessToken struct {
	scopes   map[string]bool
	location string
	expires  time.Time // zero for a PIT
	pit      bool
	uses     int
}

type refreshToken struct {
	scopes   []string
	location string
	used     bool
}

type authCode struct {
	scopes      []string
	redirectURI string
	expires     time.Time
}

// authState holds every token the simulator issued; its own mutex guards it.
type authState struct {
	mu          sync.Mutex
	access      map[string]*accessToken
	refresh     map[string]*refreshToken
	codes       map[string]*authCode
	expireEvery int
}

func newAuthState() *authState {
	return &authState{
		access:  map[string]*accessToken{},
		refresh: map[string]*refreshToken{},
		codes:   map[string]*authCode{},
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

var errInvalidToken = &Error{Status: 401, Messages: []string{ghlwire.MsgInvalidToken}}

// authenticate checks the bearer token and counts its use toward ExpireEvery.
func (a *authState) authenticate(r *http.Request, now time.Time) (*accessToken, *Error) {
	h := r.Header.Get(ghlwire.HeaderAuthorization)
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return nil, errInvalidToken
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.access[tok]
	if t == nil {
		return nil, errInvalidToken
	}
	if !t.pit {
		if !now.Before(t.expires) || (a.expireEvery > 0 && t.uses >= a.expireEvery) {
			return nil, errInvalidToken
		}
		t.uses++
	}
	return t, nil
}

func scopeSet(scopes []string) map[string]bool {
	m := make(map[string]bool, len(scopes))
	for _, s := range scopes {
		m[s] = true
	}
	return m
}

func defaultScopes(scopes []string) []string {
	if len(scopes) == 0 {
		return []string{ghlwire.ScopeContactsReadonly, ghlwire.ScopeContactsWrite}
	}
	return scopes
}

// issueLocked mints an access/refresh pair; a.mu must be held.
func (s *Server) issueLocked(scopes []string, now time.Time) ghlwire.TokenResponse {
	a := s.auth
	at, rt := "sim-at-"+randomHex(24), "sim-rt-"+randomHex(24)
	a.access[at] = &accessToken{scopes: scopeSet(scopes), location: s.opts.LocationID, expires: now.Add(s.opts.AccessTokenTTL)}
	a.refresh[rt] = &refreshToken{scopes: scopes, location: s.opts.LocationID}
	return ghlwire.TokenResponse{
		AccessToken:  at,
		TokenType:    "Bearer",
		ExpiresIn:    int(s.opts.AccessTokenTTL/time.Second) - 1, // HighLevel reports 86399 for a day
		RefreshToken: rt,
		Scope:        strings.Join(scopes, " "),
		UserType:     "Location",
		LocationID:   s.opts.LocationID,
		CompanyID:    s.opts.CompanyID,
		UserID:       s.opts.UserID,
		PlanID:       "simPlan",
	}
}

// IssueToken installs the app without the browser and returns the token response a real
// authorization-code exchange would. No scopes means contacts.readonly and contacts.write.
func (s *Server) IssueToken(scopes ...string) ghlwire.TokenResponse {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	return s.issueLocked(defaultScopes(scopes), s.now())
}

// IssuePIT returns a new Private Integration Token ("pit-" + a uuid-shaped id): it never
// expires, ExpireAccessTokens and ExpireEvery do not touch it, and it cannot be refreshed.
// No scopes means contacts.readonly and contacts.write.
func (s *Server) IssuePIT(scopes ...string) string {
	b := randomHex(16)
	tok := "pit-" + b[:8] + "-" + b[8:12] + "-" + b[12:16] + "-" + b[16:20] + "-" + b[20:]
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	s.auth.access[tok] = &accessToken{scopes: scopeSet(defaultScopes(scopes)), location: s.opts.LocationID, pit: true}
	return tok
}

// ExpireAccessTokens makes every OAuth access token issued so far invalid (401), as if
// their day had passed. Refresh tokens and PITs stay valid.
func (s *Server) ExpireAccessTokens() {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	for k, t := range s.auth.access {
		if !t.pit {
			delete(s.auth.access, k)
		}
	}
}

// ExpireEvery makes each OAuth access token die after n authenticated API calls (0 turns
// it off). PITs are exempt.
func (s *Server) ExpireEvery(n int) {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	s.auth.expireEvery = n
}

// RevokeRefreshTokens makes every refresh token invalid, as an uninstall or a HighLevel-side
// incident would: the next refresh gets invalid_grant.
func (s *Server) RevokeRefreshTokens() {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	for _, t := range s.auth.refresh {
		t.used = true
	}
}

func (s *Server) oauthErr(w http.ResponseWriter, status int, code, desc, msg string) {
	raw, _ := json.Marshal(msg)
	s.writeJSON(w, status, ghlwire.ErrorBody{StatusCode: status, Message: raw, Error: code, ErrorDescription: desc, TraceID: s.traceID()})
}

// serveOAuth handles POST /oauth/token and the auto-approving authorize page.
func (s *Server) serveOAuth(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/oauth/token" {
		s.serveAuthorize(w, r)
		return
	}
	key := r.Method + " /oauth/token"
	s.ctr.request(key)
	if r.Method != http.MethodPost {
		s.writeErr(w, &Error{Status: 404, Messages: []string{"Cannot " + r.Method + " /oauth/token"}})
		return
	}
	if s.faults.includeOAuth() {
		f := s.faults.decide()
		if f.latency > 0 && !sleepCtx(r, f.latency) {
			return
		}
		switch f.kind {
		case Fault500, Fault502, Fault503:
			s.ctr.fault(f.kind)
			s.writeErr(w, &Error{Status: f.kind.status(), Messages: []string{http.StatusText(f.kind.status())}})
			return
		case FaultReset:
			s.ctr.fault(f.kind)
			resetConnection(w)
			return
		}
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		s.writeErr(w, errUnprocessable("body must be application/x-www-form-urlencoded"))
		return
	}
	if err := r.ParseForm(); err != nil {
		s.writeErr(w, errBadRequest("cannot parse form body"))
		return
	}
	f := r.PostForm
	var msgs []string
	for _, k := range []string{"client_id", "client_secret", "grant_type"} {
		if f.Get(k) == "" {
			msgs = append(msgs, k+" should not be empty")
		}
	}
	if len(msgs) > 0 {
		s.writeErr(w, errUnprocessable(msgs...))
		return
	}
	if f.Get("client_id") != s.opts.ClientID || f.Get("client_secret") != s.opts.ClientSecret {
		s.ctr.tokenRefused()
		s.oauthErr(w, 401, ghlwire.OAuthErrInvalidClient, "client authentication failed", "Invalid client credentials")
		return
	}
	now := s.now()
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	switch f.Get("grant_type") {
	case "authorization_code":
		c := s.auth.codes[f.Get("code")]
		delete(s.auth.codes, f.Get("code")) // single use, even when the exchange fails below
		if c == nil || !now.Before(c.expires) || (f.Get("redirect_uri") != "" && f.Get("redirect_uri") != c.redirectURI) {
			s.ctr.tokenRefused()
			s.oauthErr(w, 400, ghlwire.OAuthErrInvalidGrant, "authorization code is invalid", "Invalid grant: authorization code is invalid")
			return
		}
		s.ctr.tokenGranted(false)
		s.writeJSON(w, 200, s.issueLocked(c.scopes, now))
	case "refresh_token":
		rt := s.auth.refresh[f.Get("refresh_token")]
		if rt == nil || rt.used {
			s.ctr.tokenRefused()
			s.oauthErr(w, 400, ghlwire.OAuthErrInvalidGrant, "refresh token is invalid", ghlwire.MsgInvalidRefreshToken)
			return
		}
		rt.used = true
		s.ctr.tokenGranted(true)
		s.writeJSON(w, 200, s.issueLocked(rt.scopes, now))
	default:
		s.oauthErr(w, 400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token", "Unsupported grant type")
	}
}

// serveAuthorize auto-approves GET /v2/oauth/chooselocation (and the SDK's older
// /oauth/chooselocation) and redirects 302 to redirect_uri with a single-use code.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	s.ctr.request(r.Method + " " + r.URL.Path)
	q := r.URL.Query()
	var msgs []string
	if q.Get("response_type") != "code" {
		msgs = append(msgs, "response_type must be code")
	}
	if q.Get("client_id") != s.opts.ClientID {
		msgs = append(msgs, "client_id is unknown")
	}
	ru, err := url.Parse(q.Get("redirect_uri"))
	if q.Get("redirect_uri") == "" || err != nil || !ru.IsAbs() {
		msgs = append(msgs, "redirect_uri must be an absolute URL")
	}
	if r.Method != http.MethodGet {
		msgs = append(msgs, "method must be GET")
	}
	if len(msgs) > 0 {
		s.writeErr(w, &Error{Status: 400, Messages: msgs})
		return
	}
	code := "sim-code-" + randomHex(16)
	s.auth.mu.Lock()
	s.auth.codes[code] = &authCode{scopes: defaultScopes(strings.Fields(q.Get("scope"))), redirectURI: q.Get("redirect_uri"), expires: s.now().Add(10 * time.Minute)}
	s.auth.mu.Unlock()
	rq := ru.Query()
	rq.Set("code", code)
	if st := q.Get("state"); st != "" {
		rq.Set("state", st)
	}
	ru.RawQuery = rq.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}
