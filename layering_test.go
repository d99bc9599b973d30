package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestServiceLinksNoSimulator: the service side (replicator, store, diff, apiclient, config,
// metrics and everything below them) must not link a simulator, whatever reaches it, and
// the lower layers keep the directions DESIGN.md §2 draws. The go command answers, so a new
// import anywhere in the closure is caught, not only in the files a reviewer reads.
func TestServiceLinksNoSimulator(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not installed")
	}
	for _, rule := range []struct {
		name     string
		patterns []string
		banned   string
	}{
		{"the service links no simulator", []string{"./replicator/...", "./store/...", "./diff/...", "./apiclient/...",
			"./config/...", "./metrics/..."}, "ptsync/sim"},
		{"config depends on no remote system", []string{"./config/..."}, "ptsync/apiclient"},
		{"diff imports nothing of ours", []string{"./diff"}, "ptsync/"},
	} {
		t.Run(rule.name, func(t *testing.T) {
			own := map[string]bool{} // the packages the patterns name may import each other
			for _, p := range goList(t, append([]string{"list"}, rule.patterns...)...) {
				own[p] = true
			}
			for _, line := range goList(t, append([]string{"list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}"}, rule.patterns...)...) {
				fields := strings.Fields(line)
				if strings.HasPrefix(fields[0], rule.banned) && !own[fields[0]] {
					continue // reached only through an importer reported below
				}
				for _, imp := range fields[1:] {
					if strings.HasPrefix(imp, rule.banned) && !own[imp] {
						t.Errorf("%s imports %s (go list -deps %s)", fields[0], imp, strings.Join(rule.patterns, " "))
					}
				}
			}
		})
	}
}

// goList runs the go command with args and returns its output's lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}
