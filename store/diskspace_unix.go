//go:build unix

package store

import (
	"fmt"
	"path/filepath"
	"syscall"
)

// DiskSpace is the room on the filesystem that holds a mirror.
type DiskSpace struct {
	Dir   string `json:"dir"`
	Free  uint64 `json:"freeBytes"`  // bytes an unprivileged writer may still use
	Total uint64 `json:"totalBytes"` // size of the filesystem
}

// SpaceBeside reports the free and total bytes of the filesystem holding path (a mirror
// file, which need not exist yet: its directory is asked).
func SpaceBeside(path string) (DiskSpace, error) {
	dir := filepath.Dir(path)
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return DiskSpace{Dir: dir}, fmt.Errorf("cannot read free space of %s: %w", dir, err)
	}
	bs := uint64(st.Bsize)
	return DiskSpace{Dir: dir, Free: uint64(st.Bavail) * bs, Total: uint64(st.Blocks) * bs}, nil
}
