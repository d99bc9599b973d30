//go:build soak

package diff

import (
	"math/rand/v2"
	"testing"
)

// TestMergePropertiesSoak is TestMergeProperties with many more records and seeds; run it with
// `go test -tags soak -run Soak ./diff/`.
func TestMergePropertiesSoak(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, seed*7919))
		for i := range 20000 {
			specs, base, ghl, ptd, opts := randScenario(r)
			if err := checkMergeProperties(specs, base, ghl, ptd, opts); err != nil {
				t.Fatalf("seed %d iteration %d: %v\nspecs %+v\nbase %+v\nghl %+v\nptd %+v", seed, i, err, specs, base, ghl, ptd)
			}
		}
	}
}
