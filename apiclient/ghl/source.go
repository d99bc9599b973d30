package ghl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/oauth2"

	"ptsync/apiclient/ghlwire"
	"ptsync/internal/secret"
)

// CredentialSource supplies the Client with the token for one location.
//
// Current returns the token to use now (refreshing first when it is about to expire).
// Invalidate is called after HighLevel answered 401 to the access token refused. When the
// current token is already a different one (another caller refreshed), it returns that one
// without refreshing. Otherwise, if mayRefresh is set, it refreshes (once for any number of
// concurrent callers that saw the same refused token) and reports refreshed = true; if not,
// it returns the refused token unchanged. The caller retries only with a different token.
// Implementations are safe for concurrent use.
type CredentialSource interface {
	Location() string
	Current(ctx context.Context) (Token, error)
	Invalidate(ctx context.Context, refused Secret, mayRefresh bool) (tok Token, refreshed bool, err error)
	// Scopes returns the granted scopes without contacting any server (nil: unknown).
	Scopes(ctx context.Context) ([]string, error)
}

// StaticSource serves a Private Integration Token (pit-...) or any fixed access token. It never
// refreshes; the scopes are configured because no token response announces them.
type StaticSource struct {
	tok Token
}

var (
	_ CredentialSource   = (*StaticSource)(nil)
	_ oauth2.TokenSource = (*StaticSource)(nil)
)

// NewStaticSource returns a source for a fixed token with the configured scopes (nil: unknown,
// writes are attempted and HighLevel decides).
func NewStaticSource(location string, token Secret, scopes []string) *StaticSource {
	return &StaticSource{tok: Token{AccessToken: token, TokenType: "Bearer", Scopes: scopes, LocationID: location}}
}

// Location implements CredentialSource.
func (s *StaticSource) Location() string { return s.tok.LocationID }

// Current implements CredentialSource.
func (s *StaticSource) Current(context.Context) (Token, error) { return s.tok, nil }

// Invalidate implements CredentialSource: a static token cannot be replaced.
func (s *StaticSource) Invalidate(context.Context, Secret, bool) (Token, bool, error) {
	return s.tok, false, nil
}

// Scopes implements CredentialSource: the configured scopes.
func (s *StaticSource) Scopes(context.Context) ([]string, error) { return s.tok.Scopes, nil }

// Token implements oauth2.TokenSource.
func (s *StaticSource) Token() (*oauth2.Token, error) { return toOAuth2(s.tok), nil }

// OAuthSourceOptions configures an OAuthSource. Location, ClientID, ClientSecret and Store are
// required (NewOAuthSource refuses the options without them); the rest default as noted.
type OAuthSourceOptions struct {
	Location     string // the sub-account (location) id
	ClientID     string
	ClientSecret Secret
	// TokenURL defaults to https://services.leadconnectorhq.com/oauth/token.
	TokenURL string
	// UserType sent with the refresh; default "Location".
	UserType string
	Store    TokenStore // required
	// HTTPClient for the token endpoint; default a client with a 30 s timeout.
	HTTPClient *http.Client
	// RefreshBefore: refresh when the access token expires within this (default 2 min, and
	// never more than a fifth of the token's lifetime).
	RefreshBefore time.Duration
	// RequestTimeout bounds one refresh request (default 30 s). A refresh is not abandoned
	// when the caller's context is canceled: its answer carries the only copy of the new
	// refresh token.
	RequestTimeout time.Duration
	Logger         hclog.Logger
	Clock          func() time.Time
	Observer       Observer
}

