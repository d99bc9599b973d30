package replicator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"ptsync/config"
	"ptsync/replicator/ingest"
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
	Webhooks bool
	// Logger for the service (default: warnings and errors to Stderr).
	Logger hclog.Logger
	// Stderr receives the progress bar (TTY: redrawn in place) or periodic lines.
	Stderr io.Writer
	TTY    bool
	// BuildTwoWay builds the reconcile side (see Options.BuildTwoWay); default BuildTwoWay.
	// IngestOnly leaves it out (HighLevel ingestion only).
	BuildTwoWay func(s *Service) (TwoWay, error)
	IngestOnly  bool
	Registry    *prometheus.Registry
}

// Demo is a running demo: both simulators on loopback and the real service against them.
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
	runErr  chan error
	cancel  context.CancelFunc
	people  int
}

func (o *DemoOptions) defaults() {
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
	if o.Logger == nil {
		o.Logger = hclog.New(&hclog.LoggerOptions{Name: "ptsync", Level: hclog.Warn, Output: o.Stderr})
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.BuildTwoWay == nil {
		o.BuildTwoWay = BuildTwoWay
	}
	if o.IngestOnly {
		o.BuildTwoWay = nil
	}
}

// StartDemo seeds and starts both simulators, builds the demo configuration (config.Demo,
// time-scaled rate budget, the mirror at DBPath which it replaces) and starts the service,
// whose first run is the backfill. Close releases everything but the mirror file.
func StartDemo(ctx context.Context, o DemoOptions) (*Demo, error) {
	o.defaults()
	d := &Demo{opts: o, started: time.Now(), runErr: make(chan error, 1)}
	scale := float64(o.BurstInterval) / float64(10*time.Second)
	d.GHL = ghlsim.New(ghlsim.Options{Seed: o.Seed, LocationID: "demo-location", Limits: ghlsim.Limits{
		BurstMax: 100, BurstInterval: o.BurstInterval, DailyMax: 200000, DailyInterval: time.Duration(float64(24*time.Hour) * scale)}})
	ghlURL, err := d.GHL.Start("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cannot start highlevel simulator: %w", err)
	}
	people := gen.NewAt(o.Seed, time.Now()).People(o.Contacts)
	d.GHL.SeedPeople(people)
	d.people = len(people)
	d.PTD = ptdsim.New(ptdsim.Options{Seed: uint64(o.Seed)})
	if _, err := d.PTD.Seed(ptdsim.SeedOptions{People: people, Overlap: o.Overlap, PhoneOnly: 0.1, Own: o.Contacts / 10,
		OwnSeed: o.Seed + 1, Seed: uint64(o.Seed), Children: true}); err != nil {
		d.Close(ctx)
		return nil, fmt.Errorf("cannot seed pt distinction simulator: %w", err)
	}
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
	cfg.Store.Path = o.DBPath
	cfg.GHL.Rate.Interval = o.BurstInterval
	if o.Webhooks {
		d.WebhookKey = NewWebhookSigner()
		cfg.Webhooks = config.Webhooks{Enabled: true, Listen: "127.0.0.1:0", GHLPublicKey: d.WebhookKey.Public,
			ReplayWindow: 5 * time.Minute, MaxBodyBytes: 1 << 20}
	}
	d.Config = cfg
	for _, p := range []string{o.DBPath, store.AdminPath(o.DBPath)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			d.Close(ctx)
			return nil, fmt.Errorf("cannot replace demo mirror: %w", err)
		}
	}
	noWatchdog := time.Duration(0)
	d.Service, err = New(Options{Config: cfg, Logger: o.Logger, Registry: o.Registry, Version: "demo",
		BuildTwoWay: o.BuildTwoWay, Progress: newProgressBar(o.Stderr, o.TTY), Notify: func(string) error { return nil },
		WatchdogInterval: &noWatchdog})
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
	go func() { d.runErr <- d.Service.Run(runCtx) }()
	return d, nil
}

// WaitConverged waits for the first full convergence: the backfill, then (when the reconcile
// side is wired) PTD poll, reconcile and push until the outbox is empty.
func (d *Demo) WaitConverged(ctx context.Context) error {
	ready := make(chan error, 1)
	go func() { ready <- d.Service.WaitReady(ctx) }()
	select {
	case err := <-d.runErr:
		if err == nil {
			err = errors.New("service stopped before the first sync finished")
		}
		return err
	case err := <-ready:
		if err != nil {
			return err
		}
	}
	tw := d.Service.twoWay
	if tw.PollPTD == nil || tw.Reconcile == nil || tw.Push == nil {
		return nil
	}
	for range 10 {
		for _, j := range []string{config.JobPTD, config.JobReconcile, config.JobPush} {
			if err := d.Service.RunJob(ctx, j); err != nil {
				return fmt.Errorf("cannot converge: %w", err)
			}
		}
		var depth int
		if err := d.Service.Store().View(func(tx *store.Tx) error {
			st, err := tx.OutboxStats()
			depth = st.Depth
			return err
		}); err != nil {
			return err
		}
		if depth == 0 {
			return nil
		}
	}
	return errors.New("cannot converge: the outbox is still not empty after 10 cycles")
}

// DemoSummary is what the demo prints after the first convergence.
type DemoSummary struct {
	Duration    time.Duration
	Records     map[string]int // mirror counts by collection, plus links
	APICalls    int64          // HighLevel requests the simulator received
	RateLimited int64          // 429s it answered
	PTDRequests int64
	// Changes applied by reconciliation, by direction (history entries: field changes).
	ToPTD, ToGHL int
	MetricsURL   string
	DBPath       string
}

