package store_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ptsync/store"
	"ptsync/store/storetest"
)

// TestCheckWhileWriting runs Check repeatedly while another goroutine commits page after
// page (puts and deletes, so pages are freed all the time), the way the service answers
// `ptsync check` while it syncs. bbolt's page check must not see the writer's freshly
// freed pages as "reachable freed" (it did when it ran in a read transaction).
func TestCheckWhileWriting(t *testing.T) {
	db, _, _ := storetest.Open(t)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for round := 0; !stop.Load(); round++ {
			writeErr = db.Update(func(tx *store.Tx) error {
				for i := range 50 {
					id := fmt.Sprintf("w-%d-%d", round%4, i)
					if round >= 4 {
						if err := tx.DeleteGHLContact(id); err != nil {
							return err
						}
					}
					c := store.GHLContact{ID: id, Tags: []string{"written"}, DateUpdated: storetest.Now().Add(-time.Hour),
						Raw: []byte(fmt.Sprintf(`{"id":%q,"pad":"%0300d"}`, id, round))}
					if err := tx.PutGHLContact(&c); err != nil {
						return err
					}
				}
				return nil
			})
			if writeErr != nil {
				return
			}
		}
	}()
	checks := 10
	if testing.Short() {
		checks = 4
	}
	for i := range checks {
		if err := db.Check(); err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("check %d while writing: %v", i, err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if writeErr != nil {
		t.Fatalf("writer: %v", writeErr)
	}
}
