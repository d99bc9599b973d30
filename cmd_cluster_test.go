package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"ptsync/cluster/clustertest"
)

const clusterTestConfig = `ghl {
  location_id   = "locB"
  private_token = env("PTSYNC_TEST_PIT")
}
ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:8920"
    api_key  = env("PTSYNC_TEST_PIT")
  }
}
`

// TestClusterStatusPrintsMembersOwnersAndMoves: members and owners as etcd holds them, and a
// move for each location whose holder is not the one the assignment names.
func TestClusterStatusPrintsMembersOwnersAndMoves(t *testing.T) {
	endpoint := clustertest.StartEtcd(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	// r1 holds every location, although r2 is a member too: some are due to move to r2.
	for k, v := range map[string]string{"/ptsync/members/r1": "a1", "/ptsync/members/r2": "b2",
		"/ptsync/owners/locA": "r1", "/ptsync/owners/locC": "r1", "/ptsync/owners/locE": "r1"} {
		if _, err := cli.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "ptsync.hcl")
	src := clusterTestConfig + "cluster {\n  endpoints = [\"" + endpoint + "\"]\n  replica = \"r1\"\n  snapshot_dir = \"snaps\"\n}\n"
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PTSYNC_TEST_PIT", "x")
	var out, errOut bytes.Buffer
	if code := clusterStatus(ctx, []string{"--config", file}, &out, &errOut, os.Getenv); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	got := out.String()
	t.Logf("ptsync cluster status:\n%s", got)
	// Assign over r1 and r2 gives locA, locB and locC to r1, locE to r2.
	for _, want := range []string{"members (2)\n  r1  lease a1\n  r2  lease b2\n", "owners (3)\n  locA  r1\n  locC  r1\n  locE  r1\n",
		"moves in progress (2)\n  locB  (nobody) -> r1\n  locE  r1 -> r2\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	alone := filepath.Join(dir, "alone.hcl")
	if err := os.WriteFile(alone, []byte(clusterTestConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	errOut.Reset()
	if code := clusterStatus(ctx, []string{"--config", alone}, &out, &errOut, os.Getenv); code != exitUsage || !strings.Contains(errOut.String(), "no cluster block") {
		t.Errorf("without a cluster block: exit %d, %q; want %d and a message", code, errOut.String(), exitUsage)
	}
}