// OAuthSource is the refreshing token source for one location. Refreshes are serialized: one
// refresh request at a time, any number of waiting callers share its result. The rotated pair
// is saved to the Store (durably) BEFORE the new access token is handed out. If the save
// fails, the new pair is kept in memory, the call fails, and the next call retries the save
// before anything else; a process exit in that state loses the pair (see docs/ghl-client.md).
// invalid_grant is final: Current returns *TokenRevokedError without contacting HighLevel
// again, until the Store holds a different refresh token (after `ptsync auth`).
//
// Create exactly one OAuthSource per location per process: two sources over the same location
// would spend the same single-use refresh token twice.
type OAuthSource struct {
	opts OAuthSourceOptions
	sem  chan struct{} // the refresh lock; a channel so waiters honour their context

	// guarded by sem
	cur       Token
	loaded    bool
	refreshAt time.Time
	pending   *Token // a rotated pair not yet saved
	revoked   *TokenRevokedError
	// rejected holds the endpoint's refusal of the client credentials until its RetryAt;
	// rejections counts them in a row (the backoff's exponent).
	rejected   *ClientRejectedError
	rejections int
}

var (
	_ CredentialSource   = (*OAuthSource)(nil)
	_ oauth2.TokenSource = (*OAuthSource)(nil)
)

