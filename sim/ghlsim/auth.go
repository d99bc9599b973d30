package ghlsim

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"

	"ptsync/apiclient/ghlwire"
)

// Token classes (the token response's userType). A Location token opens one location's API;
// a Company (agency) token opens only the agency routes, where it mints Location tokens.
const (
	userLocation = ghlwire.UserTypeLocation
	userCompany  = ghlwire.UserTypeCompany
)

type accessToken struct {
	scopes   map[string]bool
	location string    // "" for a Company token
	userType string    // userLocation or userCompany
	expires  time.Time // zero for a PIT
	pit      bool
	uses     int
}

type refreshToken struct {
	scopes   []string
	location string
	userType string
	used     bool
}

type authCode struct {
	scopes      []string
	location    string // the location chosen on the authorize page
	redirectURI string
	expires     time.Time
}

// authState holds every token a company issued, for all its locations; its own mutex guards
// it. Tokens are bound to a location (or to the company), never to a Server value, so one
// table serves a company of any size.
type authState struct {
	mu      sync.Mutex
	access  map[string]*accessToken
	refresh map[string]*refreshToken
	codes   map[string]*authCode
	// expireEvery is ExpireEvery's n by location ("" for Company tokens).
	expireEvery map[string]int
}

func newAuthState() *authState {
	return &authState{
		access:      map[string]*accessToken{},
		refresh:     map[string]*refreshToken{},
		codes:       map[string]*authCode{},
		expireEvery: map[string]int{},
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

var errInvalidToken = &Error{Status: 401, Messages: []string{ghlwire.MsgInvalidToken}}

// errAuthClass is HighLevel's refusal of a token of the wrong class: a Company token on a
// location's route, or a Location token on an agency-only one.
var errAuthClass = &Error{Status: 401, Messages: []string{ghlwire.MsgAuthClass}}

// bearer returns the token a request carries, or "".
func bearer(r *http.Request) string {
	tok, ok := strings.CutPrefix(r.Header.Get(ghlwire.HeaderAuthorization), "Bearer ")
	if !ok {
		return ""
	}
	return tok
}

// peek returns a copy of the token r carries without counting a use; ok is false when the
// token is unknown (it may still be expired).
func (a *authState) peek(r *http.Request) (accessToken, bool) {
	tok := bearer(r)
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.access[tok]
	if tok == "" || t == nil {
		return accessToken{}, false
	}
	return *t, true
}

// authenticate checks the bearer token and counts its use toward ExpireEvery.
func (a *authState) authenticate(r *http.Request, now time.Time) (*accessToken, *Error) {
	tok := bearer(r)
	if tok == "" {
		return nil, errInvalidToken
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.access[tok]
	if t == nil {
		return nil, errInvalidToken
	}
	if !t.pit {
		if n := a.expireEvery[t.location]; !now.Before(t.expires) || (n > 0 && t.uses >= n) {
			return nil, errInvalidToken
		}
		t.uses++
	}
	return t, nil
}

// revokeLocation deletes every OAuth access token of loc and spends its refresh tokens, as
// an uninstall does; PITs are the location's own and survive.
func (a *authState) revokeLocation(loc string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, t := range a.access {
		if t.location == loc && !t.pit {
			delete(a.access, k)
		}
	}
	for _, t := range a.refresh {
		if t.location == loc {
			t.used = true
		}
	}
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

// issueLocked mints an access/refresh pair for the location; a.mu must be held.
func (s *Server) issueLocked(scopes []string, now time.Time) ghlwire.TokenResponse {
	a := s.auth
	at, rt := "sim-at-"+randomHex(24), "sim-rt-"+randomHex(24)
	a.access[at] = &accessToken{scopes: scopeSet(scopes), location: s.opts.LocationID, userType: userLocation, expires: now.Add(s.opts.AccessTokenTTL)}
	a.refresh[rt] = &refreshToken{scopes: scopes, location: s.opts.LocationID, userType: userLocation}
	return ghlwire.TokenResponse{
		AccessToken:  at,
		TokenType:    "Bearer",
		ExpiresIn:    int(s.opts.AccessTokenTTL/time.Second) - 1, // HighLevel reports 86399 for a day
		RefreshToken: rt,
		Scope:        strings.Join(scopes, " "),
		UserType:     userLocation,
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
	s.auth.access[tok] = &accessToken{scopes: scopeSet(defaultScopes(scopes)), location: s.opts.LocationID, userType: userLocation, pit: true}
	return tok
}

// ExpireAccessTokens makes every OAuth access token issued for this location so far invalid
// (401), as if their day had passed, minted location tokens included. Refresh tokens, PITs
// and other locations' tokens stay valid.
func (s *Server) ExpireAccessTokens() {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	for k, t := range s.auth.access {
		if !t.pit && t.location == s.opts.LocationID {
			delete(s.auth.access, k)
		}
	}
}

// ExpireEvery makes each of this location's OAuth access tokens die after n authenticated
// API calls (0 turns it off). PITs are exempt.
func (s *Server) ExpireEvery(n int) {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	s.auth.expireEvery[s.opts.LocationID] = n
}

// RevokeRefreshTokens makes every refresh token of this location invalid, as a HighLevel-side
// incident would: the next refresh gets invalid_grant.
func (s *Server) RevokeRefreshTokens() {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	for _, t := range s.auth.refresh {
		if t.location == s.opts.LocationID {
			t.used = true
		}
	}
}
