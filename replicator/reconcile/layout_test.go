package reconcile_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestStagesImportOneWay: the data flows poll → mirror → plan → outbox → push, and the
// imports follow it. The stages know the shared parts (kinds, mapping, outbox, remote) and
// the PTD poll's cursors, never each other's insides; the shared parts know no stage; only
// the Engine, here, ties them together. The go command answers, over everything a package
// reaches, so a new import anywhere in between is caught.
func TestStagesImportOneWay(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not installed")
	}
	const root = "ptsync/replicator/reconcile"
	stages := []string{root + "/plan", root + "/push", root + "/ptdpoll"}
	shared := []string{root + "/kinds", root + "/mapping", root + "/outbox", root + "/remote"}
	never := map[string][]string{ // package -> what it must not reach
		root + "/plan":    {root, root + "/push"},
		root + "/push":    {root, root + "/plan"},
		root + "/ptdpoll": {root, root + "/plan", root + "/push"},
	}
	for _, p := range shared {
		never[p] = append([]string{root}, stages...)
	}
	for pkg, banned := range never {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		for _, b := range banned {
			if slices.Contains(deps, b) {
				t.Errorf("%s reaches %s (go list -deps %s)", pkg, b, pkg)
			}
		}
	}
}
