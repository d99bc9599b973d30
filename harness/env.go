package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"ptsync/apiclient/ghl"
	"ptsync/config"
	"ptsync/harness/convergence"
	"ptsync/internal/secret"
	"ptsync/sim/ghlsim"
	"ptsync/store"
)

// Options configure a scenario. Zero values take the defaults noted.
type Options struct {
	// Bin is the ptsync binary (BuildBinary); required.
	Bin string
	// Dir holds the mirror, token file, config and logs of the run; required.
	Dir string
	// Contacts seeded in HighLevel (default 40); PTD gets 60 % of them plus a tenth of its own.
	Contacts int
	// ChurnRate is edits per second across both sides (default 8).
	ChurnRate float64
	Seed      int64
	// ConvergeTimeout bounds the final convergence (default 90 s).
	ConvergeTimeout time.Duration
	// Progress receives one line per phase (default: discarded).
	Progress io.Writer
	// MirrorDir, when set, holds the mirror (and its admin file) instead of the scenario's
	// directory: the full-disk scenario puts it on a filesystem of its own.
	MirrorDir string
}

func (o *Options) defaults() error {
	if o.Bin == "" || o.Dir == "" {
		return errors.New("cannot run scenario: Options.Bin and Options.Dir are required")
	}
	if o.Contacts <= 0 {
		o.Contacts = 40
	}
	if o.ChurnRate <= 0 {
		o.ChurnRate = 8
	}
	if o.ConvergeTimeout <= 0 {
		o.ConvergeTimeout = 90 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return nil
}

// Result is one scenario's outcome: the row of the harness table plus the figures behind it.
type Result struct {
	Scenario      string
	Runs          int // service processes started
	Kills         int // SIGKILLs sent
	TokenGapKills int // kills that landed in the refresh gap (a spent refresh token was refused)
	Edits         int
	ByRule        int // edits overridden by the conflict rule (not lost)
	// Raced counts HighLevel edits overwritten inside the pusher's read-then-write round trip
	// (HighLevel has no conditional update), each proven from the simulator's journal; they
	// are reported with the proof, not counted as lost.
	Raced      int
	Lost       int
	Duplicated int
	Diverged   int // two-way field mismatches, structural problems, mirror != simulator
	Held       int // fields held by an open conflict (not diverged)
	OutboxLeft int // live + dead-lettered outbox entries after convergence
	Integrity  string
	Panics     int // panic lines in the service logs
	Unexpected int // service exits the harness did not cause
	RSSStart   int64
	RSSEnd     int64
	// Breaker is ptsync_breaker_transitions_total summed by the state entered.
	Breaker map[string]float64
	// FutureStamps is ptsync_future_timestamps_total by side (ghl, ptd), summed likewise.
	FutureStamps map[string]float64
	// Faults are the injected faults and refusals the HighLevel simulator counted.
	Faults   map[string]int64
	Duration time.Duration
	Details  []string
}

// OK reports whether the scenario proved its guarantees.
func (r Result) OK() bool {
	return r.Lost == 0 && r.Duplicated == 0 && r.Diverged == 0 && r.OutboxLeft == 0 && r.Integrity == "ok" &&
		r.Panics == 0 && r.Unexpected == 0
}

// env is one scenario's running world.
type env struct {
	o       Options
	name    string
	sim     *SimProcess
	g       *GHLControl
	p       *PTDControl
	svc     *ServiceProcess
	cfgPath string
	dbPath  string
	tokPath string
	metrics string
	mapping config.Mapping
	rng     *rand.Rand
	spent   map[string]bool // refresh tokens found refused (token-gap kills)
	notes   []string        // events worth reporting whatever the verdict
	refused int64
	// installedRT and installedAt are the harness's last installation.
	installedRT string
	installedAt time.Time
	res         *Result
	simLog      *os.File
	started     time.Time
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.o.Progress, "%s %-10s %s\n", time.Now().Format("15:04:05.0"), e.name, fmt.Sprintf(format, args...))
}

