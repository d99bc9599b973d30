// Command ptsync-harness runs the reliability harness (package harness): the crash loop and
// the fault soak against the real ptsync binary and `ptsync sim`, then prints the table.
// Run it from the module root:
//
//	go run ./harness/cmd/ptsync-harness --kills 10 --soak 60s [--full-disk]
//
// It exits 0 when every scenario lost, duplicated and diverged nothing, 1 when one did, 2 on
// bad flags, 3 when the harness itself could not run.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"ptsync/harness"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ptsync-harness", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kills := fs.Int("kills", 10, "crash loop: SIGKILLs (0 skips the crash loop)")
	soak := fs.Duration("soak", 60*time.Second, "fault soak: how long faults are injected (0 skips the soak)")
	outage := fs.Bool("outage", true, "fault soak: include a 6 s HighLevel outage that must open and close the breaker")
	contacts := fs.Int("contacts", 40, "HighLevel contacts seeded (PTD gets 60 % of them plus a tenth of its own)")
	rate := fs.Float64("churn", 8, "edits per second across both sides")
	seed := fs.Int64("seed", 1, "seed for data, churn and kill moments")
	module := fs.String("module", ".", "module root to build ptsync from")
	bin := fs.String("bin", "", "use this ptsync binary instead of building one")
	keep := fs.Bool("keep", false, "keep the work directory (mirrors, configs, logs) and print its path")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	fullDisk := fs.Bool("full-disk", false, "also run the full-disk scenario: the mirror on a tmpfs filled in steady state (needs root)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || *kills < 0 || *soak < 0 || *contacts <= 0 || *rate <= 0 {
		fmt.Fprintln(stderr, "ptsync-harness: --kills and --soak must not be negative, --contacts and --churn must be positive; no arguments")
		return 2
	}
	dir, err := os.MkdirTemp("", "ptsync-harness-")
	if err != nil {
		fmt.Fprintf(stderr, "ptsync-harness: cannot create work directory: %v\n", err)
		return 3
	}
	if *keep {
		fmt.Fprintf(stderr, "ptsync-harness: work directory %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	var progress io.Writer = stderr
	if *quiet {
		progress = io.Discard
	}
	if *bin == "" {
		fmt.Fprintln(progress, "building ptsync")
		if *bin, err = harness.BuildBinary(ctx, *module, dir); err != nil {
			fmt.Fprintf(stderr, "ptsync-harness: %v\n", err)
			return 3
		}
	}
	o := harness.Options{Bin: *bin, Dir: dir, Contacts: *contacts, ChurnRate: *rate, Seed: *seed, Progress: progress}
	var results []harness.Result
	if *kills > 0 {
		r, err := harness.CrashLoop(ctx, harness.CrashOptions{Options: o, Kills: *kills})
		if err != nil {
			fmt.Fprintf(stderr, "ptsync-harness: crash loop: %v\n", err)
			return 3
		}
		results = append(results, r)
	}
	if *soak > 0 {
		r, err := harness.Soak(ctx, harness.SoakOptions{Options: o, Duration: *soak, Outage: *outage})
		if err != nil {
			fmt.Fprintf(stderr, "ptsync-harness: fault soak: %v\n", err)
			return 3
		}
		results = append(results, r)
	}
	if *fullDisk {
		r, err := harness.DiskFull(ctx, harness.DiskFullOptions{Options: o})
		if err != nil {
			fmt.Fprintf(stderr, "ptsync-harness: full disk: %v\n", err)
			return 3
		}
		results = append(results, r)
	}
	harness.PrintTable(stdout, results)
	for _, r := range results {
		if !r.OK() {
			return 1
		}
	}
	return 0
}
