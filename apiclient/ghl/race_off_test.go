//go:build !race

package ghl

const raceEnabled = false
