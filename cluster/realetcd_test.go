package cluster

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestAgainstRealEtcd runs the sharing, a join and a graceful leave against an etcd server
// process (Debian's etcd-server, started by .ci/run) at $PTSYNC_TEST_ETCD, under a prefix of
// its own so it leaves the server's other keys alone. It skips when the variable is unset.
func TestAgainstRealEtcd(t *testing.T) {
	endpoint := os.Getenv("PTSYNC_TEST_ETCD")
	if endpoint == "" {
		t.Skip("PTSYNC_TEST_ETCD is unset (a real etcd's client URL, e.g. http://127.0.0.1:23790)")
	}
	cli := connect(t, endpoint)
	ids := locationIDs(30)
	j := &journal{}
	o := clusterOpts{ttl: 3 * time.Second, ids: ids, dir: t.TempDir(), j: j, snapshots: true,
		prefix: fmt.Sprintf("/ptsync-test-%d/", time.Now().UnixNano())}
	var rs []*testReplica
	for _, name := range []string{"r1", "r2", "r3"} {
		rs = append(rs, startReplica(t, connect(t, endpoint), name, o))
	}
	waitSettled(t, cli, rs, ids, 3)
	rs = append(rs, startReplica(t, connect(t, endpoint), "r4", o))
	waitSettled(t, cli, rs, ids, 4)
	t.Logf("real etcd %s: 4 replicas, r4 owns %d of %d", endpoint, len(rs[3].Owned()), len(ids))
	rs[0].leave(t)
	waitSettled(t, cli, rs[1:], ids, 3)
	if p := j.overlaps(); len(p) > 0 {
		t.Errorf("journal:\n%s", strings.Join(p, "\n"))
	}
	if _, err := cli.Delete(context.Background(), o.prefix, clientv3.WithPrefix()); err != nil {
		t.Errorf("cannot clean up %s: %v", o.prefix, err)
	}
}
