//go:build soak

package store_test

import "testing"

// TestCrashDuringBulkLoadSoak is TestCrashDuringBulkLoad with 20 kills, at least 5 of them
// during the index build.
func TestCrashDuringBulkLoadSoak(t *testing.T) { crashDuringBulkLoad(t, 20, 5) }
