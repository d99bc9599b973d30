package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ghlwire"
	"ptsync/sim/gen"
	"ptsync/sim/ghlsim"
	"ptsync/sim/ptdsim"
)

// cmdSim runs the HighLevel simulator and, on its own port, the PT Distinction simulator (and,
// when asked, a Zapier catch-hook recorder) as a standalone staging environment until ctx is
// cancelled. PTD is seeded with clients overlapping the HighLevel dataset (by email, some only by
// phone) plus clients of its own. It prints the base URLs, the OAuth client credentials, a
// Private Integration Token, an OAuth installation (access + refresh token) and the PTD API key
// to stdout, and nothing secret anywhere else.
func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, code, ok := parseSimFlags(args, stderr)
	if !ok {
		return code
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "ghlsim", Level: f.level, Output: stderr})
	sim := ghlsim.New(ghlsim.Options{
		LocationID:      f.location,
		AllowDuplicates: f.allowDup,
		SearchLag:       f.searchLag,
		Seed:            f.seed,
		Epoch:           f.seededAt,
		Logger:          log,
		AccessTokenTTL:  f.tokenTTL,
		Limits:          ghlsim.Limits{BurstMax: f.burstMax, BurstInterval: f.burstInterval, DailyMax: f.dailyMax, DailyInterval: f.dailyInterval},
	})
	sim.Seed(f.contacts)
	base, err := sim.Start(f.addr)
	if err != nil {
		fmt.Fprintf(stderr, "ptsync sim: cannot start simulator: %v\n", err)
		return exitFailure
	}
	defer sim.Close()
	printSimSetup(stdout, sim, base)
	log.Info("simulator serving", "base_url", base, "contacts", sim.ContactCount(), "search_lag", f.searchLag, "seeded_around", f.seededAt.Format(time.RFC3339))

	if f.ptdAddr != "" {
		stop, code := serveSimPTD(sim, simPTDOptions{addr: f.ptdAddr, zapierAddr: f.zapierAddr, seed: f.seed, seededAt: f.seededAt,
			overlap: f.ptdOverlap, own: f.ptdOwn, logLevel: f.level}, stdout, stderr)
		if code != exitOK {
			return code
		}
		defer stop()
	}
	if f.churn > 0 {
		go sim.Churn(ctx, f.churn)
	}
	<-ctx.Done()
	log.Info("simulator stopping")
	return exitOK
}

// simFlags are ptsync sim's settings, checked: seededAt and level are --epoch and --log-level
// read, and ptdOwn is resolved from --contacts when the flag left it negative.
type simFlags struct {
	addr, location, ptdAddr, zapierAddr string
	seed                                int64
	seededAt                            time.Time
	contacts, burstMax, dailyMax        int
	searchLag, tokenTTL                 time.Duration
	burstInterval, dailyInterval        time.Duration
	allowDup                            bool
	churn, ptdOverlap                   float64
	ptdOwn                              int
	level                               hclog.Level
}

// parseSimFlags reads and checks args. On failure it has said why on stderr and returns the
// exit code (exitOK for --help).
func parseSimFlags(args []string, stderr io.Writer) (simFlags, int, bool) {
	var f simFlags
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8910", "listen address (the /_sim/ control surface is unauthenticated: keep it on loopback)")
	fs.Int64Var(&f.seed, "seed", 1, "seed for ids, generated people, churn and faults")
	epoch := fs.String("epoch", gen.DefaultReference().Format(time.RFC3339), `the "now" seeded data is dated around (RFC 3339); "now" dates it around the clock (the same ids and people, other dates)`)
	fs.IntVar(&f.contacts, "contacts", 500, "seed this many contacts with tasks, notes and appointments")
	fs.StringVar(&f.location, "location", "", "location (sub-account) id (default simLocation000000001)")
	fs.DurationVar(&f.searchLag, "search-lag", 2*time.Second, "how far POST /contacts/search trails writes")
	fs.DurationVar(&f.tokenTTL, "token-ttl", 24*time.Hour, "OAuth access token lifetime")
	fs.IntVar(&f.burstMax, "burst-max", 100, "requests allowed per burst interval and location")
	fs.DurationVar(&f.burstInterval, "burst-interval", 10*time.Second, "burst interval (sliding window)")
	fs.IntVar(&f.dailyMax, "daily-max", 200000, "requests allowed per daily interval and location")
	fs.DurationVar(&f.dailyInterval, "daily-interval", 24*time.Hour, "daily window length")
	fs.BoolVar(&f.allowDup, "allow-duplicates", false, "allow contacts with an existing email or phone")
	fs.Float64Var(&f.churn, "churn", 0, "change this many random contacts per second, as users would")
	logLevel := fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
	fs.StringVar(&f.ptdAddr, "ptd-addr", "127.0.0.1:8920", "PT Distinction simulator listen address; empty serves HighLevel only")
	fs.Float64Var(&f.ptdOverlap, "ptd-overlap", 0.6, "share (0..1) of the HighLevel contacts that are also PTD clients")
	fs.IntVar(&f.ptdOwn, "ptd-own", -1, "PTD-only clients to add (default: a tenth of --contacts)")
	fs.StringVar(&f.zapierAddr, "zapier-addr", "", "also serve a Zapier catch-hook recorder applying its actions to the PTD simulator (e.g. 127.0.0.1:8921)")
	fs.Usage = func() { simUsage(fs) }
	terseOnError(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return f, exitOK, false
		}
		return f, exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ptsync sim: unexpected argument %q\n", fs.Arg(0))
		return f, exitUsage, false
	}
	if err := f.check(*epoch, *logLevel); err != nil {
		fmt.Fprintf(stderr, "ptsync sim: %v\n", err)
		return f, exitUsage, false
	}
	return f, exitOK, true
}

