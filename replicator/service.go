// Package replicator is the ptsync service: it wires the store, the HighLevel client, the
// ingestion pollers (package ingest), the two-way jobs (a reconcile.Engine over the
// configured PT Distinction driver),
// the webhook, metrics and admin listeners, and runs every job on its cron schedule (UTC,
// with panic recovery and skip-if-still-running), plus out-of-band nudges from webhooks.
//
// Lifecycle: New -> Open(ctx) -> Run(ctx) until ctx ends -> Close(ctx). Close is safe after a
// partial Open. Reload applies a new configuration's schedules and tuning while running.
package replicator

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ptd"
	"ptsync/config"
	"ptsync/metrics"
	"ptsync/replicator/ingest"
	"ptsync/replicator/reconcile"
	"ptsync/store"
	"ptsync/store/query"
)

// Notifier sends a systemd notification ("READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=...").
type Notifier func(state string) error

// SdNotify is the default Notifier: sd_notify over $NOTIFY_SOCKET, a no-op without it.
func SdNotify(state string) error {
	_, err := daemon.SdNotify(false, state)
	return err
}

// Options configure a Service. Config is required.
type Options struct {
	Config *config.Config
	Logger hclog.Logger
	// Registry receives every collector and is what /metrics serves (default a new registry).
	Registry *prometheus.Registry
	Now      func() time.Time
	Version  string
	// IngestOnly leaves the two-way half out: no PT Distinction driver and no reconcile
	// engine, so the ptd, reconcile, push, reminders and ptd_sweep jobs are not scheduled.
	// Tests of HighLevel ingestion alone set it (and the demo's demo.Options.IngestOnly).
	IngestOnly bool
	// PTDDrivers are the PT Distinction drivers the configuration may name (default
	// ptd.Drivers()); tests add one with ptd.Registry.With.
	PTDDrivers ptd.Registry
	// Progress receives backfill progress (the demo's progress bar).
	Progress func(ingest.Progress)
	// Notify defaults to SdNotify; WatchdogInterval defaults to what systemd announces
	// ($WATCHDOG_USEC) and 0 disables the pings.
	Notify           Notifier
	WatchdogInterval *time.Duration
	// HTTPTransport is used for HighLevel requests (tests); default a clone of the default.
	HTTPTransport http.RoundTripper
	// MirrorFailCommit injects failed mirror commits (tests: a full disk below the store;
	// see store.Options.FailCommit). Never set in production.
	MirrorFailCommit func() error
}

// Service is a running ptsync. Its methods are safe for concurrent use.
type Service struct {
	opts Options
	log  hclog.Logger
	now  func() time.Time
	reg  *prometheus.Registry

	mu      sync.Mutex
	cfg     *config.Config
	entries []cron.EntryID
	closed  bool

	m        *metrics.Metrics
	db       *store.DB
	client   *ghl.Client
	poller   *ingest.Poller
	jobs     map[string]*job
	cron     *cron.Cron
	metricsS *metrics.Server
	webhookS *http.Server
	webhookL net.Listener
	adminS   *http.Server
	adminL   net.Listener
	runCtx   context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	ready    chan struct{} // closed once the backfill finished
	readOnly bool
	// notReady holds the reasons /readyz answers 503 (readiness.go); set up by Open.
	notReady *readiness

	// The two-way half, built by openTwoWay (all nil with IngestOnly).
	engine     *reconcile.Engine
	ptdTrigger http.Handler // the driver's inbound events at /webhooks/ptd; nil when it takes none
	ptdOps     []string     // the PTD driver's operation labels
}