// childrenPeriod is the service's children rotation in the harness: PTD reports no task or
// note changes, so a coach's new task can take this long to be found, and a verdict is not
// final before it has passed.
const childrenPeriod = time.Minute

const harnessHCL = `# written by the reliability harness
ghl {
  base_url    = env("PTSYNC_H_GHL_URL")
  location_id = env("PTSYNC_H_LOCATION")
  oauth {
    client_id     = env("PTSYNC_H_CLIENT_ID")
    client_secret = env("PTSYNC_H_CLIENT_SECRET")
    token_file    = "TOKEN_FILE"
  }
  rate {
    burst    = 100
    interval = "1s"
    daily    = 2000000
  }
  search_overlap   = "10s"
  sweep_page_limit = 10 # several pages, so a listing cut to its first page is visibly short
  children_period  = "CHILDREN_PERIOD"
  timeout          = "5s"
}
ptd {
  driver = "rest"
  rest {
    base_url = env("PTSYNC_H_PTD_URL")
    api_key  = env("PTSYNC_H_PTD_KEY")
    timeout  = "5s"
  }
}
store { path = "DB_PATH" }
schedule "contacts" { cron = "@every 1s" }
schedule "sweep" { cron = "@every 5s" }
schedule "children" { cron = "@every 1s" }
schedule "ptd" { cron = "@every 1s" }
schedule "reconcile" { cron = "@every 1s" }
schedule "push" { cron = "@every 1s" }
schedule "ptd_sweep" { cron = "@every 5s" }
mapping {
  initial_winner   = "ptd"
  default_conflict = "newest"
  phone_region     = "US"
}
deletes {
  policy        = "print_only"
  confirmations = 2
}
pusher {
  max_attempts = 200
  backoff_base = "200ms"
  backoff_max  = "3s"
}
metrics { listen = "METRICS_ADDR" }
admin { listen = "127.0.0.1:0" }
log {
  level  = "info"
  format = "json"
}
`

// setup starts `ptsync sim` with simArgs added, installs ptsync (a token file from a fresh
// OAuth installation), writes and checks the configuration.
func setup(ctx context.Context, o Options, name string, simArgs []string) (*env, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	dir := filepath.Join(o.Dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create scenario directory: %w", err)
	}
	e := &env{o: o, name: name, rng: rand.New(rand.NewPCG(uint64(o.Seed), 0x4a55)), spent: map[string]bool{},
		res: &Result{Scenario: name, Integrity: "not checked", Breaker: map[string]float64{}, FutureStamps: map[string]float64{}, Faults: map[string]int64{}}, started: time.Now()}
	var err error
	if e.simLog, err = os.Create(filepath.Join(dir, "sim.log")); err != nil {
		return nil, fmt.Errorf("cannot create simulator log: %w", err)
	}
	args := append([]string{"--addr", "127.0.0.1:0", "--ptd-addr", "127.0.0.1:0", "--contacts", fmt.Sprint(o.Contacts),
		"--seed", fmt.Sprint(o.Seed), "--search-lag", "1s", "--burst-max", "100", "--burst-interval", "1s",
		"--daily-max", "2000000", "--log-level", "warn"}, simArgs...)
	if e.sim, err = StartSim(ctx, o.Bin, args, e.simLog); err != nil {
		e.close()
		return nil, err
	}
	e.g = NewGHLControl(e.sim.Info.BaseURL)
	e.p = NewPTDControl(e.sim.Info.PTDURL, e.sim.Info.PTDKey)
	e.cfgPath = filepath.Join(dir, "ptsync.hcl")
	e.dbPath = filepath.Join(dir, "ptsync.db")
	if o.MirrorDir != "" {
		e.dbPath = filepath.Join(o.MirrorDir, "ptsync.db")
	}
	e.tokPath = filepath.Join(dir, "ghl-token.json")
	if e.metrics, err = FreeAddr(); err != nil {
		e.close()
		return nil, err
	}
	if err := e.install(ctx); err != nil {
		e.close()
		return nil, err
	}
	src := strings.NewReplacer("TOKEN_FILE", e.tokPath, "DB_PATH", e.dbPath, "METRICS_ADDR", e.metrics, "CHILDREN_PERIOD", childrenPeriod.String()).Replace(harnessHCL)
	if err := os.WriteFile(e.cfgPath, []byte(src), 0o600); err != nil {
		e.close()
		return nil, fmt.Errorf("cannot write configuration: %w", err)
	}
	vars := map[string]string{"PTSYNC_H_GHL_URL": e.sim.Info.BaseURL, "PTSYNC_H_LOCATION": e.sim.Info.LocationID,
		"PTSYNC_H_CLIENT_ID": e.sim.Info.ClientID, "PTSYNC_H_CLIENT_SECRET": e.sim.Info.ClientSecret,
		"PTSYNC_H_PTD_URL": e.sim.Info.PTDURL, "PTSYNC_H_PTD_KEY": e.sim.Info.PTDKey}
	cfg, err := config.Parse([]byte(src), e.cfgPath, config.Env{LookupEnv: func(n string) (string, bool) { v, ok := vars[n]; return v, ok }})
	if err != nil {
		e.close()
		return nil, fmt.Errorf("cannot parse the harness configuration: %w", err)
	}
	e.mapping = cfg.Mapping
	envv := os.Environ()
	for k, v := range vars {
		envv = append(envv, k+"="+v)
	}
	cmd := exec.CommandContext(ctx, o.Bin, "check-config", "--config", e.cfgPath)
	cmd.Env = envv
	if out, err := cmd.CombinedOutput(); err != nil {
		e.close()
		return nil, fmt.Errorf("cannot use the harness configuration: %w\n%s", err, out)
	}
	e.svc = &ServiceProcess{Bin: o.Bin, ConfigPath: e.cfgPath, LogPath: filepath.Join(dir, "service.log"), Env: envv, MetricsAddr: e.metrics}
	return e, nil
}

