package ghl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ptsync/internal/secret"
)

func TestFileTokenStore(t *testing.T) {
	ctx := context.Background()
	tok := Token{AccessToken: secret.New("at1"), RefreshToken: secret.New("rt1"), Expiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), Scopes: []string{"contacts.readonly"}, LocationID: "locA"}
	t.Run("round trip 0600 and other locations kept", func(t *testing.T) {
		dir := t.TempDir()
		s := NewFileTokenStore(filepath.Join(dir, "tokens.json"))
		if err := s.Save(ctx, "locA", tok); err != nil {
			t.Fatal(err)
		}
		other := tok
		other.AccessToken, other.LocationID = secret.New("atB"), "locB"
		if err := s.Save(ctx, "locB", other); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(s.Path)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v err %v", st.Mode(), err)
		}
		got, err := s.Load(ctx, "locA")
		if err != nil || got.AccessToken.Reveal() != "at1" || got.RefreshToken.Reveal() != "rt1" || !got.Expiry.Equal(tok.Expiry) || !got.ReadOnly() {
			t.Fatalf("got %v err %v", got, err)
		}
		if got, _ := s.Load(ctx, "locB"); got.AccessToken.Reveal() != "atB" {
			t.Fatalf("locB = %v", got)
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 {
			t.Fatalf("temporary files left: %v", ents)
		}
	})
	t.Run("group readable refused", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "tokens.json")
		s := NewFileTokenStore(p)
		if err := s.Save(ctx, "locA", tok); err != nil {
			t.Fatal(err)
		}
		for _, mode := range []os.FileMode{0o640, 0o604, 0o660} {
			os.Chmod(p, mode)
			_, err := s.Load(ctx, "locA")
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), fmt.Sprintf("%04o", mode)) {
				t.Fatalf("mode %o: err = %v", mode, err)
			}
			if err := s.Save(ctx, "locA", tok); err != nil {
				t.Fatalf("mode %o: save must still store the rotated token: %v", mode, err)
			}
			if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
				t.Fatalf("save left mode %v", st.Mode())
			}
		}
	})
	t.Run("missing", func(t *testing.T) {
		s := NewFileTokenStore(filepath.Join(t.TempDir(), "none.json"))
		if _, err := s.Load(ctx, "locA"); !errors.Is(err, ErrNoToken) || !strings.Contains(err.Error(), "ptsync auth") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown location", func(t *testing.T) {
		s := NewFileTokenStore(filepath.Join(t.TempDir(), "tokens.json"))
		s.Save(ctx, "locA", tok)
		if _, err := s.Load(ctx, "locZ"); !errors.Is(err, ErrNoToken) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("corrupt file is an error, not an empty store", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "tokens.json")
		os.WriteFile(p, []byte(`{"version":1,"tokens":{`), 0o600)
		s := NewFileTokenStore(p)
		if _, err := s.Load(ctx, "locA"); err == nil || errors.Is(err, ErrNoToken) || !strings.Contains(err.Error(), p) {
			t.Fatalf("err = %v", err)
		}
		if err := s.Save(ctx, "locA", tok); err == nil {
			t.Fatal("save over a corrupt file must not silently drop its content")
		}
	})
}

// fakeTokenServer rotates refresh tokens strictly (single use) like HighLevel.
type fakeTokenServer struct {
	mu       sync.Mutex
	valid    map[string]bool
	seq      int
	refused  int
	granted  int
	ttl      int
	lastForm map[string]string
}

func (f *fakeTokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastForm = map[string]string{}
	for k := range r.PostForm {
		f.lastForm[k] = r.PostForm.Get(k)
	}
	rt := r.PostForm.Get("refresh_token")
	w.Header().Set("Content-Type", "application/json")
	if !f.valid[rt] {
		f.refused++
		w.WriteHeader(400)
		fmt.Fprint(w, `{"statusCode":400,"message":"Invalid grant: refresh token is invalid","error":"invalid_grant","error_description":"refresh token is invalid"}`)
		return
	}
	delete(f.valid, rt)
	f.seq++
	f.granted++
	nrt := fmt.Sprintf("rt-%d", f.seq)
	f.valid[nrt] = true
	json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("at-%d", f.seq), "refresh_token": nrt, "expires_in": f.ttl,
		"token_type": "Bearer", "scope": "contacts.readonly contacts.write", "locationId": "loc1", "userType": "Location"})
}