// New checks opts; it opens nothing.
func New(opts Options) (*Service, error) {
	if opts.Config == nil {
		return nil, errors.New("cannot create service: no configuration")
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Notify == nil {
		opts.Notify = SdNotify
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if len(opts.PTDDrivers.Names()) == 0 {
		opts.PTDDrivers = ptd.Drivers()
	}
	return &Service{opts: opts, log: opts.Logger, now: opts.Now, reg: opts.Registry, cfg: opts.Config,
		ready: make(chan struct{})}, nil
}

// Config returns the configuration in force.
func (s *Service) Config() *config.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// Store returns the open mirror (nil before Open).
func (s *Service) Store() *store.DB { return s.db }

// MetricsAddr is the bound metrics address after Open ("" before).
func (s *Service) MetricsAddr() string { return addrOf(s.metricsS.Addr()) }

// WebhookAddr is the bound webhook address ("" when webhooks are off).
func (s *Service) WebhookAddr() string {
	if s.webhookL == nil {
		return ""
	}
	return s.webhookL.Addr().String()
}

// AdminAddr is the bound admin address after Open.
func (s *Service) AdminAddr() string {
	if s.adminL == nil {
		return ""
	}
	return s.adminL.Addr().String()
}

func addrOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// ReadOnly reports whether the credentials grant contacts.readonly only.
func (s *Service) ReadOnly() bool { return s.readOnly }

// Open opens the mirror, builds the client and poller, the PT Distinction driver and the
// reconcile engine (unless Options.IngestOnly), registers the metrics and starts the
// metrics, webhook and admin listeners. Nothing is scheduled yet (Run does that). On error
// everything opened so far stays for Close to release.
func (s *Service) Open(ctx context.Context) error {
	cfg := s.Config()
	s.runCtx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.m = metrics.New(s.reg)
	s.m.Clock = s.now
	s.m.SetBuildInfo(s.opts.Version)
	s.notReady = newReadiness(s.m, s.log)
	s.notReady.set(metrics.NotReadyBackfill, "first full sync (backfill) in progress")
	db, err := store.Open(cfg.Store.Path, store.Options{Logger: s.log.Named("store"), Now: s.now, AppVersion: s.opts.Version,
		OnCommit: s.mirrorCommitted, FailCommit: s.opts.MirrorFailCommit})
	if err != nil {
		return fmt.Errorf("cannot open service: %w", err)
	}
	s.db = db
	if err := s.repairFutureCursors(cfg); err != nil {
		return err
	}
	s.m.SetMirrorCounter(s.MirrorCounts)
	if s.client, err = s.buildClient(ctx, cfg); err != nil {
		return err
	}
	s.poller, err = ingest.New(ingest.Options{Store: db, Client: s.client, Logger: s.log, Metrics: s.m, Now: s.now,
		Settings: ingest.SettingsFromConfig(cfg, scheduleInterval(cfg, config.JobChildren, s.now()))})
	if err != nil {
		return err
	}
	if !s.opts.IngestOnly {
		if err := s.openTwoWay(cfg); err != nil {
			return fmt.Errorf("cannot build reconcile side: %w", err)
		}
	}
	s.jobs = s.buildJobs()
	s.declareMetrics(cfg)
	if err := s.openListeners(ctx, cfg); err != nil {
		return err
	}
	return nil
}

// repairFutureCursors pulls back, with one warning each, the cursors a mirror written before
// cursors were bounded may hold in the future: one record stamped 2030 moved such a cursor
// years ahead and every later edit was skipped (store.RepairFutureCursors).
func (s *Service) repairFutureCursors(cfg *config.Config) error {
	now := s.now().UTC()
	repairs, err := s.db.RepairFutureCursors(now, cfg.GHL.SearchOverlap)
	if err != nil {
		return fmt.Errorf("cannot open service: %w", err)
	}
	for _, r := range repairs {
		s.log.Warn("cursor was ahead of the clock; pulled back to re-read what it skipped", "cursor", r.Name,
			"through", r.Was.Format(time.RFC3339Nano), "now", now.Format(time.RFC3339), "pulled_back_to", r.To.Format(time.RFC3339Nano))
	}
	return nil
}

func (s *Service) buildClient(ctx context.Context, cfg *config.Config) (*ghl.Client, error) {
	obs := s.m.GHLObserver()
	var creds ghl.CredentialSource
	if cfg.GHL.OAuth != nil {
		o := cfg.GHL.OAuth
		src, err := ghl.NewOAuthSource(ghl.OAuthSourceOptions{
			Location: cfg.GHL.LocationID, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
			TokenURL: o.TokenURL, Store: &ghl.FileTokenStore{Path: o.TokenFile, Clock: s.now}, Logger: s.log, Clock: s.now, Observer: obs,
		})
		if err != nil {
			return nil, fmt.Errorf("cannot open service: %w", err)
		}
		creds = src
	} else {
		creds = ghl.NewStaticSource(cfg.GHL.LocationID, cfg.GHL.PrivateToken, cfg.GHL.Scopes)
	}
	lim := ghl.NewLimiter(ghl.LimiterOptions{Location: cfg.GHL.LocationID, Max: cfg.GHL.Rate.Burst, Interval: cfg.GHL.Rate.Interval,
		DailyCap: cfg.GHL.Rate.Daily, DailyShare: cfg.GHL.Rate.DailyShare, Clock: s.now, Logger: s.log, Observer: obs})
	c, err := ghl.New(ghl.Options{BaseURL: cfg.GHL.BaseURL, LocationID: cfg.GHL.LocationID, Credentials: creds,
		Transport: s.opts.HTTPTransport, Limiter: lim, AttemptTimeout: cfg.GHL.Timeout, Version: s.opts.Version,
		Logger: s.log, Clock: s.now, Observer: obs})
	if err != nil {
		return nil, fmt.Errorf("cannot open service: %w", err)
	}
	ro, err := c.ReadOnly(ctx)
	if err != nil {
		s.log.Warn("cannot tell the granted scopes yet; assuming writes are allowed", "error", err)
	}
	s.readOnly = ro || cfg.GHL.ReadOnly()
	if s.readOnly {
		s.log.Warn("running read-only: the credentials grant contacts.readonly only; ptsync will not write to HighLevel")
	}
	return c, nil
}

func (s *Service) openListeners(ctx context.Context, cfg *config.Config) error {
	var err error
	s.metricsS, err = metrics.NewServer(metrics.ServerOptions{ListenAddress: cfg.Metrics.Listen, WebConfigFile: cfg.Metrics.WebConfig,
		Gatherer: s.reg, Registerer: s.reg, Ready: s.Ready, Logger: s.log.Named("metrics")})
	if err != nil {
		return fmt.Errorf("cannot open service: %w", err)
	}
	if err := s.metricsS.Open(ctx); err != nil {
		return fmt.Errorf("cannot open service: %w", err)
	}
	if cfg.Webhooks.Enabled {
		var keys []crypto.PublicKey
		for _, k := range cfg.Webhooks.GHLPublicKeys {
			keys = append(keys, k.Key)
		}
		h, err := ingest.NewWebhookHandler(ingest.WebhookOptions{Store: s.db, PublicKeys: keys,
			ReplayWindow: cfg.Webhooks.ReplayWindow, MaxBodyBytes: cfg.Webhooks.MaxBodyBytes, LocationID: cfg.GHL.LocationID,
			Metrics: s.m, Logger: s.log, Now: s.now, Dirty: s.webhookDirty})
		if err != nil {
			return err
		}
		s.m.DeclareWebhooks(metrics.UpstreamGHL, h.Schemes()...)
		mux := http.NewServeMux()
		mux.Handle("/webhooks/ghl", h)
		if s.ptdTrigger != nil {
			mux.Handle("/webhooks/ptd", s.ptdTrigger)
		}
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
		if s.webhookL, s.webhookS, err = serve(ctx, cfg.Webhooks.Listen, mux, s.log.Named("webhooks")); err != nil {
			return err
		}
		s.log.Info("webhooks listening", "address", s.WebhookAddr(), "path", "/webhooks/ghl",
			"ghl_keys", fmt.Sprint(cfg.Webhooks.GHLPublicKeys))
	}
	token, err := store.NewAdminToken()
	if err != nil {
		return err
	}
	// The admin endpoint serves `ptsync query` while the service holds the mirror; the
	// reconcile commands (plan, conflicts, outbox, history) share its token check.
	admin := query.Handler(s.db, append([]query.HandlerOption{query.WithToken(token), query.WithClock(s.now), s.statusRoute()},
		reconcile.AdminRoutes(s.db, s.engine)...)...)
	if s.adminL, s.adminS, err = serve(ctx, cfg.Admin.Listen, admin, s.log.Named("admin")); err != nil {
		return err
	}
	if err := store.WriteAdminAddr(cfg.Store.Path, store.AdminInfo{Addr: s.AdminAddr(), Token: token, PID: os.Getpid(), StartedAt: s.now().UTC()}); err != nil {
		return fmt.Errorf("cannot open service: %w", err)
	}
	return nil
}

func serve(ctx context.Context, addr string, h http.Handler, log hclog.Logger) (net.Listener, *http.Server, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("listener stopped", "address", ln.Addr().String(), "error", err)
		}
	}()
	return ln, srv, nil
}

