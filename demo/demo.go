// Package demo is `ptsync demo`: both simulators (sim/ghlsim, sim/ptdsim) on loopback, seeded
// with generated people (sim/gen), and the real service (package replicator) synchronizing
// them, with a progress bar, a summary and an optional live mode in which both sides churn.
// It also holds WebhookSigner, which plays HighLevel's side of webhook delivery.
//
// It is the only importer of the simulators besides `ptsync sim` (and tests, the harness and
// the benchmarks): replicator and everything below it import no sim package, which
// layering_test.go checks, so nothing in the service can reach a simulator by mistake.
//
// Files: demo.go starts and stops a demo; setup.go is what Start prepares (log, webhooks, PTD
// catalogue, the configuration file); converge.go is the first convergence; summary.go what
// is printed after it; live.go the churn of live mode; progress.go the progress bar.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"ptsync/config"
	"ptsync/replicator"
	"ptsync/sim/gen"
	"ptsync/sim/ghlsim"
	"ptsync/sim/ptdsim"
	"ptsync/store"
)

// Options configure the in-process demo. Zero values take the defaults noted.
type Options struct {
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

// Grace bounds how long the demo takes to stop once asked (Ctrl-C, SIGTERM, a fatal
// error): the service's graceful shutdown, then the simulators.
const Grace = 10 * time.Second

// simCloseGrace is how long the demo lets the PTD simulator finish requests at the end.
const simCloseGrace = 500 * time.Millisecond

// Demo is a running demo: both simulators on loopback and the real service against them.
// Its methods are safe for concurrent use unless noted.
type Demo struct {
	GHL     *ghlsim.Server
	PTD     *ptdsim.Sim
	Service *replicator.Service
	Config  *config.Config
	// WebhookKey signs webhooks the service accepts (Options.Webhooks).
	WebhookKey WebhookSigner

	opts    Options
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

func (o *Options) defaults() {
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

// LogPath is where `ptsync demo` keeps the service's log: next to the mirror, .log
// instead of .db.
func LogPath(dbPath string) string { return strings.TrimSuffix(dbPath, ".db") + ".log" }

// Start seeds and starts both simulators, builds the demo configuration (config.Demo,
// time-scaled rate budget, the mirror at DBPath which it replaces), seeds PTD's catalogue
// with every group and package the configuration's routes name, and starts the service,
// whose first run is the backfill. Close releases everything but the mirror, log and
// configuration files.
func Start(ctx context.Context, o Options) (*Demo, error) {
	o.defaults()
	d := &Demo{opts: o, started: o.Now(), runDone: make(chan struct{}), logCount: &levelCounter{}}
	if err := d.openLog(); err != nil {
		return nil, err
	}
	if err := d.start(ctx); err != nil {
		d.Close(ctx)
		return nil, err
	}
	return d, nil
}

// start does Start's work after the log is open: the simulators, seeded, then the
// configuration and the service. On error the caller closes whatever was started.
func (d *Demo) start(ctx context.Context) error {
	o := d.opts
	people, ghlURL, err := d.startSimulators()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ptsync-demo-")
	if err != nil {
		return fmt.Errorf("cannot create demo directory: %w", err)
	}
	defer os.RemoveAll(dir)
	cfg, err := config.Demo(config.DemoOptions{GHLURL: ghlURL, PTDURL: d.ptdSrv.URL, Dir: dir, LocationID: d.GHL.LocationID(),
		GHLToken: d.GHL.IssuePIT("contacts.readonly", "contacts.write"), PTDAPIKey: d.PTD.APIKey(), MetricsListen: o.MetricsListen})
	if err != nil {
		return fmt.Errorf("cannot build demo configuration: %w", err)
	}
	// Seeding happens before any request reaches the simulator: the service starts below.
	if _, err := d.PTD.Seed(ptdsim.SeedOptions{People: people, Overlap: o.Overlap, PhoneOnly: 0.1, Own: o.Contacts / 10,
		OwnSeed: o.Seed + 1, Seed: uint64(o.Seed), Children: true}); err != nil {
		return fmt.Errorf("cannot seed pt distinction simulator: %w", err)
	}
	d.routes = seedRouteCatalogue(d.PTD, cfg.Routes)
	if cfg.Store.Path, err = filepath.Abs(o.DBPath); err != nil {
		return fmt.Errorf("cannot resolve demo mirror path %q: %w", o.DBPath, err)
	}
	cfg.GHL.Rate.Interval = o.BurstInterval
	if o.Webhooks {
		d.WebhookKey, cfg.Webhooks = demoWebhooks(o.WebhookRSA)
	}
	d.Config = cfg
	for _, p := range []string{o.DBPath, store.AdminPath(o.DBPath)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cannot replace demo mirror: %w", err)
		}
	}
	if err := d.writeConfig(); err != nil {
		return err
	}
	return d.startService(ctx)
}

// startSimulators starts HighLevel's simulator with its rate limits time-scaled by
// BurstInterval and seeded with the generated people, and PT Distinction's, empty. It returns
// the people, which PTD is seeded with once the configuration is known, and HighLevel's URL.
func (d *Demo) startSimulators() ([]gen.Person, string, error) {
	o := d.opts
	scale := float64(o.BurstInterval) / float64(10*time.Second)
	d.GHL = ghlsim.New(ghlsim.Options{Seed: o.Seed, LocationID: "demo-location", Limits: ghlsim.Limits{
		BurstMax: 100, BurstInterval: o.BurstInterval, DailyMax: 200000, DailyInterval: time.Duration(float64(24*time.Hour) * scale)}})
	ghlURL, err := d.GHL.Start("127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("cannot start highlevel simulator: %w", err)
	}
	people := gen.NewAt(o.Seed, o.Now()).People(o.Contacts)
	d.GHL.SeedPeople(people)
	d.people = len(people)
	d.PTD = ptdsim.New(ptdsim.Options{Seed: uint64(o.Seed)})
	if d.ptdSrv, err = d.PTD.Start("127.0.0.1:0"); err != nil {
		return nil, "", fmt.Errorf("cannot start pt distinction simulator: %w", err)
	}
	return people, ghlURL, nil
}

// startService opens the real service on d.Config and runs it until Close; its first run is
// the backfill.
func (d *Demo) startService(ctx context.Context) error {
	o := d.opts
	d.bar = newProgressBar(o.Stderr, o.TTY, o.Now, func() int64 { return d.GHL.Counters().Total })
	noWatchdog := time.Duration(0)
	var err error
	d.Service, err = replicator.New(replicator.Options{Config: d.Config, Logger: o.Logger, Registry: o.Registry, Now: o.Now, Version: "demo",
		IngestOnly: o.IngestOnly, Progress: d.bar.update, Notify: func(string) error { return nil },
		WatchdogInterval: &noWatchdog, MirrorFailCommit: o.MirrorFailCommit, HTTPTransport: o.HTTPTransport})
	if err != nil {
		return err
	}
	if err := d.Service.Open(ctx); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	d.cancel = cancel
	go func() {
		d.runErr = d.Service.Run(runCtx)
		close(d.runDone)
	}()
	return nil
}

// Close stops the service (gracefully), then the simulators, and closes the log, all within
// Grace whatever phase the demo is in; ctx's cancellation does not cut it short (it is
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
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), Grace)
	defer cancel()
	if d.cancel != nil {
		d.cancel()
		select {
		case <-d.runDone:
		case <-cctx.Done():
			errs = append(errs, fmt.Errorf("cannot stop the demo's service within %s: %w", Grace, cctx.Err()))
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

// Run is `ptsync demo`: start, converge, print the summary to stdout, then (unless once)
// churn both sides live, with a status line per StatusEvery, until ctx ends, and shut down
// gracefully. It returns nil on a clean finish or Ctrl-C.
func Run(ctx context.Context, o Options, once bool, stdout io.Writer) error {
	d, err := Start(ctx, o)
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
