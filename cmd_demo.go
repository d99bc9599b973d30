package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/go-hclog"

	"ptsync/replicator"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	once := fs.Bool("once", false, "exit 0 after the first full convergence instead of churning live")
	db := fs.String("db", "ptsync-demo.db", "mirror file, replaced at start and left for 'ptsync query'")
	contacts := fs.Int("contacts", 2000, "contacts seeded in the HighLevel simulator")
	seed := fs.Int64("seed", 1, "seed of the generated data")
	level := fs.String("log-level", "warn", "log level of the service (trace, debug, info, warn, error)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ptsync demo [--once] [--db PATH] [--contacts N] [--seed N] [--log-level LEVEL]")
		fmt.Fprintln(stderr, "Runs both simulators in-process and a real sync against them (rate limits time-scaled 20x).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ptsync demo: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *contacts < 1 || *contacts > 100000 {
		fmt.Fprintf(stderr, "ptsync demo: --contacts %d is out of range 1..100000\n", *contacts)
		return exitUsage
	}
	lvl := hclog.LevelFromString(*level)
	if lvl == hclog.NoLevel {
		fmt.Fprintf(stderr, "ptsync demo: --log-level %q is not one of trace, debug, info, warn, error\n", *level)
		return exitUsage
	}
	err := replicator.RunDemo(ctx, replicator.DemoOptions{
		Contacts: *contacts, Seed: *seed, DBPath: *db, Stderr: stderr, TTY: isTerminal(stderr),
		Logger:      hclog.New(&hclog.LoggerOptions{Name: "ptsync", Level: lvl, Output: stderr}),
		BuildTwoWay: replicator.BuildTwoWay,
	}, *once, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "ptsync demo: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// isTerminal reports whether w is a character device (a terminal), for the progress bar.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