// check refuses settings the simulators cannot serve, reads epoch and logLevel into
// f.seededAt and f.level, and resolves f.ptdOwn's default.
func (f *simFlags) check(epoch, logLevel string) error {
	if f.ptdOverlap < 0 || f.ptdOverlap > 1 {
		return fmt.Errorf("--ptd-overlap %v must be within [0, 1]", f.ptdOverlap)
	}
	if f.ptdOwn < 0 {
		f.ptdOwn = f.contacts / 10
	}
	if f.zapierAddr != "" && f.ptdAddr == "" {
		return errors.New("--zapier-addr needs the PTD simulator (--ptd-addr)")
	}
	if f.contacts < 0 || f.burstMax <= 0 || f.dailyMax <= 0 || f.burstInterval <= 0 || f.dailyInterval <= 0 || f.tokenTTL <= 0 || f.searchLag < 0 || f.churn < 0 {
		return errors.New("--contacts, --search-lag and --churn must not be negative; limits, intervals and --token-ttl must be positive")
	}
	var err error
	if f.seededAt, err = simEpoch(epoch); err != nil {
		return err
	}
	if f.level = hclog.LevelFromString(logLevel); f.level == hclog.NoLevel {
		return fmt.Errorf("--log-level %q is not one of trace, debug, info, warn, error", logLevel)
	}
	return nil
}

// printSimSetup prints the HighLevel simulator's setup material to stdout only: it holds
// simulator secrets (client secret, tokens), which are never logged.
func printSimSetup(stdout io.Writer, sim *ghlsim.Server, base string) {
	id, secret := sim.ClientCredentials()
	tok := sim.IssueToken()
	fmt.Fprintf(stdout, "base_url       %s\n", base)
	fmt.Fprintf(stdout, "location_id    %s\n", sim.LocationID())
	fmt.Fprintf(stdout, "client_id      %s\n", id)
	fmt.Fprintf(stdout, "client_secret  %s\n", secret)
	fmt.Fprintf(stdout, "private_token  %s\n", sim.IssuePIT())
	fmt.Fprintf(stdout, "access_token   %s\n", tok.AccessToken)
	fmt.Fprintf(stdout, "refresh_token  %s\n", tok.RefreshToken)
	fmt.Fprintf(stdout, "authorize_url  %s/v2/oauth/chooselocation?response_type=code&client_id=%s&redirect_uri=<your-callback>&scope=contacts.readonly%%20contacts.write\n", base, id)
	fmt.Fprintf(stdout, "control        %s/_sim/snapshot, /_sim/counters and /_sim/journal (GET), /_sim/seed?n=, /_sim/churn?n=, /_sim/faults (POST)\n", base)
}

