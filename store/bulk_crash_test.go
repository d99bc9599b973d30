package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"ptsync/store"
)

const (
	bulkCrashChildEnv = "PTSYNC_STORE_BULK_CRASH_CHILD"
	bulkCrashRun      = 500 // contacts per staged run
	bulkCrashRuns     = 3   // runs per round; a round then completes the bulk load
	bulkCrashCursor   = "bulkcrash"
)

// bulkCrashPos is the cursor the writer commits with each run: the last run staged.
type bulkCrashPos struct{ Round, Run int }

// bulkCrashRange is the contacts run k of round r stages: they overlap the previous round's
// last run, so each round also replaces contacts with a newer version.
func bulkCrashRange(r, k int) (from, to int) {
	from = r*(bulkCrashRuns-1)*bulkCrashRun + k*bulkCrashRun
	return from, from + bulkCrashRun
}

// bulkCrashWriter is the first sync a kill interrupts, forever: Open (which finishes whatever
// bulk load the previous child left), then rounds of staged runs, each committed with its
// cursor, and CompleteBulkLoad with small transactions so the merge and the index build take
// many commits.
func bulkCrashWriter(path string) error {
	db, err := store.Open(path, store.Options{Timeout: 5 * time.Second, BulkTxBytes: 16 << 10})
	if err != nil {
		return err
	}
	fmt.Println("ready")
	for {
		pos := bulkCrashPos{Round: 0, Run: -1}
		if err := db.View(func(tx *store.Tx) error {
			c, err := tx.Cursor(bulkCrashCursor)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err == nil {
				err = json.Unmarshal([]byte(c.Value), &pos)
			}
			return err
		}); err != nil {
			return err
		}
		if pos.Run++; pos.Run == bulkCrashRuns {
			pos = bulkCrashPos{Round: pos.Round + 1, Run: 0}
		}
		from, to := bulkCrashRange(pos.Round, pos.Run)
		v, _ := json.Marshal(pos)
		if err := db.Update(func(tx *store.Tx) error {
			if err := tx.StageGHLContacts(bulkRange(from, to, pos.Round), bulkBase.Add(1000*time.Hour)); err != nil {
				return err
			}
			return tx.SetCursor(bulkCrashCursor, store.Cursor{Value: string(v)})
		}); err != nil {
			return err
		}
		if pos.Run == bulkCrashRuns-1 {
			if _, err := db.CompleteBulkLoad(context.Background()); err != nil {
				return err
			}
		}
	}
}

// TestCrashDuringBulkLoad SIGKILLs a first sync at random moments of its staging, merge and
// index build (3 kills; 20 with -tags soak, TestCrashDuringBulkLoadSoak) and checks after
// each kill: read-only, in the interrupted state, every index reader answers what a scan
// answers and Check passes; after a read-write open (the restart), the load is complete,
// Check passes, every reader still agrees with a scan, and the mirror holds exactly the
// contacts the committed cursor covers, each in its newest version.
func TestCrashDuringBulkLoad(t *testing.T) { crashDuringBulkLoad(t, 3, 0) }

func crashDuringBulkLoad(t *testing.T, kills, minDuringBuild int) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d kills", seed, kills)
	rng := rand.New(rand.NewPCG(seed, 3))
	path := filepath.Join(t.TempDir(), "bulk-crash.db")
	phases := map[string]int{}
	for i := range kills {
		killChild(t, i, bulkCrashChildEnv+"="+path, time.Duration(100+rng.IntN(900))*time.Millisecond)
		phases[verifyInterrupted(t, path, i)]++
		verifyRestarted(t, path, i)
	}
	t.Logf("kills by phase: %v", phases)
	if phases["index build"] < minDuringBuild {
		t.Fatalf("only %d of %d kills landed in the index build", phases["index build"], kills)
	}
}

// verifyInterrupted opens the killed mirror read-only (which finishes nothing), checks the
// readers against a scan, and says what the kill interrupted.
func verifyInterrupted(t *testing.T, path string, kill int) string {
	t.Helper()
	db, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("kill %d: read-only reopen: %v", kill, err)
	}
	defer db.Close()
	bs := bulkState(t, db)
	assertReadsMatchScan(t, db)
	switch {
	case len(bs.Building) > 0 && bs.Staged == 0:
		return "index build"
	case len(bs.Building) > 0:
		return "merge"
	case bs.Staged > 0:
		return "staging"
	}
	return "between loads"
}

// verifyRestarted reopens read-write, as a restarted service does, and checks the result.
func verifyRestarted(t *testing.T, path string, kill int) {
	t.Helper()
	t0 := time.Now()
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("kill %d: restart: %v", kill, err)
	}
	defer db.Close()
	if bs := bulkState(t, db); bs.Pending() {
		t.Fatalf("kill %d: bulk load still pending after the restart: %+v", kill, bs)
	}
	t.Logf("kill %d: restart took %v", kill, time.Since(t0).Round(time.Millisecond))
	assertReadsMatchScan(t, db)
	want := map[string]int{} // id -> version (round)
	err = db.View(func(tx *store.Tx) error {
		c, err := tx.Cursor(bulkCrashCursor)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		var pos bulkCrashPos
		if err == nil {
			err = json.Unmarshal([]byte(c.Value), &pos)
		}
		for r := 0; r <= pos.Round && err == nil; r++ {
			for k := 0; k < bulkCrashRuns && (r < pos.Round || k <= pos.Run); k++ {
				from, to := bulkCrashRange(r, k)
				for n := from; n < to; n++ {
					want[bulkContact(n, r).ID] = r
				}
			}
		}
		return err
	})
	if err != nil {
		t.Fatalf("kill %d: %v", kill, err)
	}
	got := map[string]int{}
	err = db.View(func(tx *store.Tx) error {
		return tx.ForEachGHLContact(func(c *store.GHLContact) error {
			v, err := strconv.Atoi(strings.TrimPrefix(c.LastName, "L"))
			got[c.ID] = v
			return err
		})
	})
	if err != nil {
		t.Fatalf("kill %d: %v", kill, err)
	}
	if len(got) != len(want) {
		t.Fatalf("kill %d: %d contacts stored, the cursor covers %d", kill, len(got), len(want))
	}
	for id, v := range want {
		if got[id] != v {
			t.Fatalf("kill %d: contact %s is version %d, the cursor covers version %d", kill, id, got[id], v)
		}
	}
}