// install writes a fresh OAuth installation to the token file, as `ptsync auth` would.
func (e *env) install(ctx context.Context) error {
	tr, err := e.g.IssueToken(ctx)
	if err != nil {
		return fmt.Errorf("cannot install: %w", err)
	}
	tok := ghl.Token{AccessToken: secret.New(tr.AccessToken), RefreshToken: secret.New(tr.RefreshToken), TokenType: tr.TokenType,
		Expiry: time.Now().Add(time.Duration(tr.ExpiresIn) * time.Second), Scopes: strings.Fields(tr.Scope),
		LocationID: e.sim.Info.LocationID, UserType: tr.UserType, CompanyID: tr.CompanyID, UserID: tr.UserID}
	if err := ghl.NewFileTokenStore(e.tokPath).Save(ctx, e.sim.Info.LocationID, tok); err != nil {
		return fmt.Errorf("cannot install: %w", err)
	}
	e.installedRT, e.installedAt = tr.RefreshToken, time.Now()
	return nil
}

// checkTokenGap looks for refresh tokens the simulator refused since the last look. In the
// harness the only way to present a spent refresh token is a kill between HighLevel's answer
// to a refresh and the fsync of the new pair; each distinct spent token is one such kill. The
// harness then re-installs (the service picks up the new file without a restart).
func (e *env) checkTokenGap(ctx context.Context) error {
	c, err := e.g.Counters(ctx)
	if err != nil {
		return err
	}
	if c.TokenRefused <= e.refused {
		return nil
	}
	e.refused = c.TokenRefused
	tok, err := ghl.NewFileTokenStore(e.tokPath).Load(ctx, e.sim.Info.LocationID)
	if err != nil {
		return fmt.Errorf("cannot read the token file after a refused refresh: %w", err)
	}
	rt := tok.RefreshToken.Reveal()
	if rt == e.installedRT && time.Since(e.installedAt) < 3*time.Second {
		// A refresh with the spent token that was already in flight when the harness
		// re-installed: the same gap, already counted; the service picks up the new file.
		return nil
	}
	if !e.spent[rt] {
		e.spent[rt] = true
		e.res.TokenGapKills++
		e.logf("refresh token refused (kill in the refresh gap #%d): re-installing", e.res.TokenGapKills)
	}
	return e.install(ctx)
}

