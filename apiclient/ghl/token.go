package ghl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"ptsync/internal/secret"
)

// Token is one location's credentials as stored: the OAuth pair with what was granted, or a
// Private Integration Token (RefreshToken empty, Expiry zero). Every formatting path redacts
// the two secrets.
type Token struct {
	AccessToken  Secret
	RefreshToken Secret
	TokenType    string
	Expiry       time.Time // zero: does not expire (PIT)
	Scopes       []string  // granted scopes
	LocationID   string
	UserType     string // "Location" | "Company"
	CompanyID    string
	UserID       string
}

// String prints the token's metadata with the secrets redacted.
func (t Token) String() string {
	return fmt.Sprintf("Token{location=%s scopes=%q expiry=%s access=%s refresh=%s}",
		t.LocationID, strings.Join(t.Scopes, " "), t.Expiry.UTC().Format(time.RFC3339), t.AccessToken, t.RefreshToken)
}

// GoString redacts like String.
func (t Token) GoString() string { return "ghl." + t.String() }

// Format redacts for every verb.
func (t Token) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(t.String())) }

// MarshalJSON writes the metadata with the secrets redacted. The file store uses its own
// private encoding; this one exists so that a Token never leaks through JSON by accident.
func (t Token) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		AccessToken  Secret    `json:"access_token"`
		RefreshToken Secret    `json:"refresh_token,omitempty"`
		Expiry       time.Time `json:"expiry"`
		Scopes       []string  `json:"scopes"`
		LocationID   string    `json:"location_id"`
	}{t.AccessToken, t.RefreshToken, t.Expiry, t.Scopes, t.LocationID})
}

// ReadOnly reports whether the token grants contacts.readonly without contacts.write.
// A token with no scope information is not considered read-only (HighLevel decides).
func (t Token) ReadOnly() bool { return scopesReadOnly(t.Scopes) }

func scopesReadOnly(scopes []string) bool {
	var ro, rw bool
	for _, s := range scopes {
		switch s {
		case "contacts.readonly":
			ro = true
		case "contacts.write":
			rw = true
		}
	}
	return ro && !rw
}

// TokenStore persists tokens per location. Implementations must make Save durable before
// returning nil (the refresh token it replaces is already dead on the server), and must be
// safe for concurrent use. Load returns an error matching ErrNoToken when nothing is stored.
type TokenStore interface {
	Load(ctx context.Context, location string) (Token, error)
	Save(ctx context.Context, location string, tok Token) error
}

// FileTokenStore keeps tokens in one JSON file (mode 0600) keyed by location. Save writes a
// temporary file in the same directory, fsyncs it, renames it over the old file and fsyncs
// the directory, so a crash leaves either the old or the new content, never a mix. Load
// refuses a file that any group or other user can access.
//
// One process should own a file: concurrent Saves within a process are serialized, but two
// processes saving at once may lose one of the writes.
type FileTokenStore struct {
	Path string
	// Clock stamps each saved token's saved_at (nil means time.Now); set it before first use.
	Clock func() time.Time
	mu    sync.Mutex
}

var _ TokenStore = (*FileTokenStore)(nil)

// NewFileTokenStore returns a store over path; the file need not exist yet.
func NewFileTokenStore(path string) *FileTokenStore { return &FileTokenStore{Path: path} }

func (s *FileTokenStore) now() time.Time {
	clock := s.Clock
	if clock == nil {
		clock = time.Now
	}
	return clock()
}

// fileFormat is the on-disk shape. Version lets a later release migrate the file.
type fileFormat struct {
	Version int                  `json:"version"`
	Tokens  map[string]fileToken `json:"tokens"`
}

type fileToken struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Scopes       []string  `json:"scopes,omitempty"`
	LocationID   string    `json:"location_id,omitempty"`
	UserType     string    `json:"user_type,omitempty"`
	CompanyID    string    `json:"company_id,omitempty"`
	UserID       string    `json:"user_id,omitempty"`
	SavedAt      time.Time `json:"saved_at"`
}

