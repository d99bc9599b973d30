package ghl

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// DefaultAuthorizeURL is HighLevel's location chooser (the v2 authorize page).
const DefaultAuthorizeURL = "https://marketplace.gohighlevel.com/v2/oauth/chooselocation"

// DefaultScopes returns the scopes `ptsync auth` asks for unless told otherwise; each call
// returns a fresh slice the caller may change.
func DefaultScopes() []string { return []string{"contacts.readonly", "contacts.write"} }

// Install is the OAuth authorization-code install of ptsync into a HighLevel location:
// build the authorize URL, receive the redirect on a local listener (checking state),
// exchange the code at {BaseURL}/oauth/token. It holds no state between steps beyond its
// fields and is safe to use from one goroutine.
type Install struct {
	BaseURL      string // API base (token endpoint = BaseURL + "/oauth/token"); default DefaultBaseURL
	AuthorizeURL string // default DefaultAuthorizeURL
	ClientID     string
	ClientSecret Secret
	Scopes       []string // default DefaultScopes()
	RedirectURL  string   // must match the app's registered redirect URI
	HTTPClient   *http.Client
}

func (in Install) config() *oauth2.Config {
	base := strings.TrimRight(in.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	auth := in.AuthorizeURL
	if auth == "" {
		auth = DefaultAuthorizeURL
	}
	scopes := in.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes()
	}
	return &oauth2.Config{
		ClientID: in.ClientID, ClientSecret: in.ClientSecret.Reveal(), RedirectURL: in.RedirectURL, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: auth, TokenURL: base + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
	}
}

// NewState returns an unguessable state value (24 bytes from crypto/rand, hex) for one
// authorization: ReceiveCode refuses a redirect carrying any other. It fails only when the
// system's random source does.
func NewState() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("cannot generate oauth state: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// AuthCodeURL is the URL the operator opens: response_type=code, client_id, redirect_uri,
// scope (space-separated) and state. It carries no secret.
func (in Install) AuthCodeURL(state string) string { return in.config().AuthCodeURL(state) }

// ErrAuthorization: the redirect carried an error, or its state did not match.
var ErrAuthorization = errors.New("authorization failed")

// ReceiveCode serves ln until one redirect with the expected state arrives, and returns its
// code. A redirect with a wrong state is refused (400) and waiting continues; one with an
// error parameter ends the wait with ErrAuthorization. ln is closed on return.
func ReceiveCode(ctx context.Context, ln net.Listener, state string) (string, error) {
	type result struct {
		code string
		err  error
	}
	done := make(chan result, 1)
	send := func(r result) {
		select {
		case done <- r:
		default:
		}
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			http.Error(w, "ptsync: state mismatch; this redirect was not for this authorization", http.StatusBadRequest)
			return
		}
		if e := q.Get("error"); e != "" {
			http.Error(w, "ptsync: authorization refused: "+e, http.StatusBadRequest)
			send(result{err: fmt.Errorf("cannot authorize: %w: %s %s", ErrAuthorization, e, q.Get("error_description"))})
			return
		}
		code := q.Get("code")
		if code == "" {
			http.Error(w, "ptsync: the redirect carries no code", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>ptsync</title><p>%s</p>", html.EscapeString("ptsync is authorized. You can close this window."))
		send(result{code: code})
	})}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	select {
	case r := <-done:
		return r.code, r.err
	case <-ctx.Done():
		return "", fmt.Errorf("cannot receive the authorization redirect: %w", ctx.Err())
	}
}

// Exchange trades a code for the token pair (grant_type=authorization_code, client
// credentials in the form, user_type=Location) and reads the granted scopes, location and
// user type from the response.
func (in Install) Exchange(ctx context.Context, code string) (Token, error) {
	tok, err := in.exchange(ctx, code, "Location")
	if err != nil {
		return Token{}, err
	}
	if tok.LocationID == "" {
		return Token{}, fmt.Errorf("cannot use the token: the response names no locationId (was a Company/agency install chosen? ptsync needs a sub-account)")
	}
	return tok, nil
}

// exchange trades a code for a token pair of userType (the form's user_type).
func (in Install) exchange(ctx context.Context, code, userType string) (Token, error) {
	if in.HTTPClient != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, in.HTTPClient)
	}
	t, err := in.config().Exchange(ctx, code, oauth2.SetAuthURLParam("user_type", userType))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return Token{}, fmt.Errorf("cannot exchange the authorization code: token endpoint answered %d %s %s", re.Response.StatusCode, re.ErrorCode, re.ErrorDescription)
		}
		return Token{}, fmt.Errorf("cannot exchange the authorization code: %w", redactURLError(err))
	}
	return TokenFromOAuth2(t), nil
}