// webhookDirty is the webhook handler's nudge: contact events re-read the contact with its
// children; either way the children job runs now instead of at its next tick.
func (s *Service) webhookDirty(contactID, event string, contactChanged bool) {
	if contactChanged {
		s.poller.WantContact(contactID, event)
	}
	s.Trigger(config.JobChildren)
}

// Ready answers /readyz: nil once the backfill finished, while the mirror answers a read and
// no other reason holds (the last mirror write failed, a credential is rejected); otherwise
// the reasons, in words.
func (s *Service) Ready(ctx context.Context) error {
	if s.db == nil || s.notReady == nil {
		return errors.New("mirror not open")
	}
	if err := s.notReady.err(); err != nil {
		return err
	}
	return s.db.View(func(tx *store.Tx) error { _, err := tx.DirtyCount(); return err })
}

// mirrorCommitted is the store's OnCommit: a failed commit counts by cause and makes the
// service not ready until the next commit succeeds (every job writes, so that is the first
// job run after space comes back).
func (s *Service) mirrorCommitted(err error) {
	if err == nil {
		s.notReady.clear(metrics.NotReadyMirrorWrite)
		return
	}
	s.m.MirrorWriteFailed(store.WriteCause(err))
	why := "the last write to the mirror failed: " + err.Error()
	var we *store.WriteError
	if errors.As(err, &we) {
		why += " (" + we.Hint() + ")"
	}
	s.notReady.set(metrics.NotReadyMirrorWrite, why)
}

