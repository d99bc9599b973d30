package metricsdoc

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	var b strings.Builder
	b.WriteString("# doc\n\n## Metrics\n\n| name | type | labels | meaning |\n|---|---|---|---|\n")
	b.WriteString("| `ptsync_a_total` | counter | `x`, `result` (`ok`, `error`) | a |\n")
	b.WriteString("| `ptsync_b` | gauge | none | b |\n")
	for i := range 9 {
		b.WriteString("| `ptsync_c" + string(rune('a'+i)) + "` | histogram | `job` | c |\n")
	}
	b.WriteString("\n### Series that wait for their first value\n\n| `ptsync_b` | later | why |\n")
	b.WriteString("\n## Other\n\n| `ptsync_a_total` | counter | `y` | ignored outside the sections |\n")
	d, err := Parse(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if f := d.Families["ptsync_a_total"]; f.Type != "counter" || !slices.Equal(f.Labels, []string{"result", "x"}) {
		t.Errorf("ptsync_a_total = %+v", f)
	}
	if f := d.Families["ptsync_b"]; len(f.Labels) != 0 || !d.Waiting["ptsync_b"] {
		t.Errorf("ptsync_b = %+v, waiting %v", f, d.Waiting)
	}
	for _, bad := range []struct{ name, row, want string }{
		{"bad type", "| `ptsync_z` | gauges | none | z |\n", "type \"gauges\""},
		{"no labels", "| `ptsync_z` | gauge | - | z |\n", "names no label"},
		{"duplicate", "| `ptsync_b` | gauge | none | z |\n", "documented twice"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			src := strings.Replace(b.String(), "| `ptsync_b` | gauge | none | b |\n", "| `ptsync_b` | gauge | none | b |\n"+bad.row, 1)
			if _, err := Parse(strings.NewReader(src)); err == nil || !strings.Contains(err.Error(), bad.want) {
				t.Errorf("error %v, want %q", err, bad.want)
			}
		})
	}
}

// TestTheRealDoc parses docs/metrics.md itself.
func TestTheRealDoc(t *testing.T) {
	d, err := ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	if f := d.Families["ptsync_webhooks_total"]; !slices.Equal(f.Labels, []string{"result", "scheme", "source"}) {
		t.Errorf("ptsync_webhooks_total labels = %q", f.Labels)
	}
	if len(d.Waiting) == 0 {
		t.Error("no waiting families parsed")
	}
}