// watch checks the service between events: an unexpected exit is counted and the service
// restarted; a refused refresh token is handled by checkTokenGap.
func (e *env) watch(ctx context.Context) error {
	if exited, code := e.svc.Exited(); exited {
		e.notes = append(e.notes, fmt.Sprintf("service exited by itself with code %d (run %d)", code, e.svc.Runs))
		e.logf("service exited by itself with code %d; restarting", code)
		if err := e.svc.Start(); err != nil {
			return err
		}
	}
	return e.checkTokenGap(ctx)
}

// sleep waits d while watching the service every 200 ms.
func (e *env) sleep(ctx context.Context, d time.Duration) error {
	end := time.Now().Add(d)
	for {
		left := time.Until(end)
		if left <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(left, 200*time.Millisecond)):
		}
		if err := e.watch(ctx); err != nil {
			return err
		}
	}
}

// quiet waits until the service is ready, its outbox is empty and neither simulator received
// a write for `still` (polling every 500 ms), or until deadline. It reports whether it got there.
func (e *env) quiet(ctx context.Context, still time.Duration, deadline time.Time) (bool, error) {
	var lastW int64 = -1
	var since time.Time
	for time.Now().Before(deadline) {
		if err := e.sleep(ctx, 500*time.Millisecond); err != nil {
			return false, err
		}
		c, err := e.g.Counters(ctx)
		if err != nil {
			return false, err
		}
		st, err := e.p.Stats(ctx)
		if err != nil {
			return false, err
		}
		w := c.Writes + st.Writes
		m, _ := Scrape(ctx, e.metrics)
		busy := m == nil || !Ready(ctx, e.metrics) || SumMetric(m, "ptsync_outbox_entries")+SumMetric(m, "ptsync_outbox_dead_letters") > 0
		if busy || w != lastW {
			lastW, since = w, time.Now()
			continue
		}
		if time.Since(since) >= still {
			return true, nil
		}
	}
	return false, nil
}

// pairs matches HighLevel contacts with PTD clients by normalized email.
func (e *env) pairs(ctx context.Context) ([]Pair, error) {
	g, err := e.g.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := e.p.Clients(ctx)
	if err != nil {
		return nil, err
	}
	byEmail := map[string]string{}
	for _, c := range cs {
		byEmail[normEmail(c.Email)] = c.ID
	}
	var out []Pair
	for _, c := range g.Contacts() {
		em := normEmail(c.Email)
		if id, ok := byEmail[em]; ok && em != "" {
			out = append(out, Pair{GHLID: c.ID, PTDID: id, Email: em})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("cannot churn: no contact is linked to a client after the first sync")
	}
	return out, nil
}

// startAndSettle starts the service and waits for the first full sync to go quiet.
func (e *env) startAndSettle(ctx context.Context) error {
	if e.svc.Pid() == 0 {
		if err := e.svc.Start(); err != nil {
			return err
		}
	}
	ok, err := e.quiet(ctx, 3*time.Second, time.Now().Add(90*time.Second))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("cannot settle: the first sync did not go quiet within 90s (log %s)", e.svc.LogPath)
	}
	return nil
}

