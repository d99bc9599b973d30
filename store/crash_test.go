package store_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"ptsync/store"
)

const (
	crashChildEnv = "PTSYNC_STORE_CRASH_CHILD"
	crashPageSize = 100
)

var crashBase = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// TestMain lets the test binary re-execute itself as the crash test's writer.
func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		if err := crashWriter(path); err != nil {
			fmt.Fprintln(os.Stderr, "crash writer:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	if path := os.Getenv(bulkCrashChildEnv); path != "" {
		if err := bulkCrashWriter(path); err != nil {
			fmt.Fprintln(os.Stderr, "bulk crash writer:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashWriter writes pages forever, each in one Update the way the replicator's poller does:
// 100 contacts, the cursor that covers them, history, and the outbox entry of the previous
// page removed in favour of this page's (an outbox removal together with its effects).
func crashWriter(path string) error {
	db, err := store.Open(path, store.Options{Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	fmt.Println("ready")
	for {
		err := db.Update(func(tx *store.Tx) error {
			page := 0
			if c, err := tx.Cursor("ghl.search"); err == nil {
				p, err := strconv.Atoi(c.Value)
				if err != nil {
					return err
				}
				page = p + 1
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			var last time.Time
			for i := 0; i < crashPageSize; i++ {
				n := page*crashPageSize + i
				last = crashBase.Add(time.Duration(n) * time.Second)
				c := store.GHLContact{ID: fmt.Sprintf("c-%08d", n), Email: fmt.Sprintf("u%d@example.com", n),
					Tags: []string{"t" + strconv.Itoa(n%7)}, DateUpdated: last,
					Raw: json.RawMessage(fmt.Sprintf(`{"id":"c-%08d","note":"%0200d"}`, n, n))}
				if err := tx.PutGHLContact(&c); err != nil {
					return err
				}
			}
			es, err := tx.OutboxDue(time.Now().Add(time.Hour), 0)
			if err != nil {
				return err
			}
			for _, e := range es {
				if err := tx.RemoveOutbox(e.Seq); err != nil {
					return err
				}
			}
			if err := tx.Enqueue(&store.OutboxEntry{Target: store.SidePTD, Op: "page", RecordKind: "page", RecordID: strconv.Itoa(page)}); err != nil {
				return err
			}
			if err := tx.AppendHistory(&store.HistoryEntry{Field: "page", New: strconv.Itoa(page), Direction: "local"}); err != nil {
				return err
			}
			return tx.SetCursor("ghl.search", store.Cursor{Value: strconv.Itoa(page), Covers: store.GHLContacts, Through: last})
		})
		if err != nil {
			return err
		}
	}
}

// TestCrashDuringBatchedWrites SIGKILLs a writer child at random moments and checks after
// every kill that the file passes Check and that the cursor covers exactly the data stored:
// nothing lost, nothing duplicated, no cursor ahead. 50 kills by default, 10 with -short.
func TestCrashDuringBatchedWrites(t *testing.T) {
	kills := 50
	if testing.Short() {
		kills = 10
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d kills", seed, kills)
	rng := rand.New(rand.NewPCG(seed, 1))
	path := filepath.Join(t.TempDir(), "crash.db")
	maxPage := -1
	for i := 0; i < kills; i++ {
		killChild(t, i, crashChildEnv+"="+path, time.Duration(rng.IntN(40))*time.Millisecond)
		maxPage = verifyCrashMirror(t, path, i, maxPage)
	}
	t.Logf("%d kills survived; last committed page %d (%d contacts)", kills, maxPage, (maxPage+1)*crashPageSize)
}

// killChild re-executes the test binary with env set, waits for its "ready" line, lets it
// run for d and SIGKILLs it; a child that ends by itself fails the test.
func killChild(t *testing.T, kill int, env string, d time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("kill %d: child did not start: %q %v", kill, line, err)
	}
	time.Sleep(d)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("kill %d: child exited by itself: %v", kill, cmd.ProcessState)
	}
}

func verifyCrashMirror(t *testing.T, path string, kill, prevPage int) int {
	t.Helper()
	db, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("kill %d: reopen: %v", kill, err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatalf("kill %d: %v", kill, err)
	}
	page := -1
	err = db.View(func(tx *store.Tx) error {
		stats, err := tx.Stats()
		if err != nil {
			return err
		}
		c, err := tx.Cursor("ghl.search")
		if errors.Is(err, store.ErrNotFound) {
			if stats["ghl.contacts"] != 0 {
				return fmt.Errorf("%d contacts stored but no cursor", stats["ghl.contacts"])
			}
			return nil
		}
		if err != nil {
			return err
		}
		if page, err = strconv.Atoi(c.Value); err != nil {
			return err
		}
		if want := (page + 1) * crashPageSize; stats["ghl.contacts"] != want {
			return fmt.Errorf("cursor at page %d covers %d contacts but %d are stored", page, want, stats["ghl.contacts"])
		}
		if stats["outbox"] != 1 || stats["history"] != page+1 {
			return fmt.Errorf("page %d: outbox %d (want 1), history %d (want %d)", page, stats["outbox"], stats["history"], page+1)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("kill %d: %v", kill, err)
	}
	if page < prevPage {
		t.Fatalf("kill %d: committed page went back from %d to %d", kill, prevPage, page)
	}
	return page
}
