// Command bench measures ptsync against HighLevel's physical limit and against naive
// baselines measured in the same run, and prints one table.
//
//	go run ./bench            # the full run (under 10 minutes on 2 cores)
//	go run ./bench --quick    # a small version (seconds); `go test ./bench` runs it
//	go run ./bench --only backfill,steady --cpuprofile cpu.out
//
// Every figure stands beside a baseline measured in the same process, on the same machine,
// a few seconds apart, so the ratios mean something where absolute numbers do not. Nothing
// here talks to the real HighLevel: the simulators run on loopback.
//
// The memory figures come from child processes: the driver re-executes itself with the
// environment variable PTSYNC_BENCH_CHILD set, so each sync's peak RSS (VmHWM) is its own
// and not the simulator's or a previous benchmark's.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Exit codes, as in ptsync itself.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// benchNames returns the sections in the order they run and print.
func benchNames() []string {
	return []string{"backfill", "steady", "ingest", "memory", "reconcile", "queries"}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var code int
	if mode := os.Getenv(childEnv); mode != "" {
		code = runChild(ctx, mode, os.Stdout, os.Stderr)
	} else {
		code = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	os.Exit(code)
}

// sizes are the workload sizes of one run.
type sizes struct {
	Backfill     int           // contacts backfilled under the time-scaled limit
	BurstMax     int           // requests allowed per BurstWindow
	BurstWindow  time.Duration // HighLevel's 10 s, time-scaled
	LatencyMin   time.Duration // simulated network + server latency, scaled like the window
	LatencyMax   time.Duration
	Steady       int // contacts in the steady-state mirror
	SteadyCycles int // cycles measured
	ChangeRate   float64
	Big          int // contacts for ingest, memory (large) and queries
	Small        int // contacts for memory (small)
	Pairs        int // linked pairs merged
	Lookups      int // email lookups timed for p50/p99
}

func fullSizes() sizes {
	return sizes{Backfill: 5000, BurstMax: 100, BurstWindow: time.Second, LatencyMin: 10 * time.Millisecond,
		LatencyMax: 30 * time.Millisecond, Steady: 10_000, SteadyCycles: 12, ChangeRate: 0.01,
		Big: 100_000, Small: 10_000, Pairs: 100_000, Lookups: 2000}
}

func quickSizes() sizes {
	return sizes{Backfill: 120, BurstMax: 100, BurstWindow: time.Second, LatencyMin: 10 * time.Millisecond,
		LatencyMax: 30 * time.Millisecond, Steady: 1000, SteadyCycles: 2, ChangeRate: 0.01,
		Big: 4000, Small: 400, Pairs: 5000, Lookups: 200}
}

// env is what every benchmark gets: its sizes, a scratch directory, the seed and a log of
// progress lines (stderr), so the table on stdout stays clean.
type env struct {
	sz   sizes
	dir  string
	seed int64
	log  func(format string, args ...any)
	// bigDB is the 100k mirror the ingest benchmark leaves for the query benchmark.
	bigDB string
	// exe re-executes the driver for child measurements.
	exe []string
	// cpuprofile, when set, is the parent's profile; children write theirs beside it.
	cpuprofile string
	// bigIngest is the ingest section's child result (its peak RSS serves the memory section).
	bigIngest *childResult
	// big is the shared unthrottled simulator of sz.Big contacts (nil until first used).
	big *simHandle
}

// options are the driver's flags.
type options struct {
	quick      bool
	selected   []string
	cpuprofile string
	seed       int64
	dir        string
	sz         sizes
}

// parseFlags reads the driver's flags; a usage error has been printed when ok is false
// (code is what run returns).
func parseFlags(args []string, stderr io.Writer) (o options, code int, ok bool) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "small sizes: seconds instead of minutes (what `go test ./bench` runs)")
	only := fs.String("only", "", "comma-separated sections to run: "+strings.Join(benchNames(), ","))
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.Int64Var(&o.seed, "seed", 1, "seed of the generated data")
	fs.StringVar(&o.dir, "dir", "", "scratch directory (default: a temporary one, removed afterwards)")
	backfillN := fs.Int("backfill-contacts", 0, "override the backfill size")
	bigN := fs.Int("big-contacts", 0, "override the large mirror size (ingest, memory, queries)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, exitOK, false
		}
		return o, exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected argument %q\n", fs.Arg(0))
		return o, exitUsage, false
	}
	o.quick, o.sz = *quick, fullSizes()
	if *quick {
		o.sz = quickSizes()
	}
	if *backfillN > 0 {
		o.sz.Backfill = *backfillN
	}
	if *bigN > 0 {
		o.sz.Big, o.sz.Small = *bigN, max(*bigN/10, 1)
	}
	o.selected = benchNames()
	if *only != "" {
		o.selected = nil
		for _, n := range strings.Split(*only, ",") {
			n = strings.TrimSpace(n)
			if !slices.Contains(benchNames(), n) {
				fmt.Fprintf(stderr, "bench: --only: unknown section %q (known: %s)\n", n, strings.Join(benchNames(), ","))
				return o, exitUsage, false
			}
			o.selected = append(o.selected, n)
		}
	}
	return o, exitOK, true
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code, ok := parseFlags(args, stderr)
	if !ok {
		return code
	}
	if o.cpuprofile != "" {
		stop, err := startProfile(o.cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return exitFailure
		}
		defer stop()
	}
	scratch, cleanup, err := scratchDir(o.dir)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return exitFailure
	}
	defer cleanup()
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "bench: cannot find own executable for child runs: %v\n", err)
		return exitFailure
	}
	start := time.Now()
	e := &env{sz: o.sz, dir: scratch, seed: o.seed, exe: []string{exe}, cpuprofile: o.cpuprofile, log: func(format string, args ...any) {
		fmt.Fprintf(stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}}
	e.log("ptsync bench: %s, GOMAXPROCS=%d, sections %s", runtime.Version(), runtime.GOMAXPROCS(0), strings.Join(o.selected, ","))
	defer func() {
		if e.big != nil {
			_ = e.big.close()
		}
	}()
	t, failed := runSections(ctx, e, o.selected, stderr)
	fmt.Fprintf(stdout, "ptsync bench (%s; %s, %d CPUs, %s, total %v)\n\n", map[bool]string{true: "quick", false: "full"}[o.quick],
		runtime.Version(), runtime.NumCPU(), runtime.GOOS+"/"+runtime.GOARCH, time.Since(start).Round(time.Second))
	t.write(stdout)
	if failed || ctx.Err() != nil {
		return exitFailure
	}
	return exitOK
}

