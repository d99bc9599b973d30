package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"ptsync/store"
	"ptsync/store/query"
	"ptsync/store/storetest"
)

// fixtureFile writes the storetest fixture to a closed mirror file and returns its path.
func fixtureFile(t *testing.T) string {
	t.Helper()
	db, path, _ := storetest.Open(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestQueryCommand(t *testing.T) {
	db := fixtureFile(t)
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		nostdout []string
	}{
		{"table by tag with where", []string{"query", "contacts", "--tag", "vip", "--where", "overdueTasks > 0", "--fields", "id,email,overdueTasks", "--now", "2025-03-10T12:00:00Z"},
			0, []string{"ID", "c-ann", "ann@example.com"}, []string{"1 rows", "plan index:tag"}, []string{"c-bob"}},
		{"flags before kind, csv", []string{"query", "--email", "carol@example.org", "--format", "csv", "contacts", "--fields", "id,tags"},
			0, []string{"id,tags\nc-carol,lead\n"}, []string{"plan index:email, scanned 1"}, nil},
		{"json", []string{"query", "tasks", "--due-before", "2025-03-10", "--json"},
			0, []string{`"plan": "index:due-before"`}, nil, nil},
		{"malformed where exits 2 with column", []string{"query", "contacts", "--where", "overdueTasks > > 0"},
			2, nil, []string{"<where>:1:16", "^"}, nil},
		{"unknown field lists known ones", []string{"query", "contacts", "--where", "overdue > 0"},
			2, nil, []string{`unknown field "overdue"`, "known: id, email, phone"}, nil},
		{"unknown kind", []string{"query", "deals"}, 2, nil, []string{`unknown kind "deals"`}, nil},
		{"no kind", []string{"query"}, 2, nil, []string{"want exactly one kind"}, nil},
		{"bad format", []string{"query", "contacts", "--format", "xml"}, 2, nil, []string{"--format"}, nil},
		{"show by email", []string{"show", "contact", "ANN@example.com"}, 0,
			[]string{"contact c-ann", "link L", "t-ann-1", "pending writes (2)", "DEAD", "lastName", "history (2)"}, nil, nil},
		{"show unknown", []string{"show", "contact", "c-nope"}, 1, nil, []string{"cannot find contact"}, nil},
		{"check", []string{"check"}, 0, []string{fmt.Sprintf("ok (schema %d)", store.SchemaVersion), "ghl.contacts"}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(append(tc.args, "--db", db)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errs)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
			for _, w := range tc.nostdout {
				if strings.Contains(out, w) {
					t.Errorf("stdout has %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestStoreCommandsOnBadFiles: a --db that is not a mirror (text, empty file, directory) is
// refused with exit 2 (a wrong argument), names the path and leaves the bytes alone; a
// missing mirror is exit 1 with the same hint from every command.
func TestStoreCommandsOnBadFiles(t *testing.T) {
	dir := t.TempDir()
	notMirror := filepath.Join(dir, "notes.txt")
	content := []byte("this is not a database\n")
	if err := os.WriteFile(notMirror, content, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	asDir := filepath.Join(dir, "a-directory")
	if err := os.Mkdir(asDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		name, path string
		content    []byte
	}{{"text file", notMirror, content}, {"empty file", empty, []byte{}}, {"directory", asDir, nil}} {
		for _, args := range [][]string{
			{"query", "contacts"}, {"show", "contact", "x"}, {"check"}, {"status"}, {"backup", filepath.Join(dir, "b.db")},
		} {
			t.Run(bad.name+"/"+args[0], func(t *testing.T) {
				code, _, errs := runCLI(append(args, "--db", bad.path)...)
				if code != exitUsage || !strings.Contains(errs, "not a ptsync mirror") || !strings.Contains(errs, bad.path) {
					t.Fatalf("exit %d, stderr %q; want 2 and the path", code, errs)
				}
				if bad.content != nil {
					if got, _ := os.ReadFile(bad.path); !bytes.Equal(got, bad.content) {
						t.Fatal("file modified")
					}
				}
			})
		}
	}
	missing := filepath.Join(dir, "missing.db")
	for _, args := range [][]string{{"query", "contacts"}, {"show", "contact", "x"}, {"check"}, {"status"}} {
		t.Run("missing/"+args[0], func(t *testing.T) {
			code, _, errs := runCLI(append(args, "--db", missing)...)
			if code != exitFailure || !strings.Contains(errs, "the service creates it on first run") {
				t.Fatalf("exit %d, stderr %q; want 1 with the hint", code, errs)
			}
			if _, err := os.Stat(missing); err == nil {
				t.Fatal("the command created the file")
			}
		})
	}
}

// TestCheckAndStatusShowFreeSpace: both say how much room is left beside the mirror.
func TestCheckAndStatusShowFreeSpace(t *testing.T) {
	db := fixtureFile(t)
	for _, cmd := range []string{"check", "status"} {
		code, out, errs := runCLI(cmd, "--db", db)
		if code != exitOK || !regexp.MustCompile(`disk +[0-9.]+ [KMGT]?i?B free of [0-9.]+ [KMGT]?i?B in `).MatchString(out) {
			t.Errorf("%s: exit %d, no free-space line:\n%s%s", cmd, code, out, errs)
		}
	}
}

func TestBackupCommand(t *testing.T) {
	db := fixtureFile(t)
	dst := filepath.Join(t.TempDir(), "copy.db")
	code, out, errs := runCLI("backup", "--db", db, dst)
	if code != 0 || !strings.Contains(out, "check ok") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if code, _, _ := runCLI("query", "contacts", "--email", "ann@example.com", "--db", dst); code != 0 {
		t.Fatal("backup is not queryable")
	}
	if code, _, errs := runCLI("backup", "--db", db, db); code != exitUsage {
		t.Fatalf("backup onto itself: exit %d %s", code, errs)
	}
}

// TestLockedByForeignProcess: a process that is not ptsync holds the file and there is no
// admin file. The command must fail (exit 1) promptly, saying so, instead of hanging.
func TestLockedByForeignProcess(t *testing.T) {
	db := fixtureFile(t)
	f, err := os.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, _, errs := runCLI("query", "contacts", "--db", db)
	t.Logf("answered in %v: %s", time.Since(start), strings.TrimSpace(errs))
	if code != exitFailure || !strings.Contains(errs, "not a ptsync service") || !strings.Contains(errs, db+".admin") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

const serviceChildEnv = "PTSYNC_TEST_MIRROR_SERVICE"

// TestHelperMirrorService is not a test: the locked-service test re-executes the test binary
// with serviceChildEnv set and this function becomes a stand-in for the ptsync service. It
// holds the mirror open read-write, serves query.Handler on loopback, writes the admin file
// and writes to the mirror continuously until killed.
func TestHelperMirrorService(t *testing.T) {
	path := os.Getenv(serviceChildEnv)
	if path == "" {
		t.Skip("helper process for TestQueryWhileServiceHoldsTheFile")
	}
	db, err := store.Open(path, store.Options{Timeout: 5 * time.Second, Now: storetest.Now})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(3)
	}
	token, _ := store.NewAdminToken()
	srv := &http.Server{Handler: query.Handler(db, query.WithToken(token)), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	if err := store.WriteAdminAddr(path, store.AdminInfo{Addr: ln.Addr().String(), Token: token, PID: os.Getpid()}); err != nil {
		os.Exit(3)
	}
	fmt.Println("ready")
	for i := 0; ; i++ {
		err := db.Update(func(tx *store.Tx) error {
			for j := 0; j < 100; j++ {
				c := store.GHLContact{ID: fmt.Sprintf("w-%d-%d", i, j), Email: fmt.Sprintf("w%d.%d@example.com", i, j),
					Tags: []string{"written"}, DateUpdated: storetest.Now()}
				if err := tx.PutGHLContact(&c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			os.Exit(4)
		}
	}
}

// TestQueryWhileServiceHoldsTheFile runs the CLI against a mirror that another process holds
// open for writing and writes to continuously: the commands go through the admin endpoint.
func TestQueryWhileServiceHoldsTheFile(t *testing.T) {
	db := fixtureFile(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperMirrorService$")
	cmd.Env = append(os.Environ(), serviceChildEnv+"="+db)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("service child: %q %v", line, err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"query", []string{"query", "contacts", "--tag", "vip", "--where", "overdueTasks > 0", "--json"}, 0, `"c-ann"`, "via service admin endpoint"},
		{"query sees the writer's rows", []string{"query", "contacts", "--tag", "written", "--limit", "5"}, 0, "w-0-", "plan index:tag"},
		{"bad where still exits 2", []string{"query", "contacts", "--where", "nope == 1"}, 2, "", `unknown field "nope"`},
		{"show", []string{"show", "contact", "c-ann"}, 0, "contact c-ann", ""},
		{"check", []string{"check"}, 0, "checked by the running service", ""},
		{"backup", []string{"backup", filepath.Join(t.TempDir(), "live.db")}, 0, "via service admin endpoint), check ok", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, stdout, stderr := runCLI(append(tc.args, "--db", db)...)
			t.Logf("answered in %v", time.Since(start))
			if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
		})
	}
	t.Run("stale admin file: endpoint gone", func(t *testing.T) {
		info, err := store.ReadAdminAddr(db)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := ln.Addr().String()
		_ = ln.Close()
		info.Addr = dead
		if err := store.WriteAdminAddr(db, info); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCLI("query", "contacts", "--db", db)
		if code != exitFailure || !strings.Contains(stderr, "did not answer") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
}