// NewOAuthSource checks the options; the token is loaded from the Store on first use.
func NewOAuthSource(opts OAuthSourceOptions) (*OAuthSource, error) {
	if opts.Location == "" {
		return nil, fmt.Errorf("cannot create token source: location is empty")
	}
	if opts.Store == nil {
		return nil, fmt.Errorf("cannot create token source for location %s: no token store", opts.Location)
	}
	if opts.ClientID == "" || opts.ClientSecret.IsZero() {
		return nil, fmt.Errorf("cannot create token source for location %s: client id and client secret are required", opts.Location)
	}
	if opts.TokenURL == "" {
		opts.TokenURL = DefaultBaseURL + "/oauth/token"
	}
	if opts.UserType == "" {
		opts.UserType = "Location"
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.RefreshBefore <= 0 {
		opts.RefreshBefore = 2 * time.Minute
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Observer == nil {
		opts.Observer = NopObserver{}
	}
	return &OAuthSource{opts: opts, sem: make(chan struct{}, 1)}, nil
}

// Location implements CredentialSource.
func (s *OAuthSource) Location() string { return s.opts.Location }

func (s *OAuthSource) lock(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cannot get token for location %s: %w", s.opts.Location, ctx.Err())
	}
}

func (s *OAuthSource) unlock() { <-s.sem }

// Current implements CredentialSource. It waits for any refresh in progress (ctx bounds the
// wait, never a refresh already sent), loads the token from the Store on first use, and
// refreshes first when the token is within RefreshBefore of expiring. A revoked refresh
// token or rejected client credentials fail at once with the held *TokenRevokedError or
// *ClientRejectedError, without contacting HighLevel.
func (s *OAuthSource) Current(ctx context.Context) (Token, error) {
	if err := s.lock(ctx); err != nil {
		return Token{}, err
	}
	defer s.unlock()
	if err := s.ensureLocked(ctx); err != nil {
		return Token{}, err
	}
	if !s.opts.Clock().Before(s.refreshAt) {
		if err := s.refreshLocked(ctx); err != nil {
			return Token{}, err
		}
	}
	return s.cur, nil
}

// Invalidate implements CredentialSource: of any number of callers refused the same token,
// the first that may refresh does, and the others get its result. Errors are Current's.
func (s *OAuthSource) Invalidate(ctx context.Context, refused Secret, mayRefresh bool) (Token, bool, error) {
	if err := s.lock(ctx); err != nil {
		return Token{}, false, err
	}
	defer s.unlock()
	if err := s.ensureLocked(ctx); err != nil {
		return Token{}, false, err
	}
	if !s.cur.AccessToken.Equal(refused) || !mayRefresh {
		return s.cur, false, nil // someone else refreshed already, or the caller may not
	}
	if err := s.refreshLocked(ctx); err != nil {
		return Token{}, false, err
	}
	return s.cur, true, nil
}

// A rejected credential is not a transient fault: after the token endpoint refused the
// client credentials, or a freshly refreshed token was refused at once, nothing asks the
// token endpoint again for rejectedBackoff, doubling with each rejection in a row up to
// rejectedBackoffMax. In between, callers get the held error at once.
const (
	rejectedBackoff    = 30 * time.Second
	rejectedBackoffMax = 30 * time.Minute
)

// rejectedDelay is the hold after the n-th rejection in a row.
func rejectedDelay(n int) time.Duration {
	d := rejectedBackoff << min(n-1, 20)
	if d <= 0 || d > rejectedBackoffMax {
		d = rejectedBackoffMax
	}
	return d
}

// Scopes implements CredentialSource: the scopes of the stored or current token, read
// without refreshing.
func (s *OAuthSource) Scopes(ctx context.Context) ([]string, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	if err := s.ensureLocked(ctx); err != nil {
		return nil, err
	}
	return s.cur.Scopes, nil
}

// Token implements oauth2.TokenSource (with a background context).
func (s *OAuthSource) Token() (*oauth2.Token, error) {
	t, err := s.Current(context.Background())
	if err != nil {
		return nil, err
	}
	return toOAuth2(t), nil
}

// ensureLocked loads the token on first use, finishes a pending save, and re-reads the store
// while revoked (an operator may have run `ptsync auth`).
func (s *OAuthSource) ensureLocked(ctx context.Context) error {
	if s.pending != nil {
		if err := s.opts.Store.Save(ctx, s.opts.Location, *s.pending); err != nil {
			return fmt.Errorf("cannot store rotated token for location %s (held in memory, do not restart): %w", s.opts.Location, err)
		}
		s.opts.Logger.Info("rotated token stored after earlier failure", "location", s.opts.Location)
		s.setCurrent(*s.pending, 0)
		s.pending = nil
	}
	if s.loaded && s.revoked == nil {
		return nil
	}
	tok, err := s.opts.Store.Load(ctx, s.opts.Location)
	if err != nil {
		if s.revoked != nil {
			return s.revoked
		}
		return fmt.Errorf("cannot load token for location %s: %w", s.opts.Location, err)
	}
	if s.revoked != nil {
		if tok.RefreshToken.Equal(s.cur.RefreshToken) {
			return s.revoked
		}
		s.opts.Logger.Info("new authorization found in token store", "location", s.opts.Location)
		s.revoked = nil
	}
	s.loaded = true
	s.setCurrent(tok, 0)
	return nil
}

// setCurrent installs tok and computes when to refresh it. ttl is the lifetime announced by
// the token endpoint (0 when loaded from the store).
func (s *OAuthSource) setCurrent(tok Token, ttl time.Duration) {
	s.cur = tok
	if tok.Expiry.IsZero() {
		s.refreshAt = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
		return
	}
	before := s.opts.RefreshBefore
	if ttl > 0 && before > ttl/5 {
		before = ttl / 5
	}
	s.refreshAt = tok.Expiry.Add(-before)
	s.opts.Observer.ObserveTokenExpiry(s.opts.Location, tok.Expiry)
}

// tokenErrorBody covers both the OAuth error shape and HighLevel's common error DTO.
type tokenErrorBody struct {
	Error            string          `json:"error"`
	ErrorDescription string          `json:"error_description"`
	Message          json.RawMessage `json:"message"`
}

// refreshLocked spends the current refresh token. The request runs detached from ctx's
// cancellation: once sent, its answer must be read and saved whatever the caller does.
// Danger: after the request is sent the old refresh token may be spent, so every failure
// from then on says so, and a new pair that cannot be saved is held in memory (pending).
func (s *OAuthSource) refreshLocked(ctx context.Context) error {
	loc := s.opts.Location
	if s.revoked != nil {
		return s.revoked
	}
	if s.rejected != nil && s.opts.Clock().Before(s.rejected.RetryAt) {
		return s.rejected
	}
	if s.cur.RefreshToken.IsZero() {
		return fmt.Errorf("cannot refresh token for location %s: no refresh token stored; run `ptsync auth`", loc)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cannot refresh token for location %s: %w", loc, err)
	}
	resp, body, err := s.postRefresh(ctx)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return s.refusedLocked(resp.StatusCode, body)
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "application/json" {
		return fmt.Errorf("cannot refresh token for location %s: token endpoint answered content type %q (the refresh token may be spent)", loc, ct)
	}
	var tr ghlwire.TokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return fmt.Errorf("cannot decode token response for location %s (the refresh token may be spent): %w", loc, err)
	}
	if tr.AccessToken == "" {
		return fmt.Errorf("cannot refresh token for location %s: token response has no access_token", loc)
	}
	return s.installLocked(ctx, tr)
}

