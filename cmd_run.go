package main

import (
	"context"
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
	fs := newFlagSet("run", stderr, "usage: ptsync run [--config PATH]")
	path := configFlag(fs)
	if code, ok := parseNoArgs(fs, args, stderr, false); !ok {
		return code
	}
	cfg, file, ok := loadConfig(*path, os.Getenv, stderr)
	if !ok {
		return exitUsage
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "ptsync", Level: cfg.Log.HCLogLevel(), JSONFormat: cfg.Log.JSON(),
		Output: stderr, TimeFormat: time.RFC3339Nano})
	if len(cfg.Warnings) > 0 {
		log.Warn("configuration warnings", "detail", config.FormatDiagnostics(cfg.Warnings))
	}
	svc, err := replicator.New(replicator.Options{Config: cfg, Logger: log, Version: buildVersion()})
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
