package replicator

import (
	"context"
	"testing"
	"time"
)

// runService opens a service built from o (no systemd notifications, no watchdog) and runs
// it until the test ends, then closes it.
func runService(t *testing.T, ctx context.Context, o Options) *Service {
	t.Helper()
	noWatchdog := time.Duration(0)
	o.Notify, o.WatchdogInterval = func(string) error { return nil }, &noWatchdog
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		<-done
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}
