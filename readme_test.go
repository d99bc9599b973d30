package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeFirstSteps: the README starts with exactly the two set-up commands, says the
// first run builds, and its follow-up list names the commands a newcomer needs next, each a
// real command.
func TestReadmeFirstSteps(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(text, -1)
	if len(blocks) < 2 {
		t.Fatalf("README has %d sh blocks, want the set-up and the follow-ups", len(blocks))
	}
	var first []string
	for _, l := range strings.Split(strings.TrimSpace(blocks[0][1]), "\n") {
		cmd, _, _ := strings.Cut(l, "#")
		first = append(first, strings.TrimSpace(cmd))
	}
	if strings.Join(first, "; ") != "go run . demo; go test ./..." || !strings.HasPrefix(text, "# ptsync\n\n```sh\n") {
		t.Errorf("README starts with %q, want exactly `go run . demo` and `go test ./...`", first)
	}
	if !strings.Contains(text, "first `go run .` compiles") {
		t.Error("README does not say that the first run builds")
	}
	follow := blocks[1][1]
	cmds := commands()
	for _, want := range []string{"outbox", "check", "status", "backup"} {
		if !regexp.MustCompile(`(?m)^go run \. ` + want + ` `).MatchString(follow) {
			t.Errorf("the follow-up list lacks %s", want)
		}
	}
	if !strings.Contains(follow, "backup         --db ptsync-demo.db FILE") {
		t.Error("the follow-up list does not show backup FILE")
	}
	for _, m := range regexp.MustCompile(`(?m)^go run \. (\S+)`).FindAllStringSubmatch(follow, -1) {
		if _, ok := cmds[m[1]]; !ok && m[1] != "--version" {
			t.Errorf("the follow-up list names %q, which is not a command", m[1])
		}
	}
}