// MirrorCounts returns how many records the open mirror holds, by collection, plus "links" and
// "dirty"; it feeds ptsync_mirror_records at scrape time. A failed read yields what was counted
// (an empty map at worst). Safe for concurrent use after Open.
func (s *Service) MirrorCounts() map[string]int {
	out := map[string]int{}
	_ = s.db.View(func(tx *store.Tx) error {
		st, err := tx.Stats()
		if err != nil {
			return err
		}
		for _, c := range store.Collections() {
			out[string(c)] = st[string(c)]
		}
		out["links"] = st["links"]
		out["dirty"] = st["dirty"]
		return nil
	})
	return out
}

// scheduleInterval is the gap between the next two firings of job's schedule after t.
func scheduleInterval(cfg *config.Config, job string, t time.Time) time.Duration {
	sc, ok := cfg.Schedule(job)
	if !ok || sc.Cron == nil {
		return 0
	}
	a := sc.Next(t.UTC())
	return sc.Next(a).Sub(a)
}

// Run sends READY, runs the backfill if the mirror has never completed one, schedules every
// job and then keeps the main loop: watchdog pings while healthy, gauges refreshed. It
// returns nil when ctx ends (after sending STOPPING) and an error only if the backfill
// failed for a reason other than ctx.
func (s *Service) Run(ctx context.Context) error {
	_ = s.opts.Notify(daemon.SdNotifyReady)
	defer func() { _ = s.opts.Notify(daemon.SdNotifyStopping) }()
	wd := s.watchdogInterval()
	backfillDone := make(chan error, 1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		backfillDone <- s.backfill(s.runCtx)
	}()
	var tick <-chan time.Time
	if wd > 0 {
		t := time.NewTicker(wd / 2)
		defer t.Stop()
		tick = t.C
		s.log.Debug("watchdog enabled", "interval", wd)
	}
	gauges := time.NewTicker(5 * time.Second)
	defer gauges.Stop()
	for {
		select {
		case <-ctx.Done():
			s.log.Info("stopping", "reason", context.Cause(ctx))
			return nil
		case err := <-backfillDone:
			backfillDone = nil
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			close(s.ready)
			s.notReady.clear(metrics.NotReadyBackfill)
			s.schedule()
			_ = s.opts.Notify("STATUS=in sync; jobs scheduled")
		case <-tick:
			if err := s.healthy(); err != nil {
				s.log.Warn("unhealthy; withholding watchdog ping", "error", err)
				continue
			}
			_ = s.opts.Notify(daemon.SdNotifyWatchdog)
		case <-gauges.C:
			s.refreshGauges()
		}
	}
}