// finish stops churn-side faults, lets the service converge, stops it and verifies. It
// retries (restart, wait, stop, verify) until the verdict is clean or ConvergeTimeout passed,
// and fills e.res with the last verdict.
func (e *env) finish(ctx context.Context, l *Ledger) error {
	started := time.Now()
	deadline := started.Add(e.o.ConvergeTimeout)
	var prev [4]int
	for attempt := 1; ; attempt++ {
		if e.svc.Pid() == 0 {
			if err := e.svc.Start(); err != nil {
				return err
			}
		}
		if _, err := e.quiet(ctx, 4*time.Second, deadline); err != nil {
			return err
		}
		// Each attempt is a new process whose counters start at zero: add them up, so the
		// soak's transitions still show when convergence took several rounds.
		if m, err := Scrape(ctx, e.metrics); err == nil {
			for _, st := range []string{"open", "half-open", "closed"} {
				e.res.Breaker[st] += SumMetric(m, "ptsync_breaker_transitions_total", `state="`+st+`"`)
			}
			for _, side := range []string{"ghl", "ptd"} {
				e.res.FutureStamps[side] += SumMetric(m, "ptsync_future_timestamps_total", `side="`+side+`"`)
			}
		}
		if err := e.checkTokenGap(ctx); err != nil {
			return err
		}
		if code := e.svc.Stop(); code != 0 {
			e.notes = append(e.notes, fmt.Sprintf("graceful stop exited %d", code))
			e.res.Unexpected++
		}
		if err := e.verify(ctx, l); err != nil {
			return err
		}
		clean := e.res.Lost == 0 && e.res.Duplicated == 0 && e.res.Diverged == 0 && e.res.OutboxLeft == 0
		e.logf("verify #%d: lost %d, duplicated %d, diverged %d, outbox %d, integrity %s", attempt, e.res.Lost, e.res.Duplicated, e.res.Diverged, e.res.OutboxLeft, e.res.Integrity)
		// A verdict seen twice with nothing left to push, once a whole children rotation
		// has passed (PTD tasks are only found by it), will not heal: stop waiting.
		verdict := [4]int{e.res.Lost, e.res.Duplicated, e.res.Diverged, e.res.OutboxLeft}
		stable := attempt > 1 && verdict == prev && e.res.Diverged == 0 && e.res.OutboxLeft == 0 &&
			time.Since(started) > childrenPeriod+5*time.Second
		prev = verdict
		if clean || stable || time.Now().After(deadline) {
			return nil
		}
	}
}

// verify reads both simulators and the stopped service's mirror and fills e.res: the
// verdict's counts are this attempt's alone (a verdict does not carry over from the last
// one), and its details start again from the scenario's notes.
func (e *env) verify(ctx context.Context, l *Ledger) error {
	gs, err := e.g.Snapshot(ctx)
	if err != nil {
		return err
	}
	ps, err := e.p.Snapshot(ctx)
	if err != nil {
		return err
	}
	db, err := store.Open(e.dbPath, store.Options{ReadOnly: true, Timeout: 10 * time.Second})
	if err != nil {
		return fmt.Errorf("cannot open the mirror: %w", err)
	}
	defer db.Close()
	r := e.res
	r.Details = append([]string(nil), e.notes...)
	r.Integrity = "ok"
	if err := db.Check(); err != nil {
		r.Integrity = "FAIL"
		r.Details = append(r.Details, err.Error())
	}
	links, hist, ob, err := readVerifyInputs(db)
	if err != nil {
		return err
	}
	r.OutboxLeft = ob.Depth + ob.Dead
	conv, err := convergence.Check(db, gs, ps, e.mapping)
	if err != nil {
		return fmt.Errorf("cannot check convergence: %w", err)
	}
	r.addConvergence(conv)
	mirror, err := MirrorDiff(db, gs, ps)
	if err != nil {
		return err
	}
	r.Diverged += len(mirror)
	for _, m := range mirror {
		r.Details = append(r.Details, "mirror: "+m)
	}
	e.keepLedger(l)
	journal, err := e.g.Journal(ctx)
	if err != nil {
		return fmt.Errorf("cannot read the HighLevel simulator's journal: %w", err)
	}
	r.addLedgerVerdict(l.Verify(Views{GHL: gs, PTD: ps, Links: links, History: hist, Journal: journal}))
	if r.Panics, err = CountPanics(e.svc.LogPath); err != nil {
		return err
	}
	r.Runs, r.Unexpected = e.svc.Runs, e.svc.Unexpected
	if c, err := e.g.Counters(ctx); err == nil {
		r.addSimCounters(c)
	}
	r.Duration = time.Since(e.started)
	return nil
}

