package cluster

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/pkg/v3/proxy"
	"go.uber.org/zap"

	"ptsync/cluster/clustertest"
	"ptsync/store"
)

func startEtcd(t *testing.T) string { return clustertest.StartEtcd(t) }

func freeURL(t *testing.T) url.URL { return clustertest.FreeURL(t) }

// partitionable puts a TCP proxy between a replica and etcd, so a test can cut the replica
// off (Blackhole) and let it back (Unblackhole) while etcd and the others keep running.
type partitionable struct {
	proxy.Server
	URL string
}

func newPartitionable(t *testing.T, etcdURL string) *partitionable {
	t.Helper()
	to, _ := url.Parse(etcdURL)
	from := freeURL(t)
	p := proxy.NewServer(proxy.ServerConfig{Logger: zap.NewNop(), From: url.URL{Scheme: "tcp", Host: from.Host},
		To: url.URL{Scheme: "tcp", Host: to.Host}})
	<-p.Ready()
	t.Cleanup(func() { p.Close() })
	return &partitionable{Server: p, URL: from.String()}
}

func (p *partitionable) cut()     { p.BlackholeTx(); p.BlackholeRx() }
func (p *partitionable) restore() { p.UnblackholeTx(); p.UnblackholeRx() }

func connect(t *testing.T, url string) *clientv3.Client {
	t.Helper()
	cli, err := Connect(context.Background(), []string{url}, TLSFiles{}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// event is one line of the journal every test unit writes to: a start, a stop, or a write
// that passed the fence, stamped by one clock shared by all replicas.
type event struct {
	at          time.Time
	replica, id string
	kind        string // start, stop, write
}

type journal struct {
	mu     sync.Mutex
	events []event
}

func (j *journal) add(replica, id, kind string) {
	j.mu.Lock()
	j.events = append(j.events, event{time.Now(), replica, id, kind})
	j.mu.Unlock()
}

func (j *journal) snapshot() []event {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]event(nil), j.events...)
}

// segment is one replica's ownership of one location, from its start to its stop.
type segment struct {
	replica    string
	start, end time.Time // end zero: still running
}

// overlaps returns, per location, every pair of segments of different replicas that overlap
// in time, and every write outside a segment of its replica: what two writers at once means.
func (j *journal) overlaps() []string {
	segs := map[string][]segment{}
	open := map[[2]string]int{}
	var problems []string
	for _, e := range j.snapshot() {
		k := [2]string{e.replica, e.id}
		switch e.kind {
		case "start":
			open[k] = len(segs[e.id])
			segs[e.id] = append(segs[e.id], segment{replica: e.replica, start: e.at})
		case "stop":
			if i, ok := open[k]; ok {
				segs[e.id][i].end = e.at
				delete(open, k)
			}
		case "write":
			if _, ok := open[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s: write by %s at %s outside its ownership", e.id, e.replica, e.at.Format(time.StampMicro)))
			}
		}
	}
	for id, ss := range segs {
		for a := range ss {
			for b := a + 1; b < len(ss); b++ {
				if ss[a].replica != ss[b].replica && overlap(ss[a], ss[b]) {
					problems = append(problems, fmt.Sprintf("%s: %s and %s own it at once", id, ss[a].replica, ss[b].replica))
				}
			}
		}
	}
	sort.Strings(problems)
	return problems
}

func overlap(a, b segment) bool {
	aEnd, bEnd := a.end, b.end
	if aEnd.IsZero() {
		aEnd = time.Unix(1<<40, 0)
	}
	if bEnd.IsZero() {
		bEnd = time.Unix(1<<40, 0)
	}
	return a.start.Before(bEnd) && b.start.Before(aEnd)
}

// units is a Locations whose units open a real mirror file and write a cursor every 10ms,
// each write first passing the replica's fence, and journal it all.
type units struct {
	replica string
	dir     string
	j       *journal
	fence   func() *Fence

	mu      sync.Mutex
	running map[string]*unit
}

type unit struct {
	db   *store.DB
	stop chan struct{}
	done chan struct{}
}

var _ Locations = (*units)(nil)

func (u *units) MirrorPath(id string) string { return filepath.Join(u.dir, u.replica, id+".db") }

func (u *units) Start(_ context.Context, id string) error {
	if err := os.MkdirAll(filepath.Dir(u.MirrorPath(id)), 0o700); err != nil {
		return err
	}
	db, err := store.Open(u.MirrorPath(id), store.Options{})
	if err != nil {
		return err
	}
	un := &unit{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	u.mu.Lock()
	u.running[id] = un
	u.mu.Unlock()
	u.j.add(u.replica, id, "start")
	go u.write(id, un)
	return nil
}

func (u *units) write(id string, un *unit) {
	defer close(un.done)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-un.stop:
			return
		case <-tick.C:
		}
		if u.fence().Allow() != nil {
			continue
		}
		u.j.add(u.replica, id, "write")
		_ = un.db.Update(func(tx *store.Tx) error { return bumpWrites(tx) })
	}
}

