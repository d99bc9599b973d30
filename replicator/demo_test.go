package replicator

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestDemoOnceMirrorsEverything runs the demo code path (both simulators, the real service,
// HTTP on loopback) with a small N and compares the mirror with the simulator's snapshot.
func TestDemoOnceMirrorsEverything(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db := filepath.Join(t.TempDir(), "demo.db")
	d, err := StartDemo(ctx, DemoOptions{Contacts: 150, Seed: 7, DBPath: db, BurstInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	sum := d.Summary()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("summary: %+v", sum)
	compareMirror(t, db, d)
}
