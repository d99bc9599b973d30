package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/config"
	"ptsync/replicator"
)

// shutdownTimeout bounds graceful shutdown; systemd's TimeoutStopSec is longer.
const shutdownTimeout = 10 * time.Second

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// A second SIGTERM/SIGINT while shutting down cuts the graceful part short.
	term := make(chan os.Signal, 2)
	signal.Notify(term, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(term)
	return runService(ctx, args, stdout, stderr, hup, term)
}

// runService is `ptsync run`: the daemon. ctx is the daemon's one context (SIGTERM cancels it);
// hup delivers reload requests; term delivers signals counted during shutdown.
func runService(ctx context.Context, args []string, _, stderr io.Writer, hup, term <-chan os.Signal) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (default $PTSYNC_CONFIG or ./config.hcl)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ptsync run [--config PATH]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ptsync run: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	file := configPath(*path, os.Getenv)
	cfg, err := config.Load(file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "ptsync", Level: cfg.Log.HCLogLevel(), JSONFormat: cfg.Log.JSON(),
		Output: stderr, TimeFormat: time.RFC3339Nano})
	if len(cfg.Warnings) > 0 {
		log.Warn("configuration warnings", "detail", config.FormatDiagnostics(cfg.Warnings))
	}
	svc, err := replicator.New(replicator.Options{Config: cfg, Logger: log, Version: buildVersion(), BuildTwoWay: replicator.BuildTwoWay})
	if err != nil {
		log.Error("cannot start", "error", err)
		return exitFailure
	}
	closeSvc := func() int {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if ctx.Err() != nil {
			// The signal that canceled ctx was delivered to term too; only a second one counts.
			select {
			case <-term:
			default:
			}
		}
		go func() {
			select {
			case <-term:
				log.Warn("second signal: cutting shutdown short")
				cancel()
			case <-cctx.Done():
			}
		}()
		if err := svc.Close(cctx); err != nil {
			log.Error("shutdown incomplete", "error", err)
			return exitFailure
		}
		log.Info("stopped")
		return exitOK
	}
	if err := svc.Open(ctx); err != nil {
		log.Error("cannot start", "error", err)
		closeSvc()
		return exitFailure
	}
	log.Info("started", "version", buildVersion(), "config", file, "store", cfg.Store.Path, "metrics", svc.MetricsAddr(),
		"admin", svc.AdminAddr(), "webhooks", svc.WebhookAddr(), "read_only", svc.ReadOnly())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	for {
		select {
		case <-hup:
			next, err := config.Load(file)
			if err != nil {
				log.Error("configuration rejected; keeping the running one", "config", file, "error", err.Error())
				continue
			}
			svc.Reload(next)
		case err := <-done:
			code := closeSvc()
			if err != nil {
				log.Error("service failed", "error", err)
				return exitFailure
			}
			return code
		}
	}
}