func (s *Service) watchdogInterval() time.Duration {
	if s.opts.WatchdogInterval != nil {
		return *s.opts.WatchdogInterval
	}
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		s.log.Warn("cannot read the systemd watchdog setting", "error", err)
	}
	return d
}

// healthy is the main loop's self-check before a watchdog ping: the mirror answers a read.
func (s *Service) healthy() error {
	return s.db.View(func(tx *store.Tx) error { _, err := tx.DirtyCount(); return err })
}

func (s *Service) backfill(ctx context.Context) error {
	need, err := s.poller.NeedsBackfill()
	if err != nil {
		return err
	}
	if !need {
		return nil
	}
	s.log.Info("first full sync: backfilling the mirror")
	start := s.now()
	_ = s.opts.Notify("STATUS=backfilling")
	st, err := s.poller.Backfill(ctx, s.opts.Progress)
	s.m.SyncFinished(jobBackfill, err, s.now().Sub(start))
	if err != nil {
		return fmt.Errorf("cannot complete first full sync: %w", err)
	}
	kv := []any{"contacts", st.Contacts.Read}
	for _, label := range ingest.ChildLabels(ingest.DefaultChildKinds()) {
		kv = append(kv, label, st.Children.Stored[label])
	}
	s.log.Info("backfill complete", append(kv, "duration", s.now().Sub(start).Round(time.Millisecond))...)
	return nil
}

// refreshGauges publishes outbox, conflict and quarantine gauges from the mirror.
func (s *Service) refreshGauges() {
	now := s.now()
	_ = s.db.View(func(tx *store.Tx) error {
		type agg struct {
			depth, dead int
			oldest      time.Time
		}
		by := map[string]*agg{store.SideGHL: {}, store.SidePTD: {}}
		_ = tx.ForEachOutbox(func(e *store.OutboxEntry) error {
			a := by[e.Target]
			if a == nil {
				return nil
			}
			if e.Dead {
				a.dead++
				return nil
			}
			if a.depth == 0 || e.CreatedAt.Before(a.oldest) {
				a.oldest = e.CreatedAt
			}
			a.depth++
			return nil
		})
		for t, a := range by {
			var age time.Duration
			if a.depth > 0 {
				age = now.Sub(a.oldest)
			}
			s.m.SetOutbox(t, a.depth, age)
			s.m.SetDeadLetters(t, a.dead)
		}
		if cs, err := tx.Conflicts("", false); err == nil {
			s.m.SetConflictsPending(len(cs))
		}
		if qs, err := tx.Quarantined(); err == nil {
			s.m.SetQuarantine(len(qs))
		}
		return nil
	})
	if s.engine != nil {
		// Here too, not only after a reconcile: the bound must grow while the jobs stall.
		s.engine.PublishPTDChildrenLag()
	}
}

