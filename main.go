// Command ptsync keeps a PT Distinction coaching account and a HighLevel sub-account in step.
//
// main is deliberately thin: it parses the sub-command, hands it the process's streams and a
// context that SIGINT/SIGTERM cancel, and turns the result into an exit code. Every command
// lives in its own cmd_*.go file and returns an exit code itself.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Exit codes shared by every command.
const (
	exitOK      = 0 // success
	exitFailure = 1 // runtime failure
	exitUsage   = 2 // usage or configuration error
)

// command is one sub-command of the CLI.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists every sub-command; each entry's implementation lives in cmd_<name>.go.
func commands() map[string]command {
	return map[string]command{
		"check-config": {"validate a configuration file and exit", cmdCheckConfig},
		"backup":       {"write a consistent copy of the mirror to a file", cmdBackup},
		"check":        {"verify the mirror's integrity (and migrate an older schema)", cmdCheck},
		"query":        {"query the mirror offline (index flags, --where expressions)", cmdQuery},
		"show":         {"show a contact with its children, link, base, pending writes and history", cmdShow},
		"plan":         {"print the writes the next cycle would make, from the mirror (dry run)", cmdPlan},
		"conflicts":    {"list field conflicts waiting for the operator; resolve one", cmdConflicts},
		"outbox":       {"list pending and dead-lettered writes; retry or drop them", cmdOutbox},
		"history":      {"show which rule decided each value of a record", cmdHistory},
		"quarantine":   {"list held sweeps and quarantined records; approve a held sweep", cmdQuarantine},
		"status":       {"print readiness, jobs, cursors, outbox, conflicts and quarantine", cmdStatus},
		"cluster":      {"cluster status: the replicas, the owner of each location, the moves in progress", cmdCluster},
		"run":          {"run the sync service (systemd Type=notify; SIGHUP reloads)", cmdRun},
		"demo":         {"run both simulators and a real sync in-process; --once exits when in sync", cmdDemo},
		"sim":          {"run the HighLevel and PT Distinction simulators as standalone servers", cmdSim},
		"auth":         {"install ptsync in a HighLevel location (OAuth) and store the tokens", cmdAuth},
		"version":      {"print the version and exit", cmdVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches args to a sub-command and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == "--version" || args[0] == "-version" || args[0] == "-v" {
		return cmdVersion(ctx, nil, stdout, stderr)
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		if strings.HasPrefix(args[0], "-") {
			fmt.Fprintf(stderr, "ptsync: unknown flag %q: flags follow the command (run 'ptsync help' for the commands)\n", args[0])
		} else {
			fmt.Fprintf(stderr, "ptsync: unknown command %q (run 'ptsync help' for the list)\n", args[0])
		}
		return exitUsage
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ptsync <command> [flags]")
	fmt.Fprintln(w)
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, cmds[n].summary)
	}
}
