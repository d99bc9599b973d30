package replicator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"ptsync/apiclient/ptdwire"
	"ptsync/config"
	"ptsync/metrics"
	"ptsync/replicator/ingest"
	"ptsync/replicator/reconcile"
	"ptsync/sim/gen"
	"ptsync/sim/ghlsim"
	"ptsync/sim/ptdsim"
	"ptsync/store"
)

// DemoOptions configure the in-process demo. Zero values take the defaults noted.
type DemoOptions struct {
	// Contacts seeded in HighLevel (default 2000), each with generated tasks, notes and
	// appointments; Overlap of them (default 0.6) also exist in PTD, plus Contacts/10 own clients.
	Contacts int
	Overlap  float64
	Seed     int64
	// DBPath is the mirror file, replaced at start and left behind (default ./ptsync-demo.db).
	DBPath string
	// BurstInterval time-scales HighLevel's 100-per-10s burst limit (default 500ms: 100 per
	// half second, 20x); the daily window shrinks by the same factor, so the proportions
	// stay HighLevel's. Both simulator and client use it.
	BurstInterval time.Duration
	// MetricsListen defaults to 127.0.0.1:0.
	MetricsListen string
	// Webhooks enables the webhook listener on 127.0.0.1:0 with a generated key (WebhookKey).
	// WebhookRSA also trusts an RSA-2048 key, as for HighLevel's legacy x-wh-signature
	// (WebhookKey.PostRSA signs with it).
	Webhooks, WebhookRSA bool
	// Logger for the service. When nil: with LogPath, records at LogLevel (default warn) go
	// to that file (replaced at start) and the summary counts its warnings and errors;
	// without, warnings and errors go to Stderr.
	Logger   hclog.Logger
	LogPath  string
	LogLevel hclog.Level
	// ConfigTemplate is the demo configuration's HCL source (config/demo.hcl). When set, the
	// demo writes it to ConfigPath (default: DBPath with .hcl instead of .db, mode 0600)
	// with every env("...") replaced by the running demo's value, so offline commands such
	// as `ptsync plan --config` can be pointed at the mirror afterwards.
	ConfigTemplate []byte
	ConfigPath     string
	// Stderr receives the progress bar (TTY: redrawn in place) or periodic lines.
	Stderr io.Writer
	TTY    bool
	// IngestOnly leaves the two-way half out (HighLevel ingestion only; see
	// Options.IngestOnly).
	IngestOnly bool
	Registry   *prometheus.Registry
	// GHLChurn and PTDChurn are the live mode's edits per second in HighLevel (a user's
	// field, tag, task and note edits; default 2) and in PTD (a coach's; default 1).
	// StatusEvery is the live status line's period (default 5s).
	GHLChurn, PTDChurn float64
	StatusEvery        time.Duration
	// Command is how the reader runs ptsync ("go run ." or "ptsync"), for the summary.
	Command string
	// Now is the demo's clock, which the service and the generated data share (default
	// time.Now).
	Now func() time.Time
	// MirrorFailCommit injects failed mirror commits and HTTPTransport carries the
	// service's HighLevel requests (tests; see the Options fields of the same names).
	MirrorFailCommit func() error
	HTTPTransport    http.RoundTripper
}

// DemoGrace bounds how long the demo takes to stop once asked (Ctrl-C, SIGTERM, a fatal
// error): the service's graceful shutdown, then the simulators.
const DemoGrace = 10 * time.Second

// simCloseGrace is how long the demo lets the PTD simulator finish requests at the end.
const simCloseGrace = 500 * time.Millisecond

// Demo is a running demo: both simulators on loopback and the real service against them.
// Its methods are safe for concurrent use unless noted.
type Demo struct {
	GHL     *ghlsim.Server
	PTD     *ptdsim.Sim
	Service *Service
	Config  *config.Config
	// WebhookKey signs webhooks the service accepts (Options.Webhooks).
	WebhookKey WebhookSigner

	opts    DemoOptions
	ptdSrv  *ptdsim.Server
	started time.Time
	// runDone is closed when Service.Run returned; runErr is its result, read only after.
	// Both WaitConverged and Close wait on runDone, so neither can take the other's result.
	runDone    chan struct{}
	runErr     error
	cancel     context.CancelFunc
	people     int
	logFile    *os.File
	logCount   *levelCounter
	configPath string
	routes     map[string]string // route name -> what it does, for the summary
	bar        *progressBar

	mu            sync.Mutex
	readyAt       time.Time
	convergedAt   time.Time
	backfillCalls int64
	closed        bool
	coachEdits    []PTDEdit
}