func (u *units) Stop(_ context.Context, id string) error {
	u.mu.Lock()
	un := u.running[id]
	delete(u.running, id)
	u.mu.Unlock()
	if un == nil {
		return fmt.Errorf("location %s is not running", id)
	}
	close(un.stop)
	<-un.done
	u.j.add(u.replica, id, "stop")
	return un.db.Close()
}

func (u *units) Backup(_ context.Context, id string, w io.Writer) error {
	u.mu.Lock()
	un := u.running[id]
	u.mu.Unlock()
	if un == nil {
		return fmt.Errorf("location %s is not running", id)
	}
	return un.db.Backup(w)
}

// testReplica is a Replica running in a goroutine, with its units and a cancel that makes
// it leave gracefully.
type testReplica struct {
	*Replica
	units  *units
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

type clusterOpts struct {
	ttl       time.Duration
	ids       []string
	dir       string // mirrors under dir/<replica>/, snapshots under dir/snapshots
	j         *journal
	prefix    string
	observer  func(name string) Observer
	snapshots bool
}

func startReplica(t *testing.T, cli *clientv3.Client, name string, o clusterOpts) *testReplica {
	t.Helper()
	u := &units{replica: name, dir: o.dir, j: o.j, running: map[string]*unit{}}
	opts := Options{Client: cli, Name: name, LeaseTTL: o.ttl, IDs: o.ids, Locations: u, Prefix: o.prefix,
		Logger: hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Warn, Output: testWriter{t}})}
	if o.observer != nil {
		opts.Observer = o.observer(name)
	}
	if o.snapshots {
		opts.Snapshots = &Snapshots{Dir: filepath.Join(o.dir, "snapshots"), Replica: name}
		opts.SnapshotPeriod = time.Hour
	}
	r, err := NewReplica(opts)
	if err != nil {
		t.Fatal(err)
	}
	u.fence = r.Fence
	ctx, cancel := context.WithCancel(context.Background())
	tr := &testReplica{Replica: r, units: u, cancel: cancel, done: make(chan error, 1)}
	go func() { tr.done <- r.Run(ctx) }()
	t.Cleanup(func() { tr.leave(t) })
	return tr
}

// leave cancels Run and waits for the graceful leave; idempotent.
func (tr *testReplica) leave(t *testing.T) {
	t.Helper()
	tr.once.Do(func() {
		tr.cancel()
		select {
		case err := <-tr.done:
			if err != nil {
				t.Errorf("%s: leave: %v", tr.o.Name, err)
			}
		case <-time.After(2 * tr.o.LeaseTTL):
			t.Errorf("%s: Run did not return within 2 TTL of its cancel", tr.o.Name)
		}
	})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func locationIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("loc%02d", i)
	}
	return out
}

// waitFor polls cond every 20ms until it holds or d passes, then fails with what().
func waitFor(t *testing.T, d time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ownership returns who owns what, from the replicas' own view, and whether every id is
// owned by exactly one of them.
func ownership(rs []*testReplica, ids []string) (map[string][]string, bool) {
	by := map[string][]string{}
	for _, r := range rs {
		for _, id := range r.Owned() {
			by[id] = append(by[id], r.o.Name)
		}
	}
	for _, id := range ids {
		if len(by[id]) != 1 {
			return by, false
		}
	}
	return by, len(by) == len(ids)
}

// bumpWrites counts one write in the mirror itself, so the count travels with the mirror.
func bumpWrites(tx *store.Tx) error {
	n := 0
	if c, err := tx.Cursor("writes"); err == nil {
		n, _ = strconv.Atoi(c.Value)
	}
	return tx.SetCursor("writes", store.Cursor{Value: strconv.Itoa(n + 1)})
}

// writesIn reads the write count of a mirror file no unit has open.
func writesIn(t *testing.T, path string) int {
	t.Helper()
	db, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	_ = db.View(func(tx *store.Tx) error {
		c, err := tx.Cursor("writes")
		if err == nil {
			n, _ = strconv.Atoi(c.Value)
		}
		return err
	})
	return n
}

// runningWrites reads the write count of a running unit's mirror.
func (u *units) runningWrites(id string) int {
	u.mu.Lock()
	un := u.running[id]
	u.mu.Unlock()
	n := 0
	if un != nil {
		_ = un.db.View(func(tx *store.Tx) error {
			c, err := tx.Cursor("writes")
			if err == nil {
				n, _ = strconv.Atoi(c.Value)
			}
			return err
		})
	}
	return n
}
