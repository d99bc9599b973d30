package reconcile_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ghlwire"
	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/config"
	"ptsync/harness/convergence"
	"ptsync/internal/secret"
	"ptsync/metrics"
	"ptsync/replicator/ingest"
	"ptsync/replicator/reconcile"
	"ptsync/replicator/reconcile/plan"
	"ptsync/sim/ghlsim"
	"ptsync/sim/ptdsim"
	"ptsync/store"
)

// harness is both simulators on loopback listeners, a real bbolt mirror in a temp dir, the
// real HighLevel client and ingest poller, the real PTD rest driver and the engine under test.
type harness struct {
	t       *testing.T
	ctx     context.Context
	gsim    *ghlsim.Server
	psim    *ptdsim.Sim
	zap     *ptdsim.ZapierRecorder
	dbPath  string
	db      *store.DB
	cfg     *config.Config
	client  *ghl.Client
	adapter ptd.Adapter
	poller  *ingest.Poller
	eng     *reconcile.Engine
	reg     *prometheus.Registry
	opts    hopts
	rec     *recorder
	gurl    string
	purl    string
	token   string
}

// recorder keeps the method, path and body of every request the HighLevel client sends.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	next http.RoundTripper
}

type recorded struct{ method, path, body string }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, string(body)})
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

type hopts struct {
	extra    string // HCL blocks appended to the base configuration
	readOnly bool
	zapier   bool
	ptdCaps  *ptdwire.Capabilities
	tweak    func(*reconcile.Options)
	// dirtyChildrenOnly refreshes HighLevel children of new or changed contacts only (the
	// ingest Children job's first priority) instead of every contact each cycle.
	dirtyChildrenOnly bool
	// logger receives the poller's and the engine's lines (default: discarded).
	logger hclog.Logger
}

const baseHCL = `
ghl {
  base_url      = env("GHL_URL")
  location_id   = env("LOC")
  private_token = env("GHL_TOKEN")
  scopes        = SCOPES
}
ptd {
  driver = "rest"
  rest {
    base_url = env("PTD_URL")
    api_key  = env("PTD_KEY")
  }
}
store { path = env("DB") }
pusher {
  max_attempts = 4
  backoff_base = "1ms"
  backoff_max  = "2ms"
}
`

func parseConfig(t *testing.T, src string, vars map[string]string) (*config.Config, error) {
	t.Helper()
	return config.Parse([]byte(src), "test.hcl", config.Env{LookupEnv: func(n string) (string, bool) { v, ok := vars[n]; return v, ok }})
}

func newHarness(t *testing.T, o hopts) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, opts: o, reg: prometheus.NewRegistry()}
	h.gsim = ghlsim.New(ghlsim.Options{Seed: 11, Limits: ghlsim.Limits{BurstMax: 1 << 20, BurstInterval: time.Second, DailyMax: 1 << 30, Disabled: true}})
	gurl, err := h.gsim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.gsim.Close() })
	h.psim = ptdsim.New(ptdsim.Options{Capabilities: o.ptdCaps, Seed: 5})
	psrv, err := h.psim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { psrv.Close(context.Background()) })
	tok := h.gsim.IssuePIT(scopesFor(o.readOnly)...)
	h.connect(gurl, psrv.URL, tok, filepath.Join(t.TempDir(), "ptsync.db"))
	h.open()
	return h
}

func scopesFor(readOnly bool) []string {
	if readOnly {
		return []string{ghlwire.ScopeContactsReadonly}
	}
	return []string{ghlwire.ScopeContactsReadonly, ghlwire.ScopeContactsWrite}
}