func (o *DemoOptions) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Contacts <= 0 {
		o.Contacts = 2000
	}
	if o.Overlap <= 0 {
		o.Overlap = 0.6
	}
	if o.DBPath == "" {
		o.DBPath = "ptsync-demo.db"
	}
	if o.BurstInterval <= 0 {
		o.BurstInterval = 500 * time.Millisecond
	}
	if o.MetricsListen == "" {
		o.MetricsListen = "127.0.0.1:0"
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if o.LogLevel == hclog.NoLevel {
		o.LogLevel = hclog.Warn
	}
	if o.ConfigTemplate != nil && o.ConfigPath == "" {
		o.ConfigPath = strings.TrimSuffix(o.DBPath, ".db") + ".hcl"
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.GHLChurn <= 0 {
		o.GHLChurn = 2
	}
	if o.PTDChurn <= 0 {
		o.PTDChurn = 1
	}
	if o.StatusEvery <= 0 {
		o.StatusEvery = 5 * time.Second
	}
}

// DemoLogPath is where `ptsync demo` keeps the service's log: next to the mirror, .log
// instead of .db.
func DemoLogPath(dbPath string) string { return strings.TrimSuffix(dbPath, ".db") + ".log" }

// StartDemo seeds and starts both simulators, builds the demo configuration (config.Demo,
// time-scaled rate budget, the mirror at DBPath which it replaces), seeds PTD's catalogue
// with every group and package the configuration's routes name, and starts the service,
// whose first run is the backfill. Close releases everything but the mirror, log and
// configuration files.
func StartDemo(ctx context.Context, o DemoOptions) (*Demo, error) {
	o.defaults()
	d := &Demo{opts: o, started: o.Now(), runDone: make(chan struct{}), logCount: &levelCounter{}}
	if err := d.openLog(); err != nil {
		return nil, err
	}
	scale := float64(o.BurstInterval) / float64(10*time.Second)
	d.GHL = ghlsim.New(ghlsim.Options{Seed: o.Seed, LocationID: "demo-location", Limits: ghlsim.Limits{
		BurstMax: 100, BurstInterval: o.BurstInterval, DailyMax: 200000, DailyInterval: time.Duration(float64(24*time.Hour) * scale)}})
	ghlURL, err := d.GHL.Start("127.0.0.1:0")
	if err != nil {
		d.Close(ctx)
		return nil, fmt.Errorf("cannot start highlevel simulator: %w", err)
	}
	people := gen.NewAt(o.Seed, o.Now()).People(o.Contacts)
	d.GHL.SeedPeople(people)
	d.people = len(people)
	d.PTD = ptdsim.New(ptdsim.Options{Seed: uint64(o.Seed)})
	if d.ptdSrv, err = d.PTD.Start("127.0.0.1:0"); err != nil {
		d.Close(ctx)
		return nil, fmt.Errorf("cannot start pt distinction simulator: %w", err)
	}
	dir, err := os.MkdirTemp("", "ptsync-demo-")
	if err != nil {
		d.Close(ctx)
		return nil, fmt.Errorf("cannot create demo directory: %w", err)
	}
	defer os.RemoveAll(dir)
	cfg, err := config.Demo(config.DemoOptions{GHLURL: ghlURL, PTDURL: d.ptdSrv.URL, Dir: dir, LocationID: d.GHL.LocationID(),
		GHLToken: d.GHL.IssuePIT("contacts.readonly", "contacts.write"), PTDAPIKey: d.PTD.APIKey(), MetricsListen: o.MetricsListen})
	if err != nil {
		d.Close(ctx)
		return nil, fmt.Errorf("cannot build demo configuration: %w", err)
	}
	// Seeding happens before any request reaches the simulator: the service starts below.
	if _, err := d.PTD.Seed(ptdsim.SeedOptions{People: people, Overlap: o.Overlap, PhoneOnly: 0.1, Own: o.Contacts / 10,
		OwnSeed: o.Seed + 1, Seed: uint64(o.Seed), Children: true}); err != nil {
		d.Close(ctx)
		return nil, fmt.Errorf("cannot seed pt distinction simulator: %w", err)
	}
	d.routes = seedRouteCatalogue(d.PTD, cfg.Routes)
	if cfg.Store.Path, err = filepath.Abs(o.DBPath); err != nil {
		d.Close(ctx)
		return nil, fmt.Errorf("cannot resolve demo mirror path %q: %w", o.DBPath, err)
	}
	cfg.GHL.Rate.Interval = o.BurstInterval
	if o.Webhooks {
		d.WebhookKey, cfg.Webhooks = demoWebhooks(o.WebhookRSA)
	}
	d.Config = cfg
	for _, p := range []string{o.DBPath, store.AdminPath(o.DBPath)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			d.Close(ctx)
			return nil, fmt.Errorf("cannot replace demo mirror: %w", err)
		}
	}
	if err := d.writeConfig(); err != nil {
		d.Close(ctx)
		return nil, err
	}
	d.bar = newProgressBar(o.Stderr, o.TTY, o.Now, func() int64 { return d.GHL.Counters().Total })
	noWatchdog := time.Duration(0)
	d.Service, err = New(Options{Config: cfg, Logger: d.opts.Logger, Registry: o.Registry, Now: o.Now, Version: "demo",
		IngestOnly: o.IngestOnly, Progress: d.bar.update, Notify: func(string) error { return nil },
		WatchdogInterval: &noWatchdog, MirrorFailCommit: o.MirrorFailCommit, HTTPTransport: o.HTTPTransport})
	if err != nil {
		d.Close(ctx)
		return nil, err
	}
	if err := d.Service.Open(ctx); err != nil {
		d.Close(ctx)
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	d.cancel = cancel
	go func() {
		d.runErr = d.Service.Run(runCtx)
		close(d.runDone)
	}()
	return d, nil
}

// demoWebhooks is the demo's webhook listener on any free loopback port, trusting a fresh
// Ed25519 key and, with withRSA, a fresh RSA-2048 key (the legacy x-wh-signature), both held
// by the returned signer.
func demoWebhooks(withRSA bool) (WebhookSigner, config.Webhooks) {
	signer := NewWebhookSigner()
	keys := []config.WebhookKey{{Key: signer.Public}}
	if withRSA {
		signer = signer.WithRSA(2048)
		keys = append(keys, config.WebhookKey{Key: signer.RSAPublic})
	}
	return signer, config.Webhooks{Enabled: true, Listen: "127.0.0.1:0", GHLPublicKeys: keys,
		ReplayWindow: 5 * time.Minute, MaxBodyBytes: 1 << 20}
}

// openLog sets opts.Logger: to the log file (LogPath) or warnings to Stderr, counting
// warnings and errors either way.
func (d *Demo) openLog() error {
	o := &d.opts
	if o.Logger != nil {
		return nil
	}
	out := io.Writer(o.Stderr)
	if o.LogPath != "" {
		f, err := os.OpenFile(o.LogPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("cannot open demo log: %w", err)
		}
		d.logFile, out = f, f
	}
	d.logCount.w = out
	o.Logger = hclog.New(&hclog.LoggerOptions{Name: "ptsync", Level: o.LogLevel, Output: d.logCount, Color: hclog.ColorOff})
	return nil
}

// levelCounter passes hclog's text output through, counting warning and error records
// (hclog writes each record with one Write).
type levelCounter struct {
	w              io.Writer
	warns, errorsN atomic.Int64
}

func (c *levelCounter) Write(p []byte) (int, error) {
	s := string(p)
	switch {
	case strings.Contains(s, "[ERROR]"):
		c.errorsN.Add(1)
	case strings.Contains(s, "[WARN]"):
		c.warns.Add(1)
	}
	return c.w.Write(p)
}

// seedRouteCatalogue adds to PTD every group and package a route names that PTD's
// catalogue lacks (compared by name, case-insensitively, as the engine resolves them), and
// describes each route for the summary.
func seedRouteCatalogue(sim *ptdsim.Sim, routes []config.Route) map[string]string {
	groups, packages := map[string]bool{}, map[string]bool{}
	for _, g := range sim.Groups() {
		groups[strings.ToLower(g.Name)] = true
	}
	for _, p := range sim.Packages() {
		packages[strings.ToLower(p.Name)] = true
	}
	desc := map[string]string{}
	for _, r := range routes {
		var what []string
		if r.Group != "" {
			if !groups[strings.ToLower(r.Group)] {
				sim.AddGroup(r.Group)
				groups[strings.ToLower(r.Group)] = true
			}
			what = append(what, fmt.Sprintf("group %q", r.Group))
		}
		if r.Package != "" {
			if !packages[strings.ToLower(r.Package)] {
				sim.AddPackage(r.Package)
				packages[strings.ToLower(r.Package)] = true
			}
			what = append(what, fmt.Sprintf("package %q", r.Package))
		}
		if r.Access != "" {
			what = append(what, strings.ReplaceAll(r.Access, "_", "-")+" access")
		}
		desc[r.Name] = strings.Join(what, " + ")
	}
	return desc
}

var envCall = regexp.MustCompile(`env\("([A-Za-z0-9_]+)"\)`)

// writeConfig writes ConfigTemplate with the running demo's values to ConfigPath. The
// configuration language refuses literal secrets, so the simulators' throwaway credentials
// go to files in a .secrets directory next to it (0700/0600) that the file() calls read.
func (d *Demo) writeConfig() error {
	o := d.opts
	if o.ConfigTemplate == nil {
		return nil
	}
	c := d.Config
	vals := map[string]string{
		"DEMO_GHL_URL": c.GHL.BaseURL, "DEMO_LOCATION_ID": c.GHL.LocationID, "DEMO_PTD_URL": c.PTD.REST().BaseURL,
		"DEMO_STORE_PATH": c.Store.Path, "DEMO_METRICS_LISTEN": "127.0.0.1:0",
	}
	secrets := map[string]struct{ file, value string }{
		"DEMO_GHL_TOKEN":   {"ghl-token", c.GHL.PrivateToken.Reveal()},
		"DEMO_PTD_API_KEY": {"ptd-api-key", c.PTD.REST().APIKey.Reveal()},
	}
	stem := strings.TrimSuffix(o.ConfigPath, ".hcl")
	secretDir := stem + ".secrets"
	if err := os.MkdirAll(secretDir, 0o700); err != nil {
		return fmt.Errorf("cannot write demo configuration: %w", err)
	}
	var missing []string
	var werr error
	text := envCall.ReplaceAllStringFunc(string(o.ConfigTemplate), func(m string) string {
		name := envCall.FindStringSubmatch(m)[1]
		if sec, ok := secrets[name]; ok {
			if err := os.WriteFile(filepath.Join(secretDir, sec.file), []byte(sec.value+"\n"), 0o600); err != nil && werr == nil {
				werr = err
			}
			return "file(" + strconv.Quote(filepath.Base(secretDir)+"/"+sec.file) + ")"
		}
		v, ok := vals[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return strconv.Quote(v)
	})
	if werr != nil {
		return fmt.Errorf("cannot write demo configuration: %w", werr)
	}
	if len(missing) > 0 {
		return fmt.Errorf("cannot write demo configuration: the template reads unknown variables %s", strings.Join(missing, ", "))
	}
	header := "# Written by `ptsync demo` for offline commands against its mirror (ptsync plan --config " + o.ConfigPath + ").\n" +
		"# The simulators it names are gone once the demo exits.\n"
	if err := os.WriteFile(o.ConfigPath, []byte(header+text), 0o600); err != nil {
		return fmt.Errorf("cannot write demo configuration: %w", err)
	}
	d.configPath = o.ConfigPath
	return nil
}

// WaitConverged waits for the first full convergence: the backfill (PTD is polled
// meanwhile: its calls do not spend HighLevel's budget), then cycles of PTD poll, reconcile
// and push until a reconcile plans no write. The pushes are shown as a progress bar.
func (d *Demo) WaitConverged(ctx context.Context) error {
	ready := make(chan error, 1)
	go func() { ready <- d.Service.WaitReady(ctx) }()
	twoWay := !d.opts.IngestOnly
	ptdDone := make(chan error, 1)
	if twoWay {
		go func() { ptdDone <- d.Service.RunJob(ctx, config.JobPTD) }()
	} else {
		ptdDone <- nil
	}
	select {
	case <-d.runDone:
		if d.runErr != nil {
			return d.runErr
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return errors.New("service stopped before the first sync finished")
	case err := <-ready:
		if err != nil {
			return err
		}
	}
	d.mu.Lock()
	d.readyAt, d.backfillCalls = d.opts.Now(), d.GHL.Counters().Total
	d.mu.Unlock()
	if err := <-ptdDone; err != nil {
		return fmt.Errorf("cannot converge: %w", err)
	}
	if !twoWay {
		d.markConverged()
		return nil
	}
	// A cycle is PTD poll, reconcile, push. The first full convergence is a cycle whose
	// reconcile plans nothing: contacts created in HighLevel during the previous push get
	// their children fetched first (the children job), so the PTD clients' tasks and notes
	// they bring are planned too.
	for cycle := range 10 {
		if cycle > 0 {
			if err := d.Service.RunJob(ctx, config.JobChildren); err != nil {
				return fmt.Errorf("cannot converge: %w", err)
			}
			if err := d.Service.RunJob(ctx, config.JobPTD); err != nil {
				return fmt.Errorf("cannot converge: %w", err)
			}
		}
		d.bar.phase(fmt.Sprintf("reconciling (cycle %d)", cycle+1))
		if err := d.Service.RunJob(ctx, config.JobReconcile); err != nil {
			return fmt.Errorf("cannot converge: %w", err)
		}
		depth, err := d.outboxDepth()
		if err != nil {
			return err
		}
		if depth == 0 && cycle > 0 {
			d.bar.finish("in sync: the last cycle planned no writes")
			d.markConverged()
			return nil
		}
		stop := d.watchPush(depth)
		err = d.Service.RunJob(ctx, config.JobPush)
		stop()
		if err != nil {
			return fmt.Errorf("cannot converge: %w", err)
		}
	}
	return errors.New("cannot converge: reconciliation still plans writes after 10 cycles")
}

func (d *Demo) markConverged() {
	d.mu.Lock()
	d.convergedAt = d.opts.Now()
	d.mu.Unlock()
}

func (d *Demo) outboxDepth() (int, error) {
	var depth int
	err := d.Service.Store().View(func(tx *store.Tx) error {
		st, err := tx.OutboxStats()
		depth = st.Depth
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("cannot read outbox: %w", err)
	}
	return depth, nil
}

// watchPush reports the outbox draining to the progress bar until the returned func is called.
func (d *Demo) watchPush(total int) func() {
	if total == 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			depth, err := d.outboxDepth()
			if err == nil {
				d.bar.update(ingest.Progress{Phase: phasePush, Done: max(0, total-depth), Total: total})
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		if depth, err := d.outboxDepth(); err == nil {
			d.bar.update(ingest.Progress{Phase: phasePush, Done: max(0, total-depth), Total: total})
		}
	}
}

// DemoSummary is what the demo prints after the first convergence. Counts are records
// unless noted.
type DemoSummary struct {
	Duration, Backfill, Converge time.Duration
	// Mirror counts by collection (store.GHLContacts, ...), from the mirror's statistics.
	Mirror map[string]int
	// InHighLevel counts what the HighLevel simulator holds now, by the same collections,
	// so a reader sees the mirror matches.
	InHighLevel map[string]int
	Seeded      int // contacts seeded in HighLevel
	// Links by kind (store.Kind*) and how they were made (email, phone, created, match, ...).
	Links map[string]map[string]int
	// Pushed counts successful writes by target (store.SideGHL/SidePTD) and operation
	// (reconcile.Op*); PushFailed counts failed attempts by target.
	Pushed     map[string]map[string]int
	PushFailed map[string]int
	// Routed counts new PTD clients by route name; RouteDoes says what each route does.
	Routed    map[string]int
	RouteDoes map[string]string
	// Conflicts held for the operator, by field; DeadLetters by target; Quarantined records.
	Conflicts   map[string]int
	DeadLetters map[string]int
	Quarantined int
	// HighLevel requests the simulator received (all, and during the backfill) and its 429s.
	APICalls, BackfillCalls, RateLimited int64
	PTDRequests                          int64
	Warnings, Errors                     int64
	LogPath, MetricsURL, DBPath          string
	ConfigPath                           string
	// Example is a linked contact's email for `ptsync show contact`.
	Example string
	// Once: the demo exits after the summary (the metrics URL goes away with it, so it is
	// not printed).
	Once bool
	// Command is how the reader runs ptsync, for the "try next" lines: "go run ." when the
	// demo was started with go run, else "ptsync" (default).
	Command string
}

// Summary reads the figures from the mirror, the metrics and the simulators' counters.
func (d *Demo) Summary() DemoSummary {
	d.mu.Lock()
	readyAt, convergedAt, backfillCalls := d.readyAt, d.convergedAt, d.backfillCalls
	d.mu.Unlock()
	now := d.opts.Now()
	if convergedAt.IsZero() {
		convergedAt = now
	}
	if readyAt.IsZero() {
		readyAt = convergedAt
	}
	c := d.GHL.Counters()
	s := DemoSummary{Duration: convergedAt.Sub(d.started), Backfill: readyAt.Sub(d.started), Converge: convergedAt.Sub(readyAt),
		Mirror: d.Service.mirrorCounts(), InHighLevel: d.highLevelCounts(), Seeded: d.people,
		Links: map[string]map[string]int{}, Pushed: map[string]map[string]int{}, PushFailed: map[string]int{},
		Routed: map[string]int{}, RouteDoes: d.routes, Conflicts: map[string]int{}, DeadLetters: map[string]int{},
		APICalls: c.Total, BackfillCalls: backfillCalls, RateLimited: c.RateLimitedBurst + c.RateLimitedDaily,
		PTDRequests: d.PTD.Stats().TotalRequests, Warnings: d.logCount.warns.Load(), Errors: d.logCount.errorsN.Load(),
		MetricsURL: "http://" + d.Service.MetricsAddr() + "/metrics", DBPath: d.opts.DBPath, ConfigPath: d.configPath}
	if d.logFile != nil {
		s.LogPath = d.opts.LogPath
	}
	d.pushCounts(s.Pushed, s.PushFailed)
	_ = d.Service.Store().View(func(tx *store.Tx) error {
		linked := map[string]bool{}
		_ = tx.ForEachLink(func(l *store.Link) error {
			if s.Links[l.Kind] == nil {
				s.Links[l.Kind] = map[string]int{}
			}
			s.Links[l.Kind][l.MatchedBy]++
			if l.Kind == store.KindContact && l.GHLID != "" && l.PTDID != "" {
				linked[l.GHLID] = true
			}
			return nil
		})
		deadRoute := map[string]bool{}
		_ = tx.ForEachOutbox(func(e *store.OutboxEntry) error {
			if e.Dead {
				s.DeadLetters[e.Target]++
				if e.Op == reconcile.OpClientRoute {
					deadRoute[e.LinkID] = true
				}
			}
			return nil
		})
		_ = tx.ForEachHistory(func(h *store.HistoryEntry) error {
			if h.Rule == "route" && h.Field == "route" && !deadRoute[h.LinkID] {
				s.Routed[h.New]++
			}
			return nil
		})
		if cs, err := tx.Conflicts("", false); err == nil {
			for _, c := range cs {
				s.Conflicts[c.Field]++
			}
		}
		if qs, err := tx.Quarantined(); err == nil {
			s.Quarantined = len(qs)
		}
		// The example: a linked contact with an email, tagged vip when there is one.
		var anyLinked string
		err := tx.ForEachGHLContact(func(c *store.GHLContact) error {
			if !linked[c.ID] || c.Email == "" {
				return nil
			}
			if anyLinked == "" {
				anyLinked = c.Email
			}
			if s.Example == "" && slices.Contains(c.Tags, "vip") {
				s.Example = c.Email
			}
			return nil
		})
		if s.Example == "" {
			s.Example = anyLinked
		}
		return err
	})
	return s
}

// highLevelCounts counts the HighLevel simulator's records by mirror collection.
func (d *Demo) highLevelCounts() map[string]int {
	out := map[string]int{}
	for _, c := range d.GHL.Contacts() {
		out[string(store.GHLContacts)]++
		out[string(store.GHLTasks)] += len(d.GHL.Tasks(c.ID))
		out[string(store.GHLNotes)] += len(d.GHL.Notes(c.ID))
		out[string(store.GHLAppointments)] += len(d.GHL.Appointments(c.ID))
	}
	return out
}

// pushCounts reads ptsync_pushes_total from the demo's registry.
func (d *Demo) pushCounts(ok map[string]map[string]int, failed map[string]int) {
	mfs, err := d.opts.Registry.Gather()
	if err != nil {
		return
	}
	for _, mf := range mfs {
		if mf.GetName() != metrics.Namespace+"_pushes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			n := int(m.GetCounter().GetValue())
			if l["result"] != metrics.ResultSuccess {
				failed[l["target"]] += n
				continue
			}
			if ok[l["target"]] == nil {
				ok[l["target"]] = map[string]int{}
			}
			ok[l["target"]][l["op"]] += n
		}
	}
}

// Print writes the summary for a person.
func (s DemoSummary) Print(w io.Writer) {
	n := func(v int) string { return thousands(int64(v)) }
	m, h := s.Mirror, s.InHighLevel
	fmt.Fprintf(w, "\nptsync demo: in sync after %s (backfill %s, first reconciliation %s)\n\n",
		s.Duration.Round(100*time.Millisecond), s.Backfill.Round(100*time.Millisecond), s.Converge.Round(100*time.Millisecond))
	row := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-22s %s\n", label, fmt.Sprintf(format, args...))
	}
	check := "matches HighLevel"
	for _, c := range []store.Collection{store.GHLContacts, store.GHLTasks, store.GHLNotes, store.GHLAppointments} {
		if m[string(c)] != h[string(c)] {
			check = fmt.Sprintf("HighLevel holds %s %s", n(h[string(c)]), c)
			break
		}
	}
	created := s.Pushed[store.SideGHL][reconcile.OpContactCreate]
	row("mirror of HighLevel", "%s contacts, %s tasks, %s notes, %s appointments (%s)",
		n(m[string(store.GHLContacts)]), n(m[string(store.GHLTasks)]), n(m[string(store.GHLNotes)]), n(m[string(store.GHLAppointments)]), check)
	if created > 0 {
		row("", "contacts: %s seeded + %s created from PTD-only clients", n(s.Seeded), n(created))
	}
	row("mirror of PTD", "%s clients, %s tasks, %s notes, %s appointments",
		n(m[string(store.PTDClients)]), n(m[string(store.PTDTasks)]), n(m[string(store.PTDNotes)]), n(m[string(store.PTDAppointments)]))
	if len(s.Links) > 0 {
		var parts []string
		for _, k := range []string{store.KindContact, store.KindTask, store.KindNote, store.KindAppointment} {
			by := s.Links[k]
			total := 0
			for _, v := range by {
				total += v
			}
			how := byLine(by, n)
			parts = append(parts, fmt.Sprintf("%s %ss%s", n(total), k, how))
		}
		row("links", "%s", strings.Join(parts, ", "))
	}
	for _, t := range []struct{ label, side string }{{"pushed to PTD", store.SidePTD}, {"pushed to HighLevel", store.SideGHL}} {
		if len(s.Pushed[t.side]) == 0 && s.PushFailed[t.side] == 0 {
			continue
		}
		row(t.label, "%s", opsLine(s.Pushed[t.side], n))
	}
	if len(s.RouteDoes) > 0 {
		total := 0
		var parts []string
		names := make([]string, 0, len(s.RouteDoes))
		for r := range s.RouteDoes {
			names = append(names, r)
		}
		sort.Strings(names)
		for _, r := range names {
			total += s.Routed[r]
			parts = append(parts, fmt.Sprintf("%s %s -> %s", r, n(s.Routed[r]), s.RouteDoes[r]))
		}
		row("routed new PTD clients", "%s: %s", n(total), strings.Join(parts, "; "))
	}
	held := 0
	for _, v := range s.Conflicts {
		held += v
	}
	if held > 0 {
		var on []string
		for _, f := range strings.Split(byFields(s.Conflicts, n), ", ") {
			if i := strings.IndexByte(f, ' '); i > 0 {
				on = append(on, f[i+1:]+": "+f[:i])
			}
		}
		row("held for the operator", "%s conflicts (%s) - see: ptsync conflicts --db %s", n(held), strings.Join(on, ", "), s.DBPath)
	} else {
		row("held for the operator", "none")
	}
	dead := s.DeadLetters[store.SideGHL] + s.DeadLetters[store.SidePTD]
	if dead > 0 {
		row("dead-lettered writes", "%s (to PTD %s, to HighLevel %s) - see: ptsync outbox --dead --db %s",
			n(dead), n(s.DeadLetters[store.SidePTD]), n(s.DeadLetters[store.SideGHL]), s.DBPath)
	}
	if s.Quarantined > 0 {
		row("quarantined", "%s records HighLevel no longer lists", n(s.Quarantined))
	}
	rate := ""
	if s.Backfill > 0 && s.BackfillCalls > 0 {
		rate = fmt.Sprintf(", %.0f/s", float64(s.BackfillCalls)/s.Backfill.Seconds())
	}
	row("HighLevel API", "%s calls (backfill %s%s; since %s), 429s: %s", thousands(s.APICalls), thousands(s.BackfillCalls), rate,
		thousands(s.APICalls-s.BackfillCalls), thousands(s.RateLimited))
	row("PT Distinction API", "%s requests", thousands(s.PTDRequests))
	if s.LogPath != "" {
		row("log", "%s (%s warnings, %s errors)", s.LogPath, thousands(s.Warnings), thousands(s.Errors))
	}
	if !s.Once {
		row("metrics", "%s", s.MetricsURL)
	}
	cmd := s.Command
	if cmd == "" {
		cmd = "ptsync"
	}
	fmt.Fprintln(w, "\ntry next:")
	fmt.Fprintf(w, "  %s query contacts --db %s --tag vip --where 'overdueTasks > 0'\n", cmd, s.DBPath)
	if s.Example != "" {
		fmt.Fprintf(w, "  %s show contact %s --db %s\n", cmd, s.Example, s.DBPath)
	}
	if s.ConfigPath != "" {
		fmt.Fprintf(w, "  %s plan --config %s            # what the next cycle would write\n", cmd, s.ConfigPath)
	}
	if held > 0 {
		fmt.Fprintf(w, "  %s conflicts --db %s\n", cmd, s.DBPath)
	}
	fmt.Fprintf(w, "  %s status --db %s\n", cmd, s.DBPath)
	if !s.Once {
		fmt.Fprintf(w, "  curl -s %s | grep '^ptsync_'\n", s.MetricsURL)
	}
}

// byLine renders "(1,079 email, 173 phone, 909 created)", largest first.
func byLine(by map[string]int, n func(int) string) string {
	if len(by) == 0 {
		return ""
	}
	return " (" + byFields(by, n) + ")"
}

func byFields(by map[string]int, n func(int) string) string {
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if by[keys[i]] != by[keys[j]] {
			return by[keys[i]] > by[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		label := k
		if label == "" {
			label = "other"
		}
		parts = append(parts, n(by[k])+" "+label)
	}
	return strings.Join(parts, ", ")
}

// opsLine renders pushed writes by operation in a fixed, readable order.
func opsLine(ops map[string]int, n func(int) string) string {
	names := []struct{ op, label string }{
		{reconcile.OpClientCreate, "new clients"}, {reconcile.OpContactCreate, "new contacts"},
		{reconcile.OpClientUpdate, "client updates"}, {reconcile.OpContactUpdate, "contact updates"},
		{reconcile.OpClientRoute, "routings"}, {reconcile.OpTaskCreate, "new tasks"}, {reconcile.OpTaskUpdate, "task updates"},
		{reconcile.OpTaskDelete, "task deletes"}, {reconcile.OpNoteCreate, "new notes"}, {reconcile.OpNoteUpdate, "note updates"},
		{reconcile.OpNoteDelete, "note deletes"}, {reconcile.OpApptUpsert, "appointments"}, {reconcile.OpReminder, "reminders"},
		{reconcile.OpDeletePolicy, "delete-policy writes"},
	}
	var parts []string
	seen := map[string]bool{}
	for _, x := range names {
		seen[x.op] = true
		if ops[x.op] > 0 {
			parts = append(parts, n(ops[x.op])+" "+x.label)
		}
	}
	var rest []string
	for op, v := range ops {
		if !seen[op] && v > 0 {
			rest = append(rest, n(v)+" "+op)
		}
	}
	sort.Strings(rest)
	parts = append(parts, rest...)
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// thousands formats n with comma separators.
func thousands(v int64) string {
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// PTDEdit is one coach edit the live demo made in PTD.
type PTDEdit struct {
	ClientID, Kind, Value string
}

// Coach kinds of PTDEdit.
const (
	EditTimezone = "timezone"
	EditTag      = "tag"
	EditTask     = "task"
	EditComplete = "complete task"
	EditNote     = "note"
)

var demoTimezones = []string{"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "Europe/London", "Australia/Sydney"}

// CoachEdit makes one random coach edit in PTD (a client's timezone, a tag, a new task, a
// task completed, a new note) through the simulator's coach API and returns it.
func (d *Demo) CoachEdit(r *rand.Rand) (PTDEdit, error) {
	clients := d.PTD.Clients()
	if len(clients) == 0 {
		return PTDEdit{}, errors.New("cannot edit in pt distinction: no clients")
	}
	c := clients[r.IntN(len(clients))]
	str := func(v string) *string { return &v }
	e := PTDEdit{ClientID: c.ID}
	var err error
	switch r.IntN(5) {
	case 0:
		e.Kind, e.Value = EditTimezone, demoTimezones[r.IntN(len(demoTimezones))]
		if e.Value == c.Timezone {
			e.Value = demoTimezones[(slices.Index(demoTimezones, e.Value)+1)%len(demoTimezones)]
		}
		_, err = d.PTD.EditClient(c.ID, ptdwire.ClientInput{Timezone: str(e.Value)})
	case 1:
		tags := gen.Tags()
		e.Kind, e.Value = EditTag, tags[r.IntN(len(tags))]
		_, err = d.PTD.TagClient(c.ID, []string{e.Value}, nil)
	case 2:
		due := d.opts.Now().UTC().Add(time.Duration(1+r.IntN(10)) * 24 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
		e.Kind, e.Value = EditTask, "Coach check-in"
		f := false
		_, err = d.PTD.CreateTask(c.ID, ptdwire.TaskInput{Title: str(e.Value), DueAt: &due, Completed: &f})
	case 3:
		var open *ptdwire.Task
		for _, t := range d.PTD.Tasks(c.ID) {
			if !t.Completed {
				open = &t
				break
			}
		}
		if open == nil {
			e.Kind, e.Value = EditNote, "Checked in; nothing open."
			_, err = d.PTD.CreateNote(c.ID, e.Value)
			break
		}
		e.Kind, e.Value = EditComplete, open.ID
		_, err = d.PTD.CompleteTask(open.ID, true)
	default:
		e.Kind, e.Value = EditNote, fmt.Sprintf("Session notes: week %d, felt strong.", 1+r.IntN(12))
		_, err = d.PTD.CreateNote(c.ID, e.Value)
	}
	if err != nil {
		return e, fmt.Errorf("cannot make coach edit %s on %s: %w", e.Kind, c.ID, err)
	}
	return e, nil
}

// CoachEdits returns the PTD edits Live has made so far, in order.
func (d *Demo) CoachEdits() []PTDEdit {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.coachEdits)
}

// LiveStats is what Live did.
type LiveStats struct {
	GHLEdits, PTDEdits int
	// Pushed counts successful writes during live mode by target (store.SideGHL/SidePTD).
	Pushed map[string]int
	// CoachEdits are the PTD edits made, in order (all of them, as CoachEdits returns).
	CoachEdits []PTDEdit
}

// Live is the live demo: both simulators churn at the configured gentle rates while the
// service keeps syncing on its schedules, and a status line goes to w every StatusEvery
// (edits each side, writes pushed each way, HighLevel calls and 429s, PTD requests, open
// conflicts). It returns when ctx ends. Not safe to call twice at once.
func (d *Demo) Live(ctx context.Context, w io.Writer) LiveStats {
	st := LiveStats{Pushed: map[string]int{}}
	var mu sync.Mutex
	pushed := func() map[string]int {
		ok, failed := map[string]map[string]int{}, map[string]int{}
		d.pushCounts(ok, failed)
		out := map[string]int{}
		for t, ops := range ok {
			for _, v := range ops {
				out[t] += v
			}
		}
		return out
	}
	base := pushed()
	var wg sync.WaitGroup
	ticker := func(perSecond float64, step func()) {
		defer wg.Done()
		t := time.NewTicker(time.Duration(float64(time.Second) / perSecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				step()
			}
		}
	}
	wg.Add(2)
	go ticker(d.opts.GHLChurn, func() {
		n := len(d.GHL.ChurnStep(1))
		mu.Lock()
		st.GHLEdits += n
		mu.Unlock()
	})
	r := rand.New(rand.NewPCG(uint64(d.opts.Seed), 0x11fe))
	go ticker(d.opts.PTDChurn, func() {
		e, err := d.CoachEdit(r)
		if err != nil {
			d.opts.Logger.Warn("live demo: coach edit failed", "error", err)
			return
		}
		mu.Lock()
		st.PTDEdits++
		mu.Unlock()
		d.mu.Lock()
		d.coachEdits = append(d.coachEdits, e)
		d.mu.Unlock()
	})
	start := d.opts.Now()
	type snap struct {
		ghlEdits, ptdEdits int
		pushed             map[string]int
		calls, limited     int64
		ptdReq             int64
	}
	take := func() snap {
		c := d.GHL.Counters()
		mu.Lock()
		defer mu.Unlock()
		return snap{st.GHLEdits, st.PTDEdits, pushed(), c.Total, c.RateLimitedBurst + c.RateLimitedDaily, d.PTD.Stats().TotalRequests}
	}
	prev := take()
	prev.pushed = base
	status := time.NewTicker(d.opts.StatusEvery)
	defer status.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			now := pushed()
			for t, v := range now {
				st.Pushed[t] = v - base[t]
			}
			st.CoachEdits = d.CoachEdits()
			return st
		case <-status.C:
			cur := take()
			held := 0
			_ = d.Service.Store().View(func(tx *store.Tx) error {
				cs, err := tx.Conflicts("", false)
				held = len(cs)
				return err
			})
			el := d.opts.Now().Sub(start).Round(time.Second)
			// As `ptsync run`, live mode keeps going through failing jobs (a full disk, a
			// refused credential) and recovers by itself; the line says why it is not ready.
			health := ""
			if err := d.Service.Ready(ctx); err != nil {
				health = " | NOT READY: " + err.Error()
			}
			fmt.Fprintf(w, "live %5s  edits: %d in HighLevel, %d by coaches | synced: %d -> PTD, %d -> HighLevel | HighLevel calls %d (429s %d) | PTD requests %d | held %d%s\n",
				el, cur.ghlEdits-prev.ghlEdits, cur.ptdEdits-prev.ptdEdits,
				cur.pushed[store.SidePTD]-prev.pushed[store.SidePTD], cur.pushed[store.SideGHL]-prev.pushed[store.SideGHL],
				cur.calls-prev.calls, cur.limited-prev.limited, cur.ptdReq-prev.ptdReq, held, health)
			prev = cur
		}
	}
}

// Close stops the service (gracefully), then the simulators, and closes the log, all within
// DemoGrace whatever phase the demo is in; ctx's cancellation does not cut it short (it is
// what Ctrl-C cancels). The mirror, log and configuration files stay. Later calls do
// nothing; the simulators' in-memory state stays readable.
func (d *Demo) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	var errs []error
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DemoGrace)
	defer cancel()
	if d.cancel != nil {
		d.cancel()
		select {
		case <-d.runDone:
		case <-cctx.Done():
			errs = append(errs, fmt.Errorf("cannot stop the demo's service within %s: %w", DemoGrace, cctx.Err()))
		}
	}
	if d.Service != nil {
		errs = append(errs, d.Service.Close(cctx))
	}
	// The service is gone, so nothing the simulators still serve matters: close both at
	// once, briefly. (A graceful http.Server.Shutdown waits up to 5 s for a connection the
	// client dialed but never used.)
	var simErrs [2]error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if d.ptdSrv != nil {
			sctx, cancel := context.WithTimeout(cctx, simCloseGrace)
			defer cancel()
			if err := d.ptdSrv.Close(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				simErrs[0] = err
			}
		}
	}()
	go func() {
		defer wg.Done()
		if d.GHL != nil {
			simErrs[1] = d.GHL.Close()
		}
	}()
	wg.Wait()
	errs = append(errs, simErrs[:]...)
	if d.logFile != nil {
		errs = append(errs, d.logFile.Close())
	}
	return errors.Join(errs...)
}

// explain adds what to do to a fatal error: for a mirror that cannot be written, where it
// is, how much room is left there and the two ways out; the log file for the rest.
func (d *Demo) explain(err error) error {
	var we *store.WriteError
	if errors.As(err, &we) {
		room := ""
		if sp, serr := store.SpaceBeside(d.opts.DBPath); serr == nil {
			room = fmt.Sprintf(" (%s free of %s there)", store.HumanBytes(sp.Free), store.HumanBytes(sp.Total))
		}
		err = fmt.Errorf("%w\n  the demo's mirror is %s%s: free space there, or run the demo with --db PATH on another filesystem",
			err, d.opts.DBPath, room)
	}
	if d.logFile != nil {
		err = fmt.Errorf("%w\n  the service's log: %s", err, d.opts.LogPath)
	}
	return err
}

// RunDemo is `ptsync demo`: start, converge, print the summary to stdout, then (unless once)
// churn both sides live, with a status line per StatusEvery, until ctx ends, and shut down
// gracefully. It returns nil on a clean finish or Ctrl-C.
func RunDemo(ctx context.Context, o DemoOptions, once bool, stdout io.Writer) error {
	d, err := StartDemo(ctx, o)
	if err != nil {
		return err
	}
	defer d.Close(ctx)
	if err := d.WaitConverged(ctx); err != nil {
		d.bar.abort()
		if ctx.Err() != nil {
			fmt.Fprintln(d.opts.Stderr, "stopping: interrupted before the first sync finished")
			return d.Close(ctx)
		}
		_ = d.Close(ctx)
		return d.explain(err)
	}
	sum := d.Summary()
	sum.Once, sum.Command = once, o.Command
	sum.Print(stdout)
	if once {
		return d.Close(ctx)
	}
	fmt.Fprintf(stdout, "\nlive: %g HighLevel edits and %g coach edits per second; ptsync keeps both sides in step on its schedules. Ctrl-C to stop.\n",
		d.opts.GHLChurn, d.opts.PTDChurn)
	st := d.Live(ctx, stdout)
	fmt.Fprintf(stdout, "\nstopping: %d HighLevel edits and %d coach edits made; %d writes pushed to PTD, %d to HighLevel\n",
		st.GHLEdits, st.PTDEdits, st.Pushed[store.SidePTD], st.Pushed[store.SideGHL])
	if err := d.Close(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "stopped cleanly; the mirror stays at %s\n", d.opts.DBPath)
	return nil
}
