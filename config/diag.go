package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// ErrInvalid is matched (errors.Is) by every error Parse and Load return for a configuration
// that cannot be used: unreadable, malformed or semantically wrong.
var ErrInvalid = errors.New("invalid configuration")

// ErrEval is matched (errors.Is) by the errors Route.Match returns when a condition cannot be
// evaluated for a contact; the configuration itself was valid.
var ErrEval = errors.New("cannot evaluate route condition")

// Error is returned by Parse, Load and Route.Match. It carries every problem found, not only
// the first, each with the position it refers to. Error() renders them one per line as
//
//	file:line:col: summary: detail
//
// sorted by position, which is the single format every ptsync command prints.
type Error struct {
	Diagnostics hcl.Diagnostics
	cause       error // ErrInvalid when nil
}

// Error renders all error and warning diagnostics, one per line, warnings marked "warning:".
func (e *Error) Error() string {
	return FormatDiagnostics(e.Diagnostics)
}

// Unwrap lets callers test errors.Is(err, ErrInvalid) (Parse, Load) or errors.Is(err, ErrEval)
// (Route.Match).
func (e *Error) Unwrap() error {
	if e.cause != nil {
		return e.cause
	}
	return ErrInvalid
}

// FormatDiagnostics renders diags in the one-line form `file:line:col: summary: detail`, one
// per line without a trailing newline, ordered by file and position (diagnostics without a
// position first). Newlines inside details are folded into spaces so each problem stays on
// one line for grep and journald.
func FormatDiagnostics(diags hcl.Diagnostics) string {
	sorted := make(hcl.Diagnostics, len(diags))
	copy(sorted, diags)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i].Subject, sorted[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		case a.Start.Line != b.Start.Line:
			return a.Start.Line < b.Start.Line
		default:
			return a.Start.Column < b.Start.Column
		}
	})
	lines := make([]string, 0, len(sorted))
	for _, d := range sorted {
		lines = append(lines, formatDiagnostic(d))
	}
	return strings.Join(lines, "\n")
}

func formatDiagnostic(d *hcl.Diagnostic) string {
	var b strings.Builder
	if d.Subject != nil {
		fmt.Fprintf(&b, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
	}
	if d.Severity == hcl.DiagWarning {
		b.WriteString("warning: ")
	}
	b.WriteString(oneLine(d.Summary))
	if d.Detail != "" {
		b.WriteString(": ")
		b.WriteString(oneLine(d.Detail))
	}
	return b.String()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
