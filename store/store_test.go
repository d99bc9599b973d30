package store_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"ptsync/store"
	"ptsync/store/storetest"
)

func TestFixturePassesCheck(t *testing.T) {
	db, _, _ := storetest.Open(t)
	if err := db.Check(); err != nil {
		t.Fatalf("Check on fresh fixture: %v", err)
	}
}

func TestRecordsAndIndexes(t *testing.T) {
	db, _, f := storetest.Open(t)
	now := storetest.Now()
	tests := []struct {
		name string
		run  func(tx *store.Tx) (int, error)
		want int
	}{
		{"email finds ann", func(tx *store.Tx) (int, error) {
			cs, err := tx.GHLContactsByEmail("ann@example.com")
			return len(cs), err
		}, 1},
		{"unknown email finds nothing", func(tx *store.Tx) (int, error) {
			cs, err := tx.GHLContactsByEmail("nobody@example.com")
			return len(cs), err
		}, 0},
		{"email is a whole-key match, not a prefix", func(tx *store.Tx) (int, error) {
			cs, err := tx.GHLContactsByEmail("ann@example.co")
			return len(cs), err
		}, 0},
		{"phone finds carol", func(tx *store.Tx) (int, error) {
			cs, err := tx.GHLContactsByPhone("+447700900003")
			return len(cs), err
		}, 1},
		{"tag vip is case-folded", func(tx *store.Tx) (int, error) {
			n := 0
			return n, tx.GHLContactsByTag(" VIP ", func(*store.GHLContact) error { n++; return nil })
		}, 6},
		{"updated since 2 days", func(tx *store.Tx) (int, error) {
			n := 0
			return n, tx.GHLContactsUpdatedSince(now.Add(-48*time.Hour), func(*store.GHLContact) error { n++; return nil })
		}, 2},
		{"tasks of ann by prefix", func(tx *store.Tx) (int, error) {
			ts, err := tx.GHLTasksOf(f.AnnID)
			return len(ts), err
		}, 3},
		{"tasks due before now", func(tx *store.Tx) (int, error) {
			n := 0
			return n, tx.GHLTasksDueBefore(now, func(*store.GHLTask) error { n++; return nil })
		}, 3},
		{"ptd client by email", func(tx *store.Tx) (int, error) {
			cs, err := tx.PTDClientsByEmail("ann@example.com")
			return len(cs), err
		}, 1},
		{"child links of ann", func(tx *store.Tx) (int, error) {
			ls, err := tx.ChildLinks(f.AnnLinkID)
			return len(ls), err
		}, 1},
		{"history of ann", func(tx *store.Tx) (int, error) {
			hs, err := tx.History(f.AnnLinkID)
			return len(hs), err
		}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got int
			err := db.View(func(tx *store.Tx) error {
				var err error
				got, err = tc.run(tx)
				return err
			})
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestPutReindexesAndDeleteCascades(t *testing.T) {
	db, _, f := storetest.Open(t)
	err := db.Update(func(tx *store.Tx) error {
		c, err := tx.GetGHLContact(f.AnnID)
		if err != nil {
			return err
		}
		c.Email, c.Tags = "ann.new@example.com", []string{"online"}
		return tx.PutGHLContact(&c)
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(func(tx *store.Tx) error {
		if cs, _ := tx.GHLContactsByEmail("ann@example.com"); len(cs) != 0 {
			t.Errorf("old email still indexed: %v", cs)
		}
		if cs, _ := tx.GHLContactsByEmail("ann.new@example.com"); len(cs) != 1 {
			t.Errorf("new email not indexed")
		}
		// The link survives an email change: it is keyed by id.
		if l, err := tx.LinkByGHL(store.KindContact, f.AnnID); err != nil || l.PTDID != f.AnnClientID {
			t.Errorf("link lost after email change: %v %v", l, err)
		}
		return nil
	})
	if err := db.Check(); err != nil {
		t.Fatalf("check after reindex: %v", err)
	}
	if err := db.Update(func(tx *store.Tx) error { return tx.DeleteGHLContact(f.AnnID) }); err != nil {
		t.Fatal(err)
	}
	_ = db.View(func(tx *store.Tx) error {
		if _, err := tx.GetGHLContact(f.AnnID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get deleted contact: %v, want ErrNotFound", err)
		}
		if ts, _ := tx.GHLTasksOf(f.AnnID); len(ts) != 0 {
			t.Errorf("tasks survived their contact: %d", len(ts))
		}
		return nil
	})
	if err := db.Check(); err != nil {
		t.Fatalf("check after delete: %v", err)
	}
}

func TestBadRecordsAreRefused(t *testing.T) {
	db, _, _ := storetest.Open(t)
	tests := []struct {
		name string
		put  func(tx *store.Tx) error
		want error
	}{
		{"empty id", func(tx *store.Tx) error { return tx.PutGHLContact(&store.GHLContact{}) }, store.ErrInvalid},
		{"NUL in id", func(tx *store.Tx) error { return tx.PutGHLContact(&store.GHLContact{ID: "a\x00b"}) }, store.ErrInvalid},
		{"task without contact", func(tx *store.Tx) error { return tx.PutGHLTask(&store.GHLTask{ID: "t"}) }, store.ErrInvalid},
		{"link of unknown kind", func(tx *store.Tx) error { return tx.PutLink(&store.Link{Kind: "deal", GHLID: "x"}) }, store.ErrInvalid},
		{"second link for one ghl id", func(tx *store.Tx) error {
			return tx.PutLink(&store.Link{Kind: store.KindContact, GHLID: "c-ann", PTDID: "p-other"})
		}, store.ErrDuplicateLink},
		{"base of missing link", func(tx *store.Tx) error { return tx.PutBase(store.Base{LinkID: "nope"}) }, store.ErrNotFound},
		{"outbox bad target", func(tx *store.Tx) error { return tx.Enqueue(&store.OutboxEntry{Target: "crm", Op: "x"}) }, store.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := db.Update(tc.put)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "cannot ") {
				t.Errorf("error %q does not say what it could not do", err)
			}
		})
	}
	if err := db.Check(); err != nil {
		t.Fatalf("refused writes left traces: %v", err)
	}
}

func TestOutboxLifecycle(t *testing.T) {
	db, _, f := storetest.Open(t)
	now := storetest.Now()
	var third store.OutboxEntry
	err := db.Update(func(tx *store.Tx) error {
		// A later write for the same PTD record as the live entry must wait behind it.
		third = store.OutboxEntry{Target: store.SidePTD, Op: "contact.update", RecordKind: store.KindContact, RecordID: f.AnnClientID}
		return tx.Enqueue(&third)
	})
	if err != nil {
		t.Fatal(err)
	}
	due := func() []uint64 {
		var seqs []uint64
		_ = db.View(func(tx *store.Tx) error {
			es, err := tx.OutboxDue(now, 0)
			for _, e := range es {
				seqs = append(seqs, e.Seq)
			}
			return err
		})
		return seqs
	}
	if got := due(); len(got) != 1 || got[0] != f.LiveSeq {
		t.Fatalf("due = %v, want only the live entry %d (dead one parked, third held behind live)", got, f.LiveSeq)
	}
	steps := []struct {
		name string
		do   func(tx *store.Tx) error
		want []uint64
	}{
		{"failed attempt backs off and holds the record", func(tx *store.Tx) error {
			_, err := tx.RecordAttempt(f.LiveSeq, "503", now.Add(time.Minute))
			return err
		}, nil},
		{"retry makes it due again", func(tx *store.Tx) error { _, err := tx.RetryOutbox(f.LiveSeq); return err }, []uint64{f.LiveSeq}},
		{"success removes it, next of record is due", func(tx *store.Tx) error { return tx.RemoveOutbox(f.LiveSeq) }, []uint64{third.Seq}},
		{"retry of dead entry revives it", func(tx *store.Tx) error { _, err := tx.RetryOutbox(f.DeadSeq); return err }, []uint64{f.DeadSeq, third.Seq}},
		{"drop removes without applying", func(tx *store.Tx) error { _, err := tx.DropOutbox(f.DeadSeq); return err }, []uint64{third.Seq}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := db.Update(s.do); err != nil {
				t.Fatal(err)
			}
			if got := due(); !equalSeqs(got, s.want) {
				t.Fatalf("due = %v, want %v", got, s.want)
			}
		})
	}
	if err := db.Update(func(tx *store.Tx) error { return tx.RemoveOutbox(f.LiveSeq) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("double removal: %v, want ErrNotFound", err)
	}
	_ = db.View(func(tx *store.Tx) error {
		st, err := tx.OutboxStats()
		if err != nil || st.Depth != 1 || st.Dead != 0 || !st.Oldest.Equal(now) {
			t.Errorf("stats = %+v, %v", st, err)
		}
		return nil
	})
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSyncBookkeeping(t *testing.T) {
	db, _, f := storetest.Open(t)
	now := storetest.Now()
	t.Run("webhook dedup and prune", func(t *testing.T) {
		err := db.Update(func(tx *store.Tx) error {
			for i, want := range []bool{false, true} {
				dup, err := tx.SeenWebhook("wh-1", now.Add(-2*time.Hour))
				if err != nil || dup != want {
					t.Errorf("call %d: dup=%v err=%v, want %v", i, dup, err, want)
				}
			}
			if _, err := tx.SeenWebhook("wh-2", now); err != nil {
				return err
			}
			n, err := tx.PruneWebhooks(now.Add(-time.Hour))
			if n != 1 {
				t.Errorf("pruned %d, want 1", n)
			}
			if dup, _ := tx.SeenWebhook("wh-1", now); dup {
				t.Errorf("pruned id still known")
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("children due: dirty first then stalest", func(t *testing.T) {
		var got []string
		err := db.Update(func(tx *store.Tx) error {
			if err := tx.MarkDirty("c-bob", "dateUpdated changed"); err != nil {
				return err
			}
			for _, c := range []string{f.AnnID, f.DaveID} { // refreshed: move to the back
				if err := tx.ChildrenRefreshed(c, now); err != nil {
					return err
				}
			}
			var err error
			got, err = tx.NextChildrenDue(4)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// Both marks carry the fixture's fixed time: ties go in id order.
		want := []string{f.BobID, f.CarolID, "c-005", "c-006"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("NextChildrenDue = %v, want %v", got, want)
		}
	})
	t.Run("quarantine clears when the record reappears", func(t *testing.T) {
		err := db.Update(func(tx *store.Tx) error {
			q, err := tx.QuarantineDelete(store.KindContact, store.SidePTD, "p-gone")
			if err != nil || q.Confirmations != 2 {
				t.Errorf("second confirmation: %+v %v", q, err)
			}
			if err := tx.PutPTDClient(&store.PTDClient{ID: "p-gone", Email: "back@example.com"}); err != nil {
				return err
			}
			qs, err := tx.Quarantined()
			if len(qs) != 0 {
				t.Errorf("quarantine not cleared: %+v", qs)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("reminders are sent once per due date", func(t *testing.T) {
		due := now.Add(time.Hour)
		err := db.Update(func(tx *store.Tx) error {
			if _, sent, _ := tx.ReminderSent("t-ann-2", due); sent {
				t.Errorf("reminder reported sent before recording")
			}
			if err := tx.RecordReminder("t-ann-2", due, "r-1"); err != nil {
				return err
			}
			if id, sent, _ := tx.ReminderSent("t-ann-2", due); !sent || id != "r-1" {
				t.Errorf("ReminderSent = %q %v", id, sent)
			}
			if _, sent, _ := tx.ReminderSent("t-ann-2", due.Add(time.Hour)); sent {
				t.Errorf("a moved due date must be a new reminder")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("tokens and conflicts", func(t *testing.T) {
		err := db.Update(func(tx *store.Tx) error {
			if _, err := tx.GetToken("loc-1"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("missing token: %v", err)
			}
			if err := tx.PutToken("loc-1", []byte(`{"refresh":"r"}`)); err != nil {
				return err
			}
			if b, err := tx.GetToken("loc-1"); err != nil || string(b) != `{"refresh":"r"}` {
				t.Errorf("token = %s, %v", b, err)
			}
			if _, err := tx.ResolveConflict(f.AnnLinkID, "lastName", "Archer-Smith"); err != nil {
				return err
			}
			open, _ := tx.Conflicts("", false)
			all, _ := tx.Conflicts(f.AnnLinkID, true)
			if len(open) != 0 || len(all) != 1 || all[0].Resolution != "Archer-Smith" {
				t.Errorf("conflicts open=%v all=%v", open, all)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestCheckFindsBrokenInvariants damages a copy of the fixture behind the store's back and
// expects Check to name the damage.
func TestCheckFindsBrokenInvariants(t *testing.T) {
	tests := []struct {
		name   string
		damage func(btx *bolt.Tx) error
		want   string
	}{
		{"index entry without record", func(btx *bolt.Tx) error {
			return btx.Bucket([]byte("ghl.contacts/email")).Put([]byte("ghost@example.com\x00c-ghost"), nil)
		}, `points to missing record "c-ghost"`},
		{"record without index entry", func(btx *bolt.Tx) error {
			return btx.Bucket([]byte("ghl.contacts/email")).Delete([]byte("ann@example.com\x00c-ann"))
		}, `record "c-ann" is not indexed under "ann@example.com"`},
		{"cursor ahead of data", func(btx *bolt.Tx) error {
			return btx.Bucket([]byte("cursors")).Put([]byte("ghl.search"),
				[]byte(`{"value":"x","covers":"ghl.contacts","through":"2030-01-01T00:00:00Z"}`))
		}, `cursor "ghl.search" is ahead of its data`},
		{"outbox key and seq disagree", func(btx *bolt.Tx) error {
			return btx.Bucket([]byte("outbox")).Put([]byte{0, 0, 0, 0, 0, 0, 0, 1}, []byte(`{"seq":9,"target":"ghl","op":"x"}`))
		}, "says seq 9"},
		{"base of missing link", func(btx *bolt.Tx) error {
			return btx.Bucket([]byte("base")).Put([]byte("L-missing"), []byte(`{}`))
		}, "belongs to missing link L-missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, path, _ := storetest.Open(t)
			cp := filepath.Join(t.TempDir(), "copy.db")
			copyMirror(t, path, cp)
			bdb, err := bolt.Open(cp, 0o600, &bolt.Options{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if err := bdb.Update(tc.damage); err != nil {
				t.Fatal(err)
			}
			_ = bdb.Close()
			db, err := store.Open(cp, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = db.Check()
			if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v; want ErrCorrupt mentioning %q", err, tc.want)
			}
		})
	}
}

// copyMirror makes a consistent copy of the (open, locked) mirror at src through a second
// reader-free route: the store's Backup of a freshly opened handle is not possible while the
// fixture holds the lock, so the copy goes through the fixture's own handle.
func copyMirror(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesForeignAndBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	db, err := store.Open(good, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	goodBytes, _ := os.ReadFile(good)
	plainBolt := filepath.Join(dir, "plain.db")
	bdb, err := bolt.Open(plainBolt, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = bdb.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("someone-else")); return err })
	_ = bdb.Close()
	plainBytes, _ := os.ReadFile(plainBolt)

	bothMetas := append([]byte(nil), goodBytes...)
	bothMetas[16+40] ^= 0xff      // meta 0 pgid: checksum no longer matches
	bothMetas[4096+16+40] ^= 0xff // meta 1

	tests := []struct {
		name     string
		content  []byte
		readOnly bool
		want     error
		msg      string
	}{
		{"text file", []byte("name,email\nann,ann@example.com\n"), false, store.ErrNotMirror, "not a bbolt file"},
		{"text file read-only", []byte("hello"), true, store.ErrNotMirror, "not a bbolt file"},
		{"random bytes of a page", bytes.Repeat([]byte{0xA5}, 8192), false, store.ErrNotMirror, "not a bbolt file"},
		{"other program's bbolt file", plainBytes, false, store.ErrNotMirror, "without ptsync's meta bucket"},
		{"both meta pages damaged", bothMetas, false, store.ErrCorrupt, "checksum"},
		{"truncated mirror", goodBytes[:5000], false, store.ErrCorrupt, "shorter than"},
		{"empty file read-only", []byte{}, true, store.ErrNotMirror, "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "m.db")
			if err := os.WriteFile(p, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			db, err := store.Open(p, store.Options{ReadOnly: tc.readOnly, Timeout: 200 * time.Millisecond})
			if err == nil {
				_ = db.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), p) {
				t.Fatalf("Open = %v; want %v naming the path and saying %q", err, tc.want, tc.msg)
			}
			after, _ := os.ReadFile(p)
			if !bytes.Equal(after, tc.content) {
				t.Fatalf("file was modified by a failed Open")
			}
		})
	}
	t.Run("missing file read-only", func(t *testing.T) {
		_, err := store.Open(filepath.Join(dir, "nope.db"), store.Options{ReadOnly: true})
		if !errors.Is(err, store.ErrNoMirror) {
			t.Fatalf("got %v", err)
		}
		if _, statErr := os.Stat(filepath.Join(dir, "nope.db")); statErr == nil {
			t.Fatal("read-only open created the file")
		}
	})
}

func TestOpenLockedFileTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	// Something that is not ptsync holds an exclusive flock on the file.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{true, false} {
		_, err := store.Open(path, store.Options{ReadOnly: ro, Timeout: 100 * time.Millisecond})
		if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), "another process") {
			t.Fatalf("readOnly=%v: got %v, want ErrLocked", ro, err)
		}
	}
}

func TestBackupIsAConsistentMirror(t *testing.T) {
	db, _, f := storetest.Open(t)
	dst := filepath.Join(t.TempDir(), "backup.db")
	if err := db.BackupFile(dst); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dst)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v mode %v", err, st.Mode())
	}
	bk, err := store.Open(dst, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	if err := bk.Check(); err != nil {
		t.Fatal(err)
	}
	_ = bk.View(func(tx *store.Tx) error {
		if _, err := tx.GetGHLContact(f.AnnID); err != nil {
			t.Errorf("backup lacks ann: %v", err)
		}
		return nil
	})
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dst), ".backup.db.tmp-*"))
	if len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

func TestAdminFile(t *testing.T) {
	db := filepath.Join(t.TempDir(), "m.db")
	if _, err := store.ReadAdminAddr(db); !errors.Is(err, store.ErrNoAdmin) {
		t.Fatalf("absent: %v", err)
	}
	if err := store.WriteAdminAddr(db, store.AdminInfo{Addr: "10.0.0.1:80"}); err == nil {
		t.Fatal("non-loopback address accepted")
	}
	in := store.AdminInfo{Addr: "127.0.0.1:4567", Token: "s3cret", PID: 42}
	if err := store.WriteAdminAddr(db, in); err != nil {
		t.Fatal(err)
	}
	out, err := store.ReadAdminAddr(db)
	if err != nil || out.Addr != in.Addr || out.Token != in.Token {
		t.Fatalf("read back %+v, %v", out, err)
	}
	if strings.Contains(out.String(), "s3cret") || strings.Contains(strings.ReplaceAll(out.GoString(), " ", ""), "s3cret") {
		t.Fatal("AdminInfo prints its token")
	}
	if st, _ := os.Stat(store.AdminPath(db)); st.Mode().Perm() != 0o600 {
		t.Fatalf("admin file mode %v", st.Mode())
	}
}
