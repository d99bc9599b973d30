package ghl

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// LocationTokenSource is the CredentialSource of one location of an Agency: it mints the
// location's access token from the Company token (POST /oauth/locationToken) on first use,
// mints it again before it expires (there is no refresh token to spend, so nothing is lost by
// minting twice), and after HighLevel refuses it (Invalidate). Mints are serialized per
// location. With a Store, the minted token survives a restart (a failed save is logged and
// costs one mint later, nothing more).
//
// A refused mint (ErrMintRefused: the app is not installed there) is held for MintHold:
// Current returns it without asking HighLevel again, so a location being uninstalled does not
// spend the company's budget on every call.
//
// It never hands out a token of another location: a minted or stored token that names
// another location is refused.
type LocationTokenSource struct {
	agency *Agency
	loc    string
	store  TokenStore
	sem    chan struct{} // the mint lock; a channel so waiters honour their context

	// guarded by sem
	cur        Token
	loaded     bool
	mintAt     time.Time
	refused    error
	refusedTil time.Time
}

var _ CredentialSource = (*LocationTokenSource)(nil)

// MintHold is how long a refused mint is answered from memory.
const MintHold = time.Minute

// LocationSource returns the credentials of location, minted by this agency; store (nil: none)
// keeps the minted token across restarts under the location id. Create one per location per
// process and give it to that location's Client alone.
func (a *Agency) LocationSource(location string, store TokenStore) *LocationTokenSource {
	return &LocationTokenSource{agency: a, loc: location, store: store, sem: make(chan struct{}, 1)}
}

// Location implements CredentialSource.
func (s *LocationTokenSource) Location() string { return s.loc }

func (s *LocationTokenSource) lock(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cannot get token for location %s: %w", s.loc, ctx.Err())
	}
}

func (s *LocationTokenSource) unlock() { <-s.sem }

// Current implements CredentialSource: the minted token, minted first when there is none or
// it expires within the agency's RefreshBefore.
func (s *LocationTokenSource) Current(ctx context.Context) (Token, error) {
	if err := s.lock(ctx); err != nil {
		return Token{}, err
	}
	defer s.unlock()
	s.loadLocked(ctx)
	if s.cur.AccessToken.IsZero() || !s.agency.opts.Clock().Before(s.mintAt) {
		if err := s.mintLocked(ctx); err != nil {
			return Token{}, err
		}
	}
	return s.cur, nil
}

// Invalidate implements CredentialSource: a refused token is minted again (when mayRefresh),
// unless another caller did so already.
func (s *LocationTokenSource) Invalidate(ctx context.Context, refused Secret, mayRefresh bool) (Token, bool, error) {
	if err := s.lock(ctx); err != nil {
		return Token{}, false, err
	}
	defer s.unlock()
	s.loadLocked(ctx)
	if !s.cur.AccessToken.Equal(refused) || !mayRefresh {
		return s.cur, false, nil
	}
	if err := s.mintLocked(ctx); err != nil {
		return Token{}, false, err
	}
	return s.cur, true, nil
}

// Scopes implements CredentialSource without contacting a server: the minted token's scopes,
// or before the first mint the Company token's, which a minted token carries.
func (s *LocationTokenSource) Scopes(ctx context.Context) ([]string, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	scopes := s.cur.Scopes
	s.unlock()
	if scopes != nil {
		return scopes, nil
	}
	return s.agency.company.Scopes(ctx)
}

// loadLocked reads a token kept by an earlier process, once; one that names another location
// or has expired is ignored.
func (s *LocationTokenSource) loadLocked(ctx context.Context) {
	if s.loaded || s.store == nil {
		return
	}
	s.loaded = true
	tok, err := s.store.Load(ctx, s.loc)
	if err != nil {
		if !errors.Is(err, ErrNoToken) {
			s.agency.opts.Logger.Warn("cannot load stored location token; minting a new one", "location", s.loc, "error", err)
		}
		return
	}
	if tok.LocationID != s.loc || !tok.RefreshToken.IsZero() || !s.agency.opts.Clock().Before(tok.Expiry) {
		return // another location's, an OAuth pair (not ours to spend) or expired
	}
	s.setLocked(tok)
}

// mintLocked mints a new token, or answers a refusal held from a recent one.
func (s *LocationTokenSource) mintLocked(ctx context.Context) error {
	now := s.agency.opts.Clock()
	if s.refused != nil && now.Before(s.refusedTil) {
		return s.refused
	}
	tok, err := s.agency.MintLocationToken(ctx, s.loc)
	if err != nil {
		if errors.Is(err, ErrMintRefused) {
			s.refused, s.refusedTil = err, now.Add(MintHold)
			s.agency.opts.Logger.Warn("location token refused; is the app still installed?", "location", s.loc)
		}
		return err
	}
	s.refused = nil
	s.setLocked(tok)
	if s.store != nil {
		if err := s.store.Save(ctx, s.loc, tok); err != nil {
			s.agency.opts.Logger.Warn("cannot store minted location token", "location", s.loc, "error", err)
		}
	}
	s.agency.opts.Logger.Debug("location token minted", "location", s.loc, "expiry", tok.Expiry)
	return nil
}

// setLocked installs tok and computes when to mint the next one.
func (s *LocationTokenSource) setLocked(tok Token) {
	s.cur = tok
	ttl := tok.Expiry.Sub(s.agency.opts.Clock())
	before := s.agency.opts.RefreshBefore
	if before > ttl/5 {
		before = ttl / 5
	}
	s.mintAt = tok.Expiry.Add(-before)
	if s.agency.opts.Observer != nil {
		s.agency.opts.Observer.ObserveTokenExpiry(s.loc, tok.Expiry)
	}
}
