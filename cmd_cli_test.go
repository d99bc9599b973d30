package main

import (
	"strings"
	"testing"
)

// TestVersionFlag: `ptsync --version` is the version command, not an unknown command.
func TestVersionFlag(t *testing.T) {
	for _, arg := range []string{"--version", "-version", "version"} {
		code, out, errs := runCLI(arg)
		if code != exitOK || !strings.HasPrefix(out, "ptsync ") || errs != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", arg, code, out, errs)
		}
	}
	if code, _, errs := runCLI("--frobnicate"); code != exitUsage || !strings.Contains(errs, "unknown flag") {
		t.Errorf("--frobnicate: exit %d, stderr %q", code, errs)
	}
}

// TestUnknownFlagIsTerse: a bad flag prints the complaint, the command's synopsis and how to
// see every flag (at most a handful of lines), exit 2; -h still prints every flag, exit 0.
func TestUnknownFlagIsTerse(t *testing.T) {
	for name := range commands() {
		if name == "version" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			code, _, errs := runCLI(name, "--no-such-flag")
			lines := strings.Count(errs, "\n")
			if code != exitUsage || lines > 5 || !strings.Contains(errs, "not defined: -no-such-flag") ||
				!strings.Contains(errs, "ptsync "+name+" -h' for every flag") {
				t.Errorf("exit %d, %d lines:\n%s", code, lines, errs)
			}
			code, _, help := runCLI(name, "-h")
			if code != exitOK || !strings.Contains(help, "  -") {
				t.Errorf("-h: exit %d, no flag list:\n%s", code, help)
			}
		})
	}
}
