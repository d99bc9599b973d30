package store

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// AdminInfo is the content of the "<db>.admin" file the service writes next to the mirror so
// that offline commands can reach its loopback admin endpoint while it holds the file lock.
// Token authenticates those commands (the file is 0600, so only the service's user can read
// it); it is never logged (String redacts it).
type AdminInfo struct {
	Addr      string    `json:"addr"` // host:port, loopback only
	Token     string    `json:"token"`
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"startedAt"`
}

// String redacts the token.
func (a AdminInfo) String() string {
	return fmt.Sprintf("admin endpoint %s (pid %d)", a.Addr, a.PID)
}

// GoString redacts the token.
func (a AdminInfo) GoString() string { return a.String() }

// ErrNoAdmin: there is no admin file next to the mirror (no ptsync service announced itself).
var ErrNoAdmin = errors.New("no admin endpoint file")

// AdminPath returns where the admin file of the mirror at dbPath lives.
func AdminPath(dbPath string) string { return dbPath + ".admin" }

// NewAdminToken returns a random token for AdminInfo.Token.
func NewAdminToken() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("cannot generate admin token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// WriteAdminAddr atomically writes the admin file (mode 0600) for the mirror at dbPath. The
// address must be a loopback host:port. The service calls it after its listener is up and
// RemoveAdminAddr on shutdown; a stale file left by a crash is harmless (callers time out).
func WriteAdminAddr(dbPath string, info AdminInfo) error {
	if err := checkLoopback(info.Addr); err != nil {
		return fmt.Errorf("cannot write admin file: %w", err)
	}
	data, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("cannot encode admin file: %w", err)
	}
	return WriteFileAtomic(AdminPath(dbPath), 0o600, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// ReadAdminAddr reads the admin file of the mirror at dbPath: ErrNoAdmin if absent, an error
// naming the file if it is malformed or not a loopback address.
func ReadAdminAddr(dbPath string) (AdminInfo, error) {
	var info AdminInfo
	p := AdminPath(dbPath)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return info, fmt.Errorf("cannot read %s: %w", p, ErrNoAdmin)
	}
	if err != nil {
		return info, fmt.Errorf("cannot read admin file %s: %w", p, err)
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("cannot decode admin file %s: %w", p, err)
	}
	if err := checkLoopback(info.Addr); err != nil {
		return info, fmt.Errorf("cannot use admin file %s: %w", p, err)
	}
	return info, nil
}

// RemoveAdminAddr deletes the admin file; absent is not an error.
func RemoveAdminAddr(dbPath string) error {
	if err := os.Remove(AdminPath(dbPath)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cannot remove admin file: %w", err)
	}
	return nil
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("admin address %q is not host:port: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("admin address %q is not a loopback address", addr)
	}
	return nil
}

// WriteFileAtomic writes path through write: into a temporary file in the same directory,
// fsynced, renamed over path, then the directory fsynced. Readers see the old file or the
// complete new one; on failure path is untouched and the temporary file removed.
func WriteFileAtomic(path string, perm os.FileMode, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("cannot create temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("cannot set mode of %s: %w", tmp, err)
	}
	if err = write(f); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("cannot sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("cannot close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cannot rename %s to %s: %w", tmp, path, err)
	}
	d, derr := os.Open(dir)
	if derr != nil {
		return nil // the rename happened; a directory we cannot open cannot be synced
	}
	defer d.Close()
	if serr := d.Sync(); serr != nil {
		return fmt.Errorf("cannot sync directory %s: %w", dir, serr)
	}
	return nil
}
