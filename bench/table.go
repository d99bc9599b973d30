package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// row is one line of the result table: a ptsync figure, the baseline measured in the same
// run, their ratio and, where the issue sets one, the target and whether it was met.
type row struct {
	Section  string
	Metric   string
	Value    string
	Baseline string
	Ratio    string
	Target   string
	Verdict  string // "met", "MISSED" or empty when there is no target
}

// table is the run's result, printed as Markdown so docs/performance.md can hold it verbatim.
type table struct{ rows []row }

func (t *table) write(w io.Writer) {
	header := []string{"section", "metric", "ptsync", "baseline (same run)", "ratio", "target", "verdict"}
	cells := [][]string{header}
	for _, r := range t.rows {
		cells = append(cells, []string{r.Section, r.Metric, r.Value, r.Baseline, r.Ratio, r.Target, r.Verdict})
	}
	widths := make([]int, len(header))
	for _, c := range cells {
		for i, s := range c {
			widths[i] = max(widths[i], len(s))
		}
	}
	line := func(c []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, s := range c {
			fmt.Fprintf(&b, " %-*s |", widths[i], s)
		}
		fmt.Fprintln(w, b.String())
	}
	line(cells[0])
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = strings.Repeat("-", widths[i])
	}
	line(sep)
	for _, c := range cells[1:] {
		line(c)
	}
}

// verdict returns "met" when ok, else "MISSED".
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// ratio formats a/b as "0.97x", or "n/a" when b is zero.
func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.3gx", a/b)
}

// dur formats a duration with three significant figures in a fitting unit.
func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.3gs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.3gms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.3gµs", float64(d)/float64(time.Microsecond))
	}
}

// num formats a count with thousands separators.
func num(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// rate formats a per-second figure.
func rate(n float64) string {
	switch {
	case n >= 10_000:
		return num(int64(n + 0.5))
	case n >= 100:
		return fmt.Sprintf("%.0f", n)
	default:
		return fmt.Sprintf("%.3g", n)
	}
}