func newOAuthFixture(t *testing.T, ttl int) (*OAuthSource, *fakeTokenServer, *FileTokenStore, *secretSink) {
	t.Helper()
	fts := &fakeTokenServer{valid: map[string]bool{"rt-0": true}, ttl: ttl}
	srv := httptest.NewServer(fts)
	t.Cleanup(srv.Close)
	store := NewFileTokenStore(filepath.Join(t.TempDir(), "tokens.json"))
	if err := store.Save(context.Background(), "loc1", Token{AccessToken: secret.New("at-0"), RefreshToken: secret.New("rt-0"), Expiry: time.Now().Add(time.Hour), Scopes: []string{"contacts.readonly", "contacts.write"}}); err != nil {
		t.Fatal(err)
	}
	sink := newSecretSink(t)
	sink.Register("client-secret-xyz")
	src, err := NewOAuthSource(OAuthSourceOptions{Location: "loc1", ClientID: "cid", ClientSecret: secret.New("client-secret-xyz"), TokenURL: srv.URL + "/oauth/token", Store: store, Logger: sink.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	return src, fts, store, sink
}

func TestOAuthSourceRefreshOncePerRefusedToken(t *testing.T) {
	src, fts, store, _ := newOAuthFixture(t, 3600)
	ctx := context.Background()
	if tok, did, err := src.Invalidate(ctx, secret.New("at-0"), false); err != nil || did || tok.AccessToken.Reveal() != "at-0" {
		t.Fatalf("mayRefresh=false refreshed: %v %v %v", tok, did, err)
	}
	var wg sync.WaitGroup
	var changed atomic.Int32
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, ch, err := src.Invalidate(ctx, secret.New("at-0"), true)
			if err != nil || tok.AccessToken.Reveal() != "at-1" {
				t.Errorf("tok %v err %v", tok, err)
			}
			if ch {
				changed.Add(1)
			}
		}()
	}
	wg.Wait()
	if fts.granted != 1 || fts.refused != 0 || changed.Load() != 1 {
		t.Fatalf("granted %d refused %d changed %d", fts.granted, fts.refused, changed.Load())
	}
	for k, want := range map[string]string{"grant_type": "refresh_token", "user_type": "Location", "client_id": "cid", "client_secret": "client-secret-xyz", "refresh_token": "rt-0"} {
		if fts.lastForm[k] != want {
			t.Errorf("form %s = %q, want %q", k, fts.lastForm[k], want)
		}
	}
	stored, _ := store.Load(ctx, "loc1")
	if stored.RefreshToken.Reveal() != "rt-1" || stored.AccessToken.Reveal() != "at-1" {
		t.Fatalf("stored %v", stored)
	}
}

func TestOAuthSourceInvalidGrantIsFinal(t *testing.T) {
	src, fts, store, _ := newOAuthFixture(t, 3600)
	ctx := context.Background()
	fts.mu.Lock()
	delete(fts.valid, "rt-0") // revoked server-side
	fts.mu.Unlock()
	for i := range 3 {
		_, _, err := src.Invalidate(ctx, secret.New("at-0"), true)
		var tre *TokenRevokedError
		if !errors.Is(err, ErrInvalidGrant) || !errors.As(err, &tre) || !strings.Contains(err.Error(), "ptsync auth") {
			t.Fatalf("call %d: err = %v", i, err)
		}
	}
	if fts.refused != 1 {
		t.Fatalf("token endpoint asked %d times, want 1", fts.refused)
	}
	// An operator re-authorizes: the source picks the new pair up from the store.
	fts.mu.Lock()
	fts.valid["rt-fresh"] = true
	fts.mu.Unlock()
	store.Save(ctx, "loc1", Token{AccessToken: secret.New("at-fresh"), RefreshToken: secret.New("rt-fresh"), Expiry: time.Now().Add(time.Hour)})
	tok, err := src.Current(ctx)
	if err != nil || tok.AccessToken.Reveal() != "at-fresh" {
		t.Fatalf("after re-auth: %v %v", tok, err)
	}
}