// postRefresh sends the refresh grant, bounded by RequestTimeout but not by ctx's
// cancellation, and reads at most 1 MiB of the answer. The response's body is closed.
func (s *OAuthSource) postRefresh(ctx context.Context) (*http.Response, []byte, error) {
	loc := s.opts.Location
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.RequestTimeout)
	defer cancel()
	form := url.Values{
		"client_id":     {s.opts.ClientID},
		"client_secret": {s.opts.ClientSecret.Reveal()},
		"grant_type":    {"refresh_token"},
		"refresh_token": {s.cur.RefreshToken.Reveal()},
		"user_type":     {s.opts.UserType},
	}
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, s.opts.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot build token request for location %s: %w", loc, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	start := s.opts.Clock()
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		s.opts.Observer.ObserveRequest(OpGetAccessToken, 0, s.opts.Clock().Sub(start))
		return nil, nil, fmt.Errorf("cannot refresh token for location %s: %w", loc, redactURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	s.opts.Observer.ObserveRequest(OpGetAccessToken, resp.StatusCode, s.opts.Clock().Sub(start))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read token response for location %s (the refresh token may be spent): %w", loc, err)
	}
	return resp, body, nil
}

// refusedLocked turns a non-200 answer of the token endpoint into the source's state and
// error: a refused refresh token revokes the source until `ptsync auth` (TokenRevokedError),
// refused client credentials hold refreshes for a growing delay (ClientRejectedError), and
// anything else is a plain error the next call retries.
func (s *OAuthSource) refusedLocked(status int, body []byte) error {
	loc := s.opts.Location
	var eb tokenErrorBody
	_ = json.Unmarshal(body, &eb)
	msgs := ghlwire.ErrorBody{Message: eb.Message}.Messages()
	detail := strings.TrimSpace(strings.Join(append([]string{eb.Error, eb.ErrorDescription}, msgs...), " "))
	if isInvalidGrant(status, eb.Error, detail) {
		s.revoked = &TokenRevokedError{Location: loc, Detail: detail}
		s.opts.Logger.Error("refresh token refused; run `ptsync auth`", "location", loc, "status", status)
		return s.revoked
	}
	if eb.Error == ghlwire.OAuthErrInvalidClient || eb.Error == "unauthorized_client" {
		s.rejections++
		now := s.opts.Clock()
		s.rejected = &ClientRejectedError{Location: loc, Status: status, Detail: detail, RetryAt: now.Add(rejectedDelay(s.rejections))}
		s.opts.Logger.Error("client credentials rejected by the token endpoint; holding refreshes", "location", loc,
			"status", status, "error", eb.Error, "rejections", s.rejections, "next_attempt_after", s.rejected.RetryAt.Sub(now).Round(time.Second))
		return s.rejected
	}
	return fmt.Errorf("cannot refresh token for location %s: token endpoint answered %d: %s", loc, status, detail)
}

