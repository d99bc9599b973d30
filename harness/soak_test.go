//go:build soak

package harness

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"
)

// TestLongCrashLoopAndSoak is the long run: K = 200 kills, then a 10-minute fault soak with
// the outage (PTSYNC_SOAK_MINUTES overrides the minutes). go test -tags soak -timeout 2h ./harness/
func TestLongCrashLoopAndSoak(t *testing.T) {
	bin := buildForTest(t)
	minutes := 10 * time.Minute
	if v := os.Getenv("PTSYNC_SOAK_MINUTES"); v != "" {
		d, err := time.ParseDuration(v + "m")
		if err != nil {
			t.Fatalf("PTSYNC_SOAK_MINUTES=%q: %v", v, err)
		}
		minutes = d
	}
	var progress bytes.Buffer
	o := Options{Bin: bin, Dir: t.TempDir(), Contacts: 200, ChurnRate: 10, Seed: 3, ConvergeTimeout: 3 * time.Minute, Progress: &progress}
	ctx := context.Background()
	var rs []Result
	cr, err := CrashLoop(ctx, CrashOptions{Options: o, Kills: 200})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	rs = append(rs, cr)
	sr, err := Soak(ctx, SoakOptions{Options: o, Duration: minutes, Outage: true})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	rs = append(rs, sr)
	var table bytes.Buffer
	PrintTable(&table, rs)
	t.Logf("\n%s", table.String())
	for _, r := range rs {
		if !r.OK() {
			t.Errorf("%s did not hold its guarantees", r.Scenario)
		}
	}
}