// runSections runs the selected sections in order; failed reports that one returned an
// error (its row says which).
func runSections(ctx context.Context, e *env, selected []string, stderr io.Writer) (t table, failed bool) {
	for _, name := range selected {
		if ctx.Err() != nil {
			break
		}
		sectionStart := time.Now()
		rows, err := sections()[name](ctx, e)
		t.rows = append(t.rows, rows...)
		if err != nil {
			failed = true
			fmt.Fprintf(stderr, "bench: %s: %v\n", name, err)
			t.rows = append(t.rows, row{Section: name, Metric: "error", Value: err.Error()})
		}
		e.log("%s done in %v", name, time.Since(sectionStart).Round(time.Millisecond))
	}
	return t, failed
}

// startProfile starts the driver's CPU profile; stop writes it.
func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cannot create cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot start cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// scratchDir returns dir (created if needed) or a new temporary directory that cleanup removes.
func scratchDir(dir string) (path string, cleanup func(), err error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", nil, fmt.Errorf("cannot create scratch directory: %w", err)
		}
		return dir, func() {}, nil
	}
	d, err := os.MkdirTemp("", "ptsync-bench-")
	if err != nil {
		return "", nil, fmt.Errorf("cannot create scratch directory: %w", err)
	}
	return d, func() { os.RemoveAll(d) }, nil
}

// sections maps each section name to its benchmark.
func sections() map[string]func(ctx context.Context, e *env) ([]row, error) {
	return map[string]func(ctx context.Context, e *env) ([]row, error){
		"backfill":  benchBackfill,
		"steady":    benchSteady,
		"ingest":    benchIngest,
		"memory":    benchMemory,
		"reconcile": benchReconcile,
		"queries":   benchQueries,
	}
}