// Load reads the file afresh and returns the token stored for location. A missing file, or
// one without the location, is an error matching ErrNoToken that tells the operator to run
// `ptsync auth`; a file group or others may read is refused (the tokens may have leaked).
// Safe for concurrent use with Save.
func (s *FileTokenStore) Load(_ context.Context, location string) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ff, err := s.read(true)
	if err != nil {
		return Token{}, err
	}
	ft, ok := ff.Tokens[location]
	if !ok {
		return Token{}, fmt.Errorf("cannot load token for location %s from %s: %w; run `ptsync auth`", location, s.Path, ErrNoToken)
	}
	return Token{
		AccessToken: secret.New(ft.AccessToken), RefreshToken: secret.New(ft.RefreshToken), TokenType: ft.TokenType,
		Expiry: ft.Expiry, Scopes: ft.Scopes, LocationID: ft.LocationID, UserType: ft.UserType,
		CompanyID: ft.CompanyID, UserID: ft.UserID,
	}, nil
}

// Locations reads the file afresh and lists the locations it holds tokens for, in no
// particular order; a missing or readable-by-others file fails as it does for Load.
func (s *FileTokenStore) Locations() ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ff, err := s.read(true)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ff.Tokens))
	for k := range ff.Tokens {
		out = append(out, k)
	}
	return out, nil
}

// read loads the whole file; a missing file is an empty store wrapped as ErrNoToken.
// checkMode refuses a file others can access (Save skips it: it rewrites the file 0600, and
// refusing would lose a rotated refresh token).
func (s *FileTokenStore) read(checkMode bool) (fileFormat, error) {
	f, err := os.Open(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileFormat{}, fmt.Errorf("cannot load token file %s: %w; run `ptsync auth`", s.Path, ErrNoToken)
	}
	if err != nil {
		return fileFormat{}, fmt.Errorf("cannot open token file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fileFormat{}, fmt.Errorf("cannot stat token file %s: %w", s.Path, err)
	}
	if perm := st.Mode().Perm(); checkMode && perm&0o077 != 0 {
		return fileFormat{}, fmt.Errorf("cannot load token file %s: mode %04o lets group or others read it; run `chmod 600 %s` (and rotate the tokens if others may have read them)", s.Path, perm, s.Path)
	}
	var ff fileFormat
	dec := json.NewDecoder(f)
	if err := dec.Decode(&ff); err != nil {
		return fileFormat{}, fmt.Errorf("cannot decode token file %s: %w", s.Path, err)
	}
	if ff.Version != 1 {
		return fileFormat{}, fmt.Errorf("cannot load token file %s: unsupported version %d", s.Path, ff.Version)
	}
	if ff.Tokens == nil {
		ff.Tokens = map[string]fileToken{}
	}
	return ff, nil
}

// Save stores tok for location durably (see the type's comment). Other locations in the file
// are kept. On error the previous file is left untouched. A file that others could read is
// replaced by a 0600 one (the exposed content was already exposed; losing a rotated refresh
// token would be worse).
func (s *FileTokenStore) Save(_ context.Context, location string, tok Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ff, err := s.read(false)
	if err != nil && !errors.Is(err, ErrNoToken) {
		return fmt.Errorf("cannot save token for location %s: %w", location, err)
	}
	if ff.Tokens == nil {
		ff = fileFormat{Version: 1, Tokens: map[string]fileToken{}}
	}
	ff.Tokens[location] = fileToken{
		AccessToken: tok.AccessToken.Reveal(), RefreshToken: tok.RefreshToken.Reveal(), TokenType: tok.TokenType,
		Expiry: tok.Expiry, Scopes: tok.Scopes, LocationID: tok.LocationID, UserType: tok.UserType,
		CompanyID: tok.CompanyID, UserID: tok.UserID, SavedAt: s.now().UTC(),
	}
	data, err := json.MarshalIndent(ff, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode token file: %w", err)
	}
	return writeFileDurably(s.Path, append(data, '\n'))
}

// writeFileDurably replaces path with data: temp file in the same directory (0600), fsync,
// rename, fsync of the directory.
func writeFileDurably(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("cannot create temporary token file in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("cannot chmod temporary token file: %w", err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("cannot write temporary token file: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("cannot fsync temporary token file: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("cannot close temporary token file: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("cannot rename token file into place: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cannot open token directory %s: %w", dir, err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("cannot fsync token directory %s: %w", dir, err)
	}
	return nil
}