// Summary reads the figures from the mirror and the simulators' counters.
func (d *Demo) Summary() DemoSummary {
	c := d.GHL.Counters()
	s := DemoSummary{Duration: time.Since(d.started), Records: d.Service.mirrorCounts(), APICalls: c.Total,
		RateLimited: c.RateLimitedBurst + c.RateLimitedDaily, PTDRequests: d.PTD.Stats().TotalRequests,
		MetricsURL: "http://" + d.Service.MetricsAddr() + "/metrics", DBPath: d.opts.DBPath}
	_ = d.Service.Store().View(func(tx *store.Tx) error {
		return tx.ForEachHistory(func(h *store.HistoryEntry) error {
			switch h.Direction {
			case "ghl->ptd":
				s.ToPTD++
			case "ptd->ghl":
				s.ToGHL++
			}
			return nil
		})
	})
	return s
}

// Print writes the summary for a person.
func (s DemoSummary) Print(w io.Writer) {
	fmt.Fprintf(w, "ptsync demo: first full sync finished in %s\n", s.Duration.Round(100*time.Millisecond))
	fmt.Fprintf(w, "  mirrored from HighLevel: %d contacts, %d tasks, %d notes, %d appointments\n",
		s.Records[string(store.GHLContacts)], s.Records[string(store.GHLTasks)], s.Records[string(store.GHLNotes)], s.Records[string(store.GHLAppointments)])
	fmt.Fprintf(w, "  mirrored from PT Distinction: %d clients, %d tasks, %d notes\n",
		s.Records[string(store.PTDClients)], s.Records[string(store.PTDTasks)], s.Records[string(store.PTDNotes)])
	fmt.Fprintf(w, "  links: %d; changes pushed: %d HighLevel -> PTD, %d PTD -> HighLevel\n", s.Records["links"], s.ToPTD, s.ToGHL)
	fmt.Fprintf(w, "  HighLevel API calls: %d (429s: %d); PT Distinction requests: %d\n", s.APICalls, s.RateLimited, s.PTDRequests)
	fmt.Fprintf(w, "  metrics: %s\n", s.MetricsURL)
	fmt.Fprintf(w, "  mirror: %s (try: ptsync query --db %s)\n", s.DBPath, s.DBPath)
}

// Churn makes perSecond random HighLevel edits per second until ctx ends (the live demo).
func (d *Demo) Churn(ctx context.Context, perSecond float64) { d.GHL.Churn(ctx, perSecond) }

// Close stops the service (gracefully, up to 10 s), then the simulators. The mirror file stays.
func (d *Demo) Close(ctx context.Context) error {
	var errs []error
	if d.cancel != nil {
		d.cancel()
		<-d.runErr
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if d.Service != nil {
		errs = append(errs, d.Service.Close(cctx))
	}
	if d.ptdSrv != nil {
		errs = append(errs, d.ptdSrv.Close(cctx))
	}
	if d.GHL != nil {
		errs = append(errs, d.GHL.Close())
	}
	return errors.Join(errs...)
}

// RunDemo is `ptsync demo`: start, converge, print the summary to stdout, then (unless once)
// churn live until ctx ends. It returns nil on a clean finish or Ctrl-C.
func RunDemo(ctx context.Context, o DemoOptions, once bool, stdout io.Writer) error {
	d, err := StartDemo(ctx, o)
	if err != nil {
		return err
	}
	defer d.Close(ctx)
	if err := d.WaitConverged(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	d.Summary().Print(stdout)
	if once {
		return nil
	}
	fmt.Fprintln(stdout, "live: HighLevel churns 2 edits per second; the service keeps the mirror in step. Ctrl-C to stop.")
	d.Churn(ctx, 2)
	return nil
}

// progressBar renders backfill progress: redrawn in place on a terminal, a line every few
// seconds (and at each phase change) otherwise.
type progressBar struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	phase string
	last  time.Time
}

func newProgressBar(w io.Writer, tty bool) func(ingest.Progress) {
	b := &progressBar{w: w, tty: tty}
	return b.update
}

func (b *progressBar) update(p ingest.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	changed := p.Phase != b.phase
	if p.Phase == ingest.PhaseDone {
		if b.tty {
			fmt.Fprint(b.w, "\r\033[K")
		}
		fmt.Fprintf(b.w, "backfill complete: %d contacts\n", p.Done)
		b.phase = p.Phase
		return
	}
	label := map[string]string{ingest.PhaseContacts: "contacts", ingest.PhaseChildren: "children"}[p.Phase]
	if b.tty {
		if changed && b.phase != "" {
			fmt.Fprintln(b.w)
		}
		const width = 30
		fill := 0
		if p.Total > 0 {
			fill = min(width, p.Done*width/p.Total)
		}
		fmt.Fprintf(b.w, "\r\033[K%-9s [%s%s] %d/%d", label, strings.Repeat("#", fill), strings.Repeat(".", width-fill), p.Done, p.Total)
	} else if changed || now.Sub(b.last) >= 2*time.Second || (p.Total > 0 && p.Done == p.Total) {
		fmt.Fprintf(b.w, "backfill %s: %d/%d\n", label, p.Done, p.Total)
		b.last = now
	}
	b.phase = p.Phase
}