// Close stops the schedules, cancels running jobs (a store transaction in flight completes:
// bbolt commits are atomic), waits for them until ctx ends, closes the listeners and the
// mirror, and removes the admin file. Safe after a partial Open and more than once.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	var errs []error
	if s.cron != nil {
		stopped := s.cron.Stop()
		defer func() {
			select {
			case <-stopped.Done():
			case <-ctx.Done():
			}
		}()
	}
	if s.cancel != nil {
		s.cancel()
	}
	waited := make(chan struct{})
	go func() { s.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("cannot wait for running jobs: %w", ctx.Err()))
	}
	for _, srv := range []*http.Server{s.webhookS, s.adminS} {
		if srv != nil {
			if err := srv.Shutdown(ctx); err != nil {
				_ = srv.Close()
			}
		}
	}
	if s.metricsS != nil {
		if err := s.metricsS.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.db != nil {
		if err := store.RemoveAdminAddr(s.db.Path()); err != nil {
			errs = append(errs, err)
		}
		s.m.SetMirrorCounter(nil)
		if err := s.db.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// restartOnly lists what Reload cannot change in place, as "what: old -> new".
func restartOnly(old, cur *config.Config) []string {
	var out []string
	cmp := func(what, a, b string) {
		if a != b {
			out = append(out, what)
		}
	}
	cmp("store.path", old.Store.Path, cur.Store.Path)
	cmp("ghl.base_url", old.GHL.BaseURL, cur.GHL.BaseURL)
	cmp("ghl.location_id", old.GHL.LocationID, cur.GHL.LocationID)
	cmp("ghl auth", fmt.Sprint(old.GHL.OAuth != nil, old.GHL.PrivateToken.Source()), fmt.Sprint(cur.GHL.OAuth != nil, cur.GHL.PrivateToken.Source()))
	cmp("ghl.rate", fmt.Sprint(old.GHL.Rate), fmt.Sprint(cur.GHL.Rate))
	cmp("metrics.listen", old.Metrics.Listen, cur.Metrics.Listen)
	cmp("admin.listen", old.Admin.Listen, cur.Admin.Listen)
	cmp("webhooks", fmt.Sprint(old.Webhooks.Enabled, old.Webhooks.Listen, old.Webhooks.ReplayWindow, old.Webhooks.GHLPublicKeys),
		fmt.Sprint(cur.Webhooks.Enabled, cur.Webhooks.Listen, cur.Webhooks.ReplayWindow, cur.Webhooks.GHLPublicKeys))
	cmp("ptd", fmt.Sprint(old.PTD.Driver), fmt.Sprint(cur.PTD.Driver))
	return out
}

// Reload applies cfg: schedules are replaced and the poller's tuning and the log level take
// effect for the next runs. Settings that need a restart (listeners, store, credentials,
// rate budget, PTD driver) are kept as they are and named in a warning.
func (s *Service) Reload(cfg *config.Config) {
	s.mu.Lock()
	old := s.cfg
	s.cfg = cfg
	s.mu.Unlock()
	if l, ok := s.log.(interface{ SetLevel(hclog.Level) }); ok {
		l.SetLevel(cfg.Log.HCLogLevel())
	}
	s.poller.SetSettings(ingest.SettingsFromConfig(cfg, scheduleInterval(cfg, config.JobChildren, s.now())))
	select {
	case <-s.ready:
		s.schedule()
	default: // still backfilling: Run schedules the new config when it finishes
	}
	if diffs := restartOnly(old, cfg); len(diffs) > 0 {
		s.log.Warn("configuration reloaded; some changes need a restart to apply", "settings", strings.Join(diffs, ", "))
	} else {
		s.log.Info("configuration reloaded")
	}
}

// schedule (re)installs every job of the current config on the cron scheduler (UTC).
func (s *Service) schedule() {
	cfg := s.Config()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.cron == nil {
		cl := cronLogger{s.log.Named("cron")}
		s.cron = cron.New(cron.WithLocation(time.UTC), cron.WithLogger(cl),
			cron.WithChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)))
		s.cron.Start()
	}
	for _, id := range s.entries {
		s.cron.Remove(id)
	}
	s.entries = nil
	var missing []string
	for _, sc := range cfg.Schedules {
		j := s.jobs[sc.Job]
		if j == nil || j.fn == nil {
			missing = append(missing, sc.Job)
			continue
		}
		s.entries = append(s.entries, s.cron.Schedule(sc.Cron, cron.FuncJob(func() { s.runJob(j) })))
		s.m.SetSyncSchedule(sc.Job, scheduleInterval(cfg, sc.Job, s.now()))
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		s.log.Warn("jobs not wired in this build; not scheduled", "jobs", strings.Join(missing, ","))
	}
	s.log.Info("jobs scheduled", "count", len(s.entries))
}

// cronLogger adapts hclog to cron.Logger; cron's per-run chatter goes to trace.
type cronLogger struct{ l hclog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Trace(msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error(msg, append(kv, "error", err)...)
}

// WaitReady blocks until the backfill finished (the service is in sync and its jobs are
// scheduled) or ctx ends.
func (s *Service) WaitReady(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