// connect builds the configuration, the HighLevel client and the PTD adapter for simulators
// at gurl and purl and a mirror at dbPath.
func (h *harness) connect(gurl, purl, tok, dbPath string) {
	t, o := h.t, h.opts
	t.Helper()
	var err error
	h.gurl, h.purl, h.token, h.dbPath = gurl, purl, tok, dbPath
	scopes := scopesFor(o.readOnly)
	scopesHCL := `["contacts.readonly", "contacts.write"]`
	if o.readOnly {
		scopesHCL = `["contacts.readonly"]`
	}
	loc, key := "simLocation000000001", "sim-key"
	if h.gsim != nil {
		loc = h.gsim.LocationID()
	}
	if h.psim != nil {
		key = h.psim.APIKey()
	}
	vars := map[string]string{"GHL_URL": gurl, "LOC": loc, "GHL_TOKEN": tok, "PTD_URL": purl, "PTD_KEY": key, "DB": h.dbPath}
	src := strings.ReplaceAll(baseHCL, "SCOPES", scopesHCL) + o.extra
	if h.cfg, err = parseConfig(t, src, vars); err != nil {
		t.Fatalf("config: %v", err)
	}
	h.rec = &recorder{next: http.DefaultTransport.(*http.Transport).Clone()}
	h.client, err = ghl.New(ghl.Options{BaseURL: gurl, Transport: h.rec, LocationID: loc,
		Credentials: ghl.NewStaticSource(loc, secret.New(tok), scopes),
		Limiter:     ghl.NewLimiter(ghl.LimiterOptions{Location: loc, Max: 1 << 20, Interval: time.Second, DailyCap: 1 << 30}),
		Retry:       ghl.RetryPolicy{Base: time.Millisecond, Cap: 5 * time.Millisecond, MaxAttempts: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if o.zapier {
		h.zap = ptdsim.NewZapierRecorder(ptdsim.ZapierOptions{Apply: h.psim})
		zsrv, err := h.zap.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { zsrv.Close(context.Background()) })
		hook := func(a string) ptd.Secret { return secret.New(ptdsim.HookURL(zsrv.URL, a)) }
		h.adapter, err = ptd.NewZapier(ptd.ZapierOptions{Hooks: ptd.ZapierHooks{AddClient: hook(ptdwire.ZapierAddClient),
			AddToGroup: hook(ptdwire.ZapierAddToGroup), Reminder: hook(ptdwire.ZapierReminder)}, MaxRetries: -1})
	} else {
		// The pushers' parallel requests make the transport dial connections it may never
		// use; the simulator's Shutdown waits 5 s for such never-used connections, so close
		// them before it runs (cleanups run last-registered first).
		tr := http.DefaultTransport.(*http.Transport).Clone()
		t.Cleanup(tr.CloseIdleConnections)
		var r *ptd.REST
		r, err = ptd.NewREST(ptd.RESTOptions{BaseURL: purl, APIKey: secret.New(key), MaxRetries: -1,
			HTTPClient: &http.Client{Transport: tr, Timeout: 30 * time.Second}})
		if err == nil {
			err = r.Open(h.ctx)
		}
		h.adapter = r
	}
	if err != nil {
		t.Fatal(err)
	}
}

// attachHarness connects to another process's simulators and mirror (the crash test's
// child): args are what attachArgs returned.
func attachHarness(t *testing.T, o hopts, args []string) *harness {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	o.readOnly = args[6] == "true"
	h := &harness{t: t, ctx: ctx, opts: o}
	h.connect(args[0], args[1], args[3], args[5])
	h.open()
	return h
}

// open (re)opens the mirror and builds the poller and the engine on it, as a restart would.
func (h *harness) open() {
	t := h.t
	t.Helper()
	db, err := store.Open(h.dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.db = db
	t.Cleanup(func() { db.Close() })
	h.reg = prometheus.NewRegistry()
	m, log := metrics.New(h.reg), h.opts.logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	h.poller, err = ingest.New(ingest.Options{Store: db, Client: h.client, Settings: ingest.Settings{Workers: 8}, Metrics: m, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	o := reconcile.Options{Store: db, GHL: h.client, PTD: h.adapter, Config: h.cfg, Metrics: m,
		Logger: log, PTDChildrenPerPoll: -1, Seed: 1}
	if h.opts.tweak != nil {
		h.opts.tweak(&o)
	}
	h.eng, err = reconcile.New(o)
	if err != nil {
		t.Fatal(err)
	}
}

// restart closes the mirror and opens everything again on the same file.
func (h *harness) restart() {
	h.t.Helper()
	if err := h.db.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.open()
}

// ingest mirrors HighLevel through the ingest engineer's poller: incremental search, then
// the children of every mirrored contact.
func (h *harness) ingest() {
	h.t.Helper()
	if _, err := h.poller.Incremental(h.ctx); err != nil {
		h.t.Fatalf("ingest: %v", err)
	}
	var ids []string
	if err := h.db.View(func(tx *store.Tx) error {
		return tx.ForEachGHLContact(func(c *store.GHLContact) error {
			if dirty, err := tx.IsDirty(c.ID); h.opts.dirtyChildrenOnly && (err != nil || !dirty) {
				return err
			}
			// Quarantined contacts are passed too: the poller itself leaves them alone, so
			// their confirmations keep counting (TestDeletePolicyAfterConfirmations).
			ids = append(ids, c.ID)
			return nil
		})
	}); err != nil {
		h.t.Fatal(err)
	}
	if st := h.poller.RefreshChildren(h.ctx, ids, "sweep", nil); st.FirstErr != nil {
		h.t.Fatalf("children: %v", st.FirstErr)
	}
}

// syncedPair seeds six HighLevel contacts, one matched by a PTD client's email, converges,
// and returns that pair.
func (h *harness) syncedPair() (gid, pid string) {
	h.t.Helper()
	ids, rep := h.seed(6, 1, 0, 0, false)
	h.converge(4)
	m := rep.Matches[0]
	return ids[m.Index], m.ClientID
}

// planPTDEdit edits PTD client pid, then polls PTD and reconciles: the edit is planned, not
// pushed yet.
func (h *harness) planPTDEdit(pid string, in ptdwire.ClientInput) {
	h.t.Helper()
	if _, err := h.psim.EditClient(pid, in); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.eng.PollPTD(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.eng.Reconcile(h.ctx); err != nil {
		h.t.Fatal(err)
	}
}

// convergeToFirstName converges (at most max cycles) and fails unless both sides of the pair
// then hold first name want.
func (h *harness) convergeToFirstName(max int, gid, pid, want string) {
	h.t.Helper()
	h.converge(max)
	g, _ := h.gsim.Contact(gid)
	p, _ := h.psim.Client(pid)
	if g.FirstName != want || p.FirstName != want {
		h.t.Fatalf("after convergence ghl %q ptd %q, want the newest edit %q on both", g.FirstName, p.FirstName, want)
	}
}

// cycle is one full round: HighLevel ingestion, then the engine's Cycle.
func (h *harness) cycle() reconcile.CycleStats {
	h.t.Helper()
	h.ingest()
	st, err := h.eng.Cycle(h.ctx)
	if err != nil {
		h.t.Fatalf("cycle: %v", err)
	}
	return st
}

// converge runs cycles until one plans nothing and the outbox is empty; it fails after max.
func (h *harness) converge(max int) int {
	h.t.Helper()
	for i := 1; i <= max; i++ {
		st := h.cycle()
		if st.Plan.IsEmpty() && h.outboxLen() == 0 {
			return i
		}
	}
	_ = h.db.View(func(tx *store.Tx) error {
		n := 0
		return tx.ForEachOutbox(func(o *store.OutboxEntry) error {
			if n++; n <= 5 {
				h.t.Logf("outbox %d %s %s %s dead=%v attempts=%d: %s %s", o.Seq, o.Target, o.Op, o.RecordID, o.Dead, o.Attempts, o.LastError, o.Payload)
			}
			return nil
		})
	})
	h.t.Fatalf("no convergence after %d cycles; outbox %d", max, h.outboxLen())
	return 0
}

func (h *harness) outboxLen() int {
	n := 0
	_ = h.db.View(func(tx *store.Tx) error {
		return tx.ForEachOutbox(func(*store.OutboxEntry) error { n++; return nil })
	})
	return n
}

// check asserts the convergence property.
func (h *harness) check() convergence.Report {
	h.t.Helper()
	rep, err := convergence.Check(h.db, h.gsim, h.psim, h.cfg.Mapping)
	if err != nil {
		h.t.Fatal(err)
	}
	if !rep.OK() {
		h.t.Fatalf("not converged: %s", rep)
	}
	return rep
}

// linkOf returns the contact link of a HighLevel contact.
func (h *harness) linkOf(ghlID string) store.Link {
	h.t.Helper()
	var l store.Link
	if err := h.db.View(func(tx *store.Tx) error {
		var err error
		l, err = tx.LinkByGHL(store.KindContact, ghlID)
		return err
	}); err != nil {
		h.t.Fatalf("link of %s: %v", ghlID, err)
	}
	return l
}

func strp(s string) *string { return &s }

func reconcileTake(side string) plan.Resolution { return plan.Resolution{Take: side} }
