//go:build race

package ghl

// raceEnabled: the race detector slows every request several-fold, so timing figures are
// logged but not judged.
const raceEnabled = true
