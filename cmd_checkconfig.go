package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"ptsync/apiclient/ptd"
	"ptsync/config"
)

func cmdCheckConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	return checkConfig(args, stdout, stderr, os.Getenv, time.Now)
}

// checkConfig validates a configuration file: "ok" and a summary on stdout with exit 0, or every
// diagnostic on stderr with exit 2. Warnings go to stderr and do not fail the check.
func checkConfig(args []string, stdout, stderr io.Writer, getenv func(string) string, now func() time.Time) int {
	fs := newFlagSet("check-config", stderr, "usage: ptsync check-config [--config PATH] [--json]")
	path := configFlag(fs)
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	if code, ok := parseNoArgs(fs, args, stderr, true); !ok {
		return code
	}
	cfg, _, ok := loadConfig(*path, getenv, stderr)
	if !ok {
		return exitUsage
	}
	if len(cfg.Warnings) > 0 {
		fmt.Fprintln(stderr, config.FormatDiagnostics(cfg.Warnings))
	}
	s := summarize(cfg, now().UTC())
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s); err != nil {
			fmt.Fprintf(stderr, "ptsync check-config: cannot write summary: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	printSummary(stdout, s)
	return exitOK
}

// configSummary is what check-config reports about a valid file; it holds no secret.
type configSummary struct {
	OK       bool         `json:"ok"`
	File     string       `json:"file"`
	Location string       `json:"location"`
	Auth     string       `json:"auth"`
	ReadOnly bool         `json:"readOnly"`
	Driver   string       `json:"driver"`
	Store    string       `json:"store"`
	Routes   int          `json:"routes"`
	Fields   int          `json:"fields"`
	Jobs     []jobSummary `json:"jobs"`
	// WebhookKeys names each HighLevel webhook key by kind, fingerprint and the header it verifies.
	WebhookKeys []string `json:"webhookKeys,omitempty"`
}

type jobSummary struct {
	Job     string    `json:"job"`
	Spec    string    `json:"spec"`
	Default bool      `json:"default"`
	Enabled bool      `json:"enabled"`
	Why     string    `json:"disabledBecause,omitempty"`
	Next    time.Time `json:"next"`
}

func summarize(cfg *config.Config, now time.Time) configSummary {
	s := configSummary{
		OK: true, File: cfg.Filename, Location: cfg.GHL.LocationID, Auth: "private token",
		ReadOnly: cfg.GHL.ReadOnly(), Driver: cfg.PTD.Driver, Store: cfg.Store.Path,
		Routes: len(cfg.Routes), Fields: len(cfg.Mapping.Fields),
	}
	if cfg.GHL.OAuth != nil {
		s.Auth = "oauth"
	}
	for _, k := range cfg.Webhooks.GHLPublicKeys {
		s.WebhookKeys = append(s.WebhookKeys, k.String()+" verifies "+k.Header())
	}
	for _, j := range cfg.Schedules {
		js := jobSummary{Job: j.Job, Spec: j.Spec, Default: j.Default, Enabled: true, Next: j.Next(now).UTC()}
		switch {
		case j.Job == config.JobReminders && !cfg.Reminders.Enabled:
			js.Enabled, js.Why = false, "no reminders block"
		case j.Job == config.JobPTDSweep && !ptd.DeclaredCapabilities(cfg.PTD).Has(ptd.CapClientRead):
			js.Enabled, js.Why = false, "the "+cfg.PTD.Driver+" driver cannot list clients"
		}
		s.Jobs = append(s.Jobs, js)
	}
	return s
}

func printSummary(w io.Writer, s configSummary) {
	mode := "read-write"
	if s.ReadOnly {
		mode = "read-only: ptsync will never write to HighLevel"
	}
	fmt.Fprintf(w, "ok: %s\n", s.File)
	fmt.Fprintf(w, "location  %s (%s, %s)\n", s.Location, s.Auth, mode)
	fmt.Fprintf(w, "ptd       driver %s\n", s.Driver)
	fmt.Fprintf(w, "store     %s\n", s.Store)
	fmt.Fprintf(w, "mapping   %d fields, %d routes\n", s.Fields, s.Routes)
	for _, k := range s.WebhookKeys {
		fmt.Fprintf(w, "webhooks  %s\n", k)
	}
	fmt.Fprintln(w, "jobs (next run, UTC):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, j := range s.Jobs {
		next := j.Next.Format(time.RFC3339)
		if !j.Enabled {
			next = "disabled (" + j.Why + ")"
		}
		spec := j.Spec
		if j.Default {
			spec += " (default)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", j.Job, spec, next)
	}
	_ = tw.Flush()
}
