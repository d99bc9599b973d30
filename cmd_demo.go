package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"

	"ptsync/demo"
)

// demoHCL is the demo configuration's source; the demo writes it, resolved, next to the
// mirror so that `ptsync plan --config` works against the mirror afterwards.
//
//go:embed config/demo.hcl
var demoHCL []byte

// cmdDemo is `ptsync demo`: both simulators in-process, a real sync, a summary; live churn
// until Ctrl-C unless --once. The service's log goes to a file next to the mirror so the
// screen stays readable; the summary says how many warnings and errors it holds.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	once := fs.Bool("once", false, "exit 0 after the first full convergence instead of churning live")
	db := fs.String("db", "ptsync-demo.db", "mirror file, replaced at start and left for 'ptsync query'")
	contacts := fs.Int("contacts", 2000, "contacts seeded in the HighLevel simulator")
	seed := fs.Int64("seed", 1, "seed of the generated data")
	level := fs.String("log-level", "warn", "log level of the service's log file (trace, debug, info, warn, error)")
	logPath := fs.String("log", "", "the service's log file (default: the mirror's name with .log, e.g. ptsync-demo.log)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: ptsync demo [--once] [--db PATH] [--contacts N] [--seed N] [--log PATH] [--log-level LEVEL]")
		fmt.Fprintln(fs.Output(), "Runs both simulators in-process and a real sync against them (rate limits time-scaled 20x).")
		fs.PrintDefaults()
	}
	terseOnError(fs)
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
	if *logPath == "" {
		*logPath = demo.LogPath(*db)
	}
	err := demo.Run(ctx, demo.Options{
		Contacts: *contacts, Seed: *seed, DBPath: *db, Stderr: stderr, TTY: isTerminal(stderr),
		LogPath: *logPath, LogLevel: lvl, ConfigTemplate: demoHCL,
		Command: invokedAs(os.Args[0]),
	}, *once, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "ptsync demo: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// invokedAs is how the person at the terminal runs ptsync, for the commands the demo
// suggests: `go run .` builds into a go-build temporary directory, so a binary there means
// the reader has no ptsync on their PATH.
func invokedAs(argv0 string) string {
	if strings.Contains(filepath.ToSlash(argv0), "/go-build") {
		return "go run ."
	}
	return "ptsync"
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