// simUsage prints the help of ptsync sim.
func simUsage(fs *flag.FlagSet) {
	fmt.Fprintln(fs.Output(), "usage: ptsync sim [flags]")
	fmt.Fprintln(fs.Output())
	fmt.Fprintln(fs.Output(), "Serves a faithful HighLevel Contacts API v2 simulator for staging and demos and, on")
	fmt.Fprintln(fs.Output(), "--ptd-addr, the PT Distinction REST simulator seeded with clients overlapping it.")
	fmt.Fprintln(fs.Output(), "It prints the base URL, OAuth client credentials, a Private Integration Token and")
	fmt.Fprintln(fs.Output(), "an OAuth installation (access and refresh token) to stdout ONLY, as setup material")
	fmt.Fprintln(fs.Output(), "for a staging ptsync, with the PTD URL and API key; they are simulator secrets and are")
	fmt.Fprintln(fs.Output(), "never logged.")
	fmt.Fprintln(fs.Output())
	fs.PrintDefaults()
}

// simEpoch reads --epoch: an RFC 3339 time, or "now" for the clock.
func simEpoch(v string) (time.Time, error) {
	if v == "now" {
		return time.Now().UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--epoch %q: want an RFC 3339 time like 2026-06-01T12:00:00Z, or now", v)
	}
	return t.UTC(), nil
}

type simPTDOptions struct {
	addr, zapierAddr string
	seed             int64
	seededAt         time.Time
	overlap          float64
	own              int
	logLevel         hclog.Level
}

// serveSimPTD starts the PT Distinction simulator (and the Zapier recorder when asked) seeded
// from the HighLevel simulator's contacts, prints its URL and API key, and returns a stop func.
func serveSimPTD(g *ghlsim.Server, o simPTDOptions, stdout, stderr io.Writer) (func(), int) {
	var key [12]byte
	if _, err := rand.Read(key[:]); err != nil {
		fmt.Fprintf(stderr, "ptsync sim: cannot generate the PTD API key: %v\n", err)
		return nil, exitFailure
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "ptdsim", Level: o.logLevel, Output: stderr})
	p := ptdsim.New(ptdsim.Options{APIKey: "ptd-" + hex.EncodeToString(key[:]), Seed: uint64(o.seed), Logger: log})
	rep, err := p.Seed(ptdsim.SeedOptions{People: simPeople(g.Contacts()), Overlap: o.overlap, PhoneOnly: 0.1,
		Own: o.own, OwnSeed: o.seed + 1, Seed: uint64(o.seed), At: o.seededAt})
	if err != nil {
		fmt.Fprintf(stderr, "ptsync sim: cannot seed the PTD simulator: %v\n", err)
		return nil, exitFailure
	}
	srv, err := p.Start(o.addr)
	if err != nil {
		fmt.Fprintf(stderr, "ptsync sim: cannot start the PTD simulator: %v\n", err)
		return nil, exitFailure
	}
	stops := []func(context.Context) error{srv.Close}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, f := range stops {
			_ = f(ctx)
		}
	}
	fmt.Fprintf(stdout, "ptd_url        %s\n", srv.URL)
	fmt.Fprintf(stdout, "ptd_api_key    %s\n", p.APIKey())
	fmt.Fprintf(stdout, "ptd_control    %s/_sim/snapshot, /_sim/stats (GET), /_sim/clients, /_sim/faults (PUT); bearer ptd_api_key\n", srv.URL)
	if o.zapierAddr != "" {
		z := ptdsim.NewZapierRecorder(ptdsim.ZapierOptions{Apply: p, Logger: log})
		zs, err := z.Start(o.zapierAddr)
		if err != nil {
			stop()
			fmt.Fprintf(stderr, "ptsync sim: cannot start the Zapier recorder: %v\n", err)
			return nil, exitFailure
		}
		stops = append(stops, zs.Close)
		fmt.Fprintf(stdout, "zapier_hooks   %s (one per action, e.g. add_client/)\n", ptdsim.HookURL(zs.URL, ""))
	}
	log.Info("simulator serving", "ptd_url", srv.URL, "clients", rep.Clients, "overlapping", len(rep.Matches), "own", rep.Own)
	return stop, exitOK
}

// simPeople turns the HighLevel simulator's contacts back into the people PTD's seeder
// expects, so the two datasets overlap on the same persons (tasks and notes stay HighLevel's).
func simPeople(cs []ghlwire.Contact) []gen.Person {
	out := make([]gen.Person, 0, len(cs))
	for _, c := range cs {
		out = append(out, gen.Person{FirstName: c.FirstName, LastName: c.LastName, Email: c.Email, Phone: c.Phone,
			Timezone: c.Timezone, Tags: c.Tags})
	}
	return out
}
