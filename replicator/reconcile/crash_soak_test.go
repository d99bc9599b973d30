//go:build soak

package reconcile_test

// The soak build kills the child fifty times.
func init() { crashKills = 50 }
