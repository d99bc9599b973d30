package query

import (
	"time"

	"ptsync/store"
)

// RunHCLOnly is Run with the compiled --where path disabled: HCL evaluates every record.
func RunHCLOnly(tx *store.Tx, req Request, now time.Time) (Result, error) {
	return NewCatalog(nil).run(tx, req, now, false)
}

// Compiles reports whether req's --where takes the compiled path.
func Compiles(req Request, now time.Time) bool {
	c, err := NewCatalog(nil).compile(req, now)
	return err == nil && c.fast != nil
}
