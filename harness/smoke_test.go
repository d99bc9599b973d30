package harness

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// buildForTest builds ptsync once per test binary run into a temp dir.
func buildForTest(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, err := BuildBinary(ctx, "..", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestSmoke is the default-run version of both scenarios: a crash loop with three kills (one
// in the backfill) that also spends the refresh tokens once, as a kill in the refresh gap
// would, and a few seconds of faults without the outage. The full versions run in .ci/run
// (ptsync-harness) and under the soak tag.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := buildForTest(t)
	var progress bytes.Buffer
	// The default convergence bound (90 s) covers ghl.children_period (1 m): a task a coach adds
	// in PTD to an otherwise unchanged client is found by the children rotation, not by a cursor.
	o := Options{Bin: bin, Dir: t.TempDir(), Contacts: 10, ChurnRate: 6, Seed: 2, Progress: &progress}
	ctx := context.Background()
	var rs []Result
	t.Run("crash loop", func(t *testing.T) {
		r, err := CrashLoop(ctx, CrashOptions{Options: o, Kills: 3, MinUp: 300 * time.Millisecond, MaxUp: time.Second, TokenTTL: 3 * time.Second, SimulateTokenGap: true})
		if err != nil {
			t.Fatalf("%v\n%s", err, progress.String())
		}
		rs = append(rs, r)
		if !r.OK() || r.Kills != 3 || r.Edits == 0 {
			t.Errorf("crash loop: ok %v, %d kills, %d edits\n%s", r.OK(), r.Kills, r.Edits, progress.String())
		}
		if r.TokenGapKills < 1 {
			t.Errorf("the spent refresh tokens were not detected as a token gap\n%s", progress.String())
		}
	})
	t.Run("fault soak", func(t *testing.T) {
		r, err := Soak(ctx, SoakOptions{Options: o, Duration: 3 * time.Second, ExpireEvery: 50})
		if err != nil {
			t.Fatalf("%v\n%s", err, progress.String())
		}
		rs = append(rs, r)
		if !r.OK() || r.RSSStart == 0 || r.RSSEnd == 0 {
			t.Errorf("soak: ok %v, rss %d -> %d\n%s", r.OK(), r.RSSStart, r.RSSEnd, progress.String())
		}
	})
	var table bytes.Buffer
	PrintTable(&table, rs)
	t.Logf("\n%s", table.String())
}