// failingStore fails Save while fail is set.
type failingStore struct {
	TokenStore
	fail atomic.Bool
}

func (f *failingStore) Save(ctx context.Context, loc string, t Token) error {
	if f.fail.Load() {
		return errors.New("disk full")
	}
	return f.TokenStore.Save(ctx, loc, t)
}

func TestOAuthSourceSaveFailureHoldsPair(t *testing.T) {
	src, fts, store, _ := newOAuthFixture(t, 3600)
	fs := &failingStore{TokenStore: store}
	src.opts.Store = fs
	ctx := context.Background()
	fs.fail.Store(true)
	if _, _, err := src.Invalidate(ctx, secret.New("at-0"), true); err == nil || !strings.Contains(err.Error(), "held in memory") {
		t.Fatalf("err = %v", err)
	}
	// The new access token must not be handed out before it is durable.
	if _, err := src.Current(ctx); err == nil {
		t.Fatal("token handed out while its pair is not stored")
	}
	fs.fail.Store(false)
	tok, err := src.Current(ctx)
	if err != nil || tok.AccessToken.Reveal() != "at-1" || fts.granted != 1 {
		t.Fatalf("tok %v err %v granted %d", tok, err, fts.granted)
	}
	if st, _ := store.Load(ctx, "loc1"); st.RefreshToken.Reveal() != "rt-1" {
		t.Fatalf("stored %v", st)
	}
}

func TestOAuthSourceProactiveRefresh(t *testing.T) {
	src, fts, _, _ := newOAuthFixture(t, 100)
	now := time.Now()
	src.opts.Clock = func() time.Time { return now }
	ctx := context.Background()
	if tok, _ := src.Current(ctx); tok.AccessToken.Reveal() != "at-0" {
		t.Fatalf("fresh token refreshed early: %v", tok)
	}
	now = now.Add(59 * time.Minute) // within RefreshBefore (2 min) of the 1 h expiry
	if tok, _ := src.Current(ctx); tok.AccessToken.Reveal() != "at-1" {
		t.Fatalf("not refreshed near expiry: %v", tok)
	}
	// ttl 100 s: refresh at 80 s (a fifth of the lifetime), not 2 min before.
	now = now.Add(79 * time.Second)
	if tok, _ := src.Current(ctx); tok.AccessToken.Reveal() != "at-1" {
		t.Fatalf("refreshed too early: %v", tok)
	}
	now = now.Add(2 * time.Second)
	if tok, _ := src.Current(ctx); tok.AccessToken.Reveal() != "at-2" || fts.granted != 2 {
		t.Fatalf("not refreshed at 4/5 of ttl: %v", tok)
	}
}

// TestFileTokenStoreStampsWithItsClock: saved_at comes from the store's clock (the
// service's), so a test or a replayed clock sees the time it set.
func TestFileTokenStoreStampsWithItsClock(t *testing.T) {
	at := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	s := &FileTokenStore{Path: filepath.Join(t.TempDir(), "tokens.json"), Clock: func() time.Time { return at }}
	if err := s.Save(context.Background(), "locA", Token{AccessToken: secret.New("at1"), LocationID: "locA"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	var ff fileFormat
	if err := json.Unmarshal(b, &ff); err != nil {
		t.Fatal(err)
	}
	if got := ff.Tokens["locA"].SavedAt; !got.Equal(at) {
		t.Fatalf("saved_at = %v, want the store clock's %v", got, at)
	}
}
