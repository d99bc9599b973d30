// Package metricsdoc reads the machine-readable tables of docs/metrics.md, so tests can hold
// the code, the running service, the dashboard and the alert rules to the documentation.
//
// The format it reads, which docs/metrics.md describes for its editors: under the heading
// "## Metrics", a table whose rows start with "| `ptsync_...` |" and whose next two cells are
// the type and the label names in backticks ("none" for no labels), each optionally followed by
// its values in parentheses; and under "### Series that wait for their first value" a table
// whose rows name such families in their first cell. Rows may be added in any order; other
// tables and text are ignored.
package metricsdoc

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Family is one documented metric family.
type Family struct {
	Name string
	// Type is counter, gauge, histogram or summary.
	Type string
	// Labels are the label names, sorted.
	Labels []string
	// Line is the row's line number in the file, for messages.
	Line int
}

// Doc is what docs/metrics.md documents.
type Doc struct {
	// Families by name.
	Families map[string]Family
	// Waiting names the families that have no series until their first event.
	Waiting map[string]bool
}

const (
	metricsHeading = "## Metrics"
	waitingHeading = "### Series that wait for their first value"
)

var (
	rowRE   = regexp.MustCompile("^\\| `(ptsync_[a-z0-9_]+)` \\|")
	parenRE = regexp.MustCompile(`\([^()]*\)`)
	tickRE  = regexp.MustCompile("`([a-z_][a-z0-9_]*)`")
)

// ReadFile opens path (docs/metrics.md) and Parses it; a file that cannot be opened, or any
// problem Parse reports, is an error.
func ReadFile(path string) (Doc, error) {
	f, err := os.Open(path)
	if err != nil {
		return Doc{}, fmt.Errorf("cannot read metric docs: %w", err)
	}
	defer f.Close()
	d, err := Parse(f)
	if err != nil {
		return Doc{}, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// Parse reads the two tables from r. A family documented twice, a row whose type or labels
// cannot be read, a waiting family not in the main table, or a main table of fewer than ten
// rows (the format changed?) is an error naming the line.
func Parse(r io.Reader) (Doc, error) {
	d := Doc{Families: map[string]Family{}, Waiting: map[string]bool{}}
	section := ""
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			section = strings.TrimSpace(line)
			continue
		}
		m := rowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		switch section {
		case metricsHeading:
			f, err := parseRow(m[1], line, n)
			if err != nil {
				return d, err
			}
			if prev, dup := d.Families[f.Name]; dup {
				return d, fmt.Errorf("line %d: %s documented twice (first on line %d)", n, f.Name, prev.Line)
			}
			d.Families[f.Name] = f
		case waitingHeading:
			d.Waiting[m[1]] = true
		}
	}
	if err := sc.Err(); err != nil {
		return d, err
	}
	if len(d.Families) < 10 {
		return d, fmt.Errorf("found only %d metric rows under %q; has the table format changed?", len(d.Families), metricsHeading)
	}
	for name := range d.Waiting {
		if _, ok := d.Families[name]; !ok {
			return d, fmt.Errorf("%s is listed under %q but not in the metrics table", name, waitingHeading)
		}
	}
	return d, nil
}

func parseRow(name, line string, n int) (Family, error) {
	cells := strings.Split(line, "|")
	// "", name, type, labels, meaning, ...
	if len(cells) < 5 {
		return Family{}, fmt.Errorf("line %d: %s: want at least the name, type and labels cells", n, name)
	}
	typ := strings.TrimSpace(cells[2])
	if !slices.Contains([]string{"counter", "gauge", "histogram", "summary"}, typ) {
		return Family{}, fmt.Errorf("line %d: %s: type %q is not counter, gauge, histogram or summary", n, name, typ)
	}
	cell := strings.TrimSpace(cells[3])
	labels := []string{}
	if cell != "none" {
		for _, m := range tickRE.FindAllStringSubmatch(parenRE.ReplaceAllString(cell, ""), -1) {
			labels = append(labels, m[1])
		}
		if len(labels) == 0 {
			return Family{}, fmt.Errorf("line %d: %s: labels cell %q names no label in backticks (write none for no labels)", n, name, cell)
		}
	}
	slices.Sort(labels)
	return Family{Name: name, Type: typ, Labels: labels, Line: n}, nil
}

// Names returns the documented family names.
func (d Doc) Names() map[string]bool {
	out := map[string]bool{}
	for name := range d.Families {
		out[name] = true
	}
	return out
}
