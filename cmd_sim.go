package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/sim/ghlsim"
)

// cmdSim runs the HighLevel simulator as a standalone staging server until ctx is cancelled.
// It prints the base URL, the OAuth client credentials, a Private Integration Token and an
// OAuth installation (access + refresh token) to stdout, and nothing secret anywhere else.
func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8910", "listen address (the /_sim/ control surface is unauthenticated: keep it on loopback)")
	seed := fs.Int64("seed", 1, "seed for ids, generated people, churn and faults")
	contacts := fs.Int("contacts", 500, "seed this many contacts with tasks, notes and appointments")
	location := fs.String("location", "", "location (sub-account) id (default simLocation000000001)")
	searchLag := fs.Duration("search-lag", 2*time.Second, "how far POST /contacts/search trails writes")
	tokenTTL := fs.Duration("token-ttl", 24*time.Hour, "OAuth access token lifetime")
	burstMax := fs.Int("burst-max", 100, "requests allowed per burst interval and location")
	burstInterval := fs.Duration("burst-interval", 10*time.Second, "burst interval (sliding window)")
	dailyMax := fs.Int("daily-max", 200000, "requests allowed per daily interval and location")
	dailyInterval := fs.Duration("daily-interval", 24*time.Hour, "daily window length")
	allowDup := fs.Bool("allow-duplicates", false, "allow contacts with an existing email or phone")
	churn := fs.Float64("churn", 0, "change this many random contacts per second, as users would")
	logLevel := fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ptsync sim [flags]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Serves a faithful HighLevel Contacts API v2 simulator for staging and demos.")
		fmt.Fprintln(stderr, "It prints the base URL, OAuth client credentials, a Private Integration Token and")
		fmt.Fprintln(stderr, "an OAuth installation (access and refresh token) to stdout ONLY, as setup material")
		fmt.Fprintln(stderr, "for a staging ptsync; they are simulator tokens and are never logged.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ptsync sim: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *contacts < 0 || *burstMax <= 0 || *dailyMax <= 0 || *burstInterval <= 0 || *dailyInterval <= 0 || *tokenTTL <= 0 || *searchLag < 0 || *churn < 0 {
		fmt.Fprintln(stderr, "ptsync sim: --contacts, --search-lag and --churn must not be negative; limits, intervals and --token-ttl must be positive")
		return exitUsage
	}
	level := hclog.LevelFromString(*logLevel)
	if level == hclog.NoLevel {
		fmt.Fprintf(stderr, "ptsync sim: --log-level %q is not one of trace, debug, info, warn, error\n", *logLevel)
		return exitUsage
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "ghlsim", Level: level, Output: stderr})

	sim := ghlsim.New(ghlsim.Options{
		LocationID:      *location,
		AllowDuplicates: *allowDup,
		SearchLag:       *searchLag,
		Seed:            *seed,
		Logger:          log,
		AccessTokenTTL:  *tokenTTL,
		Limits:          ghlsim.Limits{BurstMax: *burstMax, BurstInterval: *burstInterval, DailyMax: *dailyMax, DailyInterval: *dailyInterval},
	})
	sim.Seed(*contacts)
	base, err := sim.Start(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "ptsync sim: cannot start simulator: %v\n", err)
		return exitFailure
	}
	defer sim.Close()

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
	fmt.Fprintf(stdout, "control        %s/_sim/counters (GET), /_sim/seed?n=, /_sim/churn?n=, /_sim/faults (POST)\n", base)
	log.Info("simulator serving", "base_url", base, "contacts", sim.ContactCount(), "search_lag", *searchLag)

	if *churn > 0 {
		go sim.Churn(ctx, *churn)
	}
	<-ctx.Done()
	log.Info("simulator stopping")
	return exitOK
}