// installLocked saves the token tr announces (keeping the refresh token, scopes and location
// it leaves out) and only then makes it current. If the save fails the new pair is held in
// memory and retried on the next call: the old refresh token is spent, so a restart now would
// lose the installation.
func (s *OAuthSource) installLocked(ctx context.Context, tr ghlwire.TokenResponse) error {
	loc := s.opts.Location
	next := tokenFromResponse(tr, s.opts.Clock())
	if next.RefreshToken.IsZero() {
		next.RefreshToken = s.cur.RefreshToken // not rotated: keep the one we have
	}
	if len(next.Scopes) == 0 {
		next.Scopes = s.cur.Scopes
	}
	if next.LocationID == "" {
		next.LocationID = loc
	}
	if err := s.opts.Store.Save(ctx, loc, next); err != nil {
		// The old refresh token is spent; the new pair exists only here. Keep it and retry
		// the save on the next call; never hand out the access token before it is durable.
		s.pending = &next
		s.opts.Logger.Error("cannot store rotated token; holding it in memory", "location", loc, "error", err)
		return fmt.Errorf("cannot store rotated token for location %s (held in memory, do not restart): %w", loc, err)
	}
	s.setCurrent(next, time.Duration(tr.ExpiresIn)*time.Second)
	if s.rejected != nil {
		s.opts.Logger.Info("client credentials accepted again", "location", loc, "after_rejections", s.rejections)
	}
	s.rejected, s.rejections = nil, 0
	s.opts.Logger.Debug("token refreshed", "location", loc, "expiry", next.Expiry, "scopes", strings.Join(next.Scopes, " "))
	return nil
}

// isInvalidGrant recognises a refused refresh token: the OAuth error code, or HighLevel's
// DTO with a message saying so.
func isInvalidGrant(status int, code, detail string) bool {
	if code == "invalid_grant" {
		return true
	}
	if status != http.StatusBadRequest && status != http.StatusUnauthorized {
		return false
	}
	d := strings.ToLower(detail)
	return strings.Contains(d, "invalid_grant") || strings.Contains(d, "invalid grant") ||
		(strings.Contains(d, "refresh token") && (strings.Contains(d, "invalid") || strings.Contains(d, "expired") || strings.Contains(d, "revoked")))
}

// tokenFromResponse converts the token endpoint's answer.
func tokenFromResponse(tr ghlwire.TokenResponse, now time.Time) Token {
	t := Token{
		AccessToken: secret.New(tr.AccessToken), RefreshToken: secret.New(tr.RefreshToken), TokenType: tr.TokenType,
		Scopes: strings.Fields(tr.Scope), LocationID: tr.LocationID, UserType: tr.UserType,
		CompanyID: tr.CompanyID, UserID: tr.UserID,
	}
	if tr.ExpiresIn > 0 {
		t.Expiry = now.Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	return t
}

// TokenFromOAuth2 converts a token obtained by golang.org/x/oauth2 (e.g. Config.Exchange in
// the install flow), reading HighLevel's extra fields (scope, locationId, userType, companyId,
// userId) from Token.Extra.
func TokenFromOAuth2(t *oauth2.Token) Token {
	str := func(k string) string {
		if v, ok := t.Extra(k).(string); ok {
			return v
		}
		return ""
	}
	return Token{
		AccessToken: secret.New(t.AccessToken), RefreshToken: secret.New(t.RefreshToken), TokenType: t.TokenType,
		Expiry: t.Expiry, Scopes: strings.Fields(str("scope")), LocationID: str("locationId"),
		UserType: str("userType"), CompanyID: str("companyId"), UserID: str("userId"),
	}
}

func toOAuth2(t Token) *oauth2.Token {
	o := &oauth2.Token{AccessToken: t.AccessToken.Reveal(), RefreshToken: t.RefreshToken.Reveal(), TokenType: t.TokenType, Expiry: t.Expiry}
	return o.WithExtra(map[string]any{"scope": strings.Join(t.Scopes, " "), "locationId": t.LocationID, "userType": t.UserType})
}

// redactURLError strips the URL from a *url.Error (it may carry a code or token in a query).
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