// readVerifyInputs reads, in one transaction of the stopped service's mirror, what the ledger
// needs beside the simulators (every link and every history entry) and the outbox's figures.
func readVerifyInputs(db *store.DB) ([]store.Link, []store.HistoryEntry, store.OutboxStats, error) {
	var links []store.Link
	var hist []store.HistoryEntry
	var ob store.OutboxStats
	if err := db.View(func(tx *store.Tx) error {
		if err := tx.ForEachLink(func(lk *store.Link) error { links = append(links, *lk); return nil }); err != nil {
			return err
		}
		if err := tx.ForEachHistory(func(h *store.HistoryEntry) error { hist = append(hist, *h); return nil }); err != nil {
			return err
		}
		var err error
		ob, err = tx.OutboxStats()
		return err
	}); err != nil {
		return nil, nil, store.OutboxStats{}, fmt.Errorf("cannot read the mirror: %w", err)
	}
	return links, hist, ob, nil
}

// addConvergence sets Held, Diverged and Duplicated from a convergence report (replacing what
// an earlier attempt left): a mismatch diverges; a problem is a duplicate when an email is
// held by several records, and diverges otherwise (a record linked twice, a link to nothing).
func (r *Result) addConvergence(conv convergence.Report) {
	r.Held = conv.Held
	r.Diverged, r.Duplicated = len(conv.Mismatches), 0
	for _, m := range conv.Mismatches {
		r.Details = append(r.Details, fmt.Sprintf("diverged: %s %s %s: ghl %q ptd %q", m.Kind, m.LinkID, m.Field, m.GHL, m.PTD))
	}
	for _, p := range conv.Problems {
		if strings.Contains(p, "held by") {
			r.Duplicated++
			r.Details = append(r.Details, "duplicate: "+p)
		} else {
			r.Diverged++
			r.Details = append(r.Details, "diverged: "+p)
		}
	}
}

// addLedgerVerdict sets Edits, ByRule, Raced and Lost from the ledger's verdict and adds its
// duplicates to those convergence found; each raced, lost and duplicated line is a detail.
func (r *Result) addLedgerVerdict(v Verdict) {
	r.Edits, r.ByRule, r.Raced = v.Edits, v.ByRule, len(v.Raced)
	for _, s := range v.Raced {
		r.Details = append(r.Details, "raced: "+s)
	}
	r.Lost = len(v.Lost)
	r.Duplicated += len(v.Duplicated)
	for _, s := range v.Lost {
		r.Details = append(r.Details, "lost: "+s)
	}
	for _, s := range v.Duplicated {
		r.Details = append(r.Details, "duplicate: "+s)
	}
}

// addSimCounters copies into Faults what the HighLevel simulator counted: each injected
// fault by name, 429s (burst and daily), 401s, refreshes and refused refresh tokens.
func (r *Result) addSimCounters(c ghlsim.Counters) {
	for k, n := range c.Faults {
		r.Faults[string(k)] = n
	}
	r.Faults["429"] = c.RateLimitedBurst + c.RateLimitedDaily
	r.Faults["401"] = c.Unauthorized
	r.Faults["refreshes"] = c.Refreshes
	r.Faults["refused_refresh"] = c.TokenRefused
}

// keepLedger writes the ledger's edits as ledger.json beside the scenario's configuration,
// for --keep; it is best effort: a ledger that cannot be written changes no verdict.
func (e *env) keepLedger(l *Ledger) {
	if b, err := json.MarshalIndent(l.Edits(), "", " "); err == nil {
		_ = os.WriteFile(filepath.Join(filepath.Dir(e.cfgPath), "ledger.json"), b, 0o600)
	}
}

// close stops everything the scenario started (only those processes).
func (e *env) close() {
	if e.svc != nil {
		e.svc.Kill()
	}
	e.sim.Stop()
	if e.simLog != nil {
		e.simLog.Close()
	}
}
