package demo

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"ptsync/replicator/ingest"
)

// TestSummaryTryNextSpeaksTheReadersCommand: a reader who ran `go run . demo` gets `go run .`
// lines, and under --once the metrics URL, dead once the demo exits, is not printed.
func TestSummaryTryNextSpeaksTheReadersCommand(t *testing.T) {
	s := Summary{DBPath: "ptsync-demo.db", ConfigPath: "ptsync-demo.hcl", Example: "a@example.com",
		MetricsURL: "http://127.0.0.1:1/metrics", Once: true, Command: "go run ."}
	var out bytes.Buffer
	s.Print(&out)
	text := out.String()
	for _, want := range []string{"  go run . query contacts --db ptsync-demo.db", "  go run . show contact a@example.com",
		"  go run . plan --config ptsync-demo.hcl", "  go run . status --db ptsync-demo.db"} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "  ptsync ") || strings.Contains(text, s.MetricsURL) {
		t.Errorf("summary under --once names ptsync or the dead metrics URL:\n%s", text)
	}
	s.Once, s.Command = false, ""
	out.Reset()
	s.Print(&out)
	if !strings.Contains(out.String(), "  ptsync query contacts") || !strings.Contains(out.String(), s.MetricsURL) {
		t.Errorf("live summary lacks ptsync lines or the metrics URL:\n%s", out.String())
	}
}

// TestProgressETAKeepsFractions: 9 contacts left at 10 a second is about a second, not 0 s
// (the float was converted to a Duration before it was multiplied by a second).
func TestProgressETAKeepsFractions(t *testing.T) {
	var out bytes.Buffer
	b := newProgressBar(&out, false, time.Now, nil)
	b.update(ingest.Progress{Phase: ingest.PhaseChildren, Done: 0, Total: 20})
	b.phaseStart = time.Now().Add(-time.Second) // 11 done in the first second
	b.last = time.Time{}
	b.update(ingest.Progress{Phase: ingest.PhaseChildren, Done: 11, Total: 20})
	if !strings.Contains(out.String(), "ETA 1s") {
		t.Errorf("want ETA 1s for 9 left at 11/s:\n%s", out.String())
	}
}
