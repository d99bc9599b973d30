package cluster

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"ptsync/store"
)

// Snapshots keeps copies of locations' mirrors in a directory every replica can read and
// write (a shared file system): <Dir>/<location>/<unix-nanoseconds>-<replica>.db. Names sort
// by time, so the newest is the last; Keep older ones stay for an operator, the rest are
// removed after each save. Files are written atomically (temporary file, fsync, rename), so a
// reader never sees half a snapshot. A Snapshots is safe for concurrent use across
// locations; callers serialise saves of one location.
type Snapshots struct {
	Dir     string
	Replica string
	// Keep is how many snapshots of a location survive a save (default 3).
	Keep int
	// Now stamps the snapshots (default time.Now).
	Now func() time.Time
}

// ErrNoSnapshot is returned by Newest when a location has no snapshot yet.
var ErrNoSnapshot = errors.New("no snapshot")

// Snapshot names one stored snapshot.
type Snapshot struct {
	Path    string
	Taken   time.Time
	Replica string
}

var (
	locationIDRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	snapshotNameRE = regexp.MustCompile(`^(\d{19,20})-([a-z0-9-]+)\.db$`)
)

// checkID refuses ids that could escape the directory or collide on a case-folding file
// system's path rules (HighLevel location ids are alphanumeric).
func checkID(id string) error {
	if !locationIDRE.MatchString(id) {
		return fmt.Errorf("location id %q: only letters, digits, '_' and '-' are allowed", id)
	}
	return nil
}

// Save writes a new snapshot of id with write (a consistent copy of the mirror, such as
// store.DB.Backup) and prunes the oldest beyond Keep. On failure no new file remains.
func (s *Snapshots) Save(id string, write func(io.Writer) error) (Snapshot, error) {
	if err := checkID(id); err != nil {
		return Snapshot{}, fmt.Errorf("cannot save snapshot: %w", err)
	}
	dir := filepath.Join(s.Dir, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Snapshot{}, fmt.Errorf("cannot save snapshot of %s: %w", id, err)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	taken := now().UTC()
	snap := Snapshot{Taken: taken, Replica: s.Replica,
		Path: filepath.Join(dir, fmt.Sprintf("%020d-%s.db", taken.UnixNano(), s.Replica))}
	if err := store.WriteFileAtomic(snap.Path, 0o600, write); err != nil {
		return Snapshot{}, fmt.Errorf("cannot save snapshot of %s: %w", id, err)
	}
	return snap, s.prune(id)
}

// SaveFile snapshots a mirror file that no process has open (a stopped location's).
func (s *Snapshots) SaveFile(id, path string) (Snapshot, error) {
	return s.Save(id, func(w io.Writer) error { return copyFile(w, path) })
}

// list returns id's snapshots, oldest first; files that are not snapshots are ignored.
func (s *Snapshots) list(id string) ([]Snapshot, error) {
	entries, err := os.ReadDir(filepath.Join(s.Dir, id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot list snapshots of %s: %w", id, err)
	}
	var out []Snapshot
	for _, e := range entries {
		m := snapshotNameRE.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		ns, _ := strconv.ParseInt(m[1], 10, 64)
		out = append(out, Snapshot{Path: filepath.Join(s.Dir, id, e.Name()), Taken: time.Unix(0, ns).UTC(), Replica: m[2]})
	}
	sort.Slice(out, func(i, j int) bool { return strings.Compare(out[i].Path, out[j].Path) < 0 })
	return out, nil
}

// Newest returns id's newest snapshot, or ErrNoSnapshot.
func (s *Snapshots) Newest(id string) (Snapshot, error) {
	if err := checkID(id); err != nil {
		return Snapshot{}, fmt.Errorf("cannot find snapshot: %w", err)
	}
	all, err := s.list(id)
	if err != nil {
		return Snapshot{}, err
	}
	if len(all) == 0 {
		return Snapshot{}, fmt.Errorf("cannot find snapshot of %s: %w", id, ErrNoSnapshot)
	}
	return all[len(all)-1], nil
}

// Restore copies snap over the mirror file dst atomically; dst must not be open.
func (s *Snapshots) Restore(snap Snapshot, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("cannot restore %s: %w", snap.Path, err)
	}
	if err := store.WriteFileAtomic(dst, 0o600, func(w io.Writer) error { return copyFile(w, snap.Path) }); err != nil {
		return fmt.Errorf("cannot restore %s: %w", snap.Path, err)
	}
	return nil
}

func (s *Snapshots) prune(id string) error {
	keep := s.Keep
	if keep <= 0 {
		keep = 3
	}
	all, err := s.list(id)
	if err != nil {
		return err
	}
	for len(all) > keep {
		if err := os.Remove(all[0].Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cannot prune snapshot %s: %w", all[0].Path, err)
		}
		all = all[1:]
	}
	return nil
}

func copyFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
