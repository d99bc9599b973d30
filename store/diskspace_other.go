//go:build !unix

package store

import (
	"errors"
	"path/filepath"
)

// DiskSpace is the room on the filesystem that holds a mirror.
type DiskSpace struct {
	Dir   string `json:"dir"`
	Free  uint64 `json:"freeBytes"`
	Total uint64 `json:"totalBytes"`
}

// SpaceBeside is not available on this platform.
func SpaceBeside(path string) (DiskSpace, error) {
	return DiskSpace{Dir: filepath.Dir(path)}, errors.New("cannot read free space on this platform")
}
