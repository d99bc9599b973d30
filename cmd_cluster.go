package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"ptsync/cluster"
)

func cmdCluster(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "status" {
		args = args[1:] // status is the only view, and the default
	}
	return clusterStatus(ctx, args, stdout, stderr, os.Getenv)
}

// clusterStatus prints the members, the owner of each held location and the moves in
// progress, read from etcd with the configuration's cluster block. It writes nothing to etcd.
// Without a cluster block it is a usage error (exit 2): this ptsync runs alone.
func clusterStatus(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newFlagSet("cluster", stderr, "usage: ptsync cluster [status] [--config PATH] [--json]")
	path := configFlag(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if code, ok := parseNoArgs(fs, args, stderr, true); !ok {
		return code
	}
	cfg, file, ok := loadConfig(*path, getenv, stderr)
	if !ok {
		return exitUsage
	}
	if cfg.Cluster == nil {
		return fail(stderr, "cluster status", fmt.Errorf("%s has no cluster block: this ptsync runs alone", file), exitUsage)
	}
	c := cfg.Cluster
	var files cluster.TLSFiles
	if c.TLS != nil {
		files = cluster.TLSFiles{CAFile: c.TLS.CAFile, CertFile: c.TLS.CertFile, KeyFile: c.TLS.KeyFile}
	}
	cli, err := cluster.Connect(ctx, c.Endpoints, files, 5*time.Second)
	if err != nil {
		return fail(stderr, "cluster status", err, exitFailure)
	}
	defer cli.Close()
	// The ids whose moves can be judged: every held location and the configured one. A
	// location nobody holds and this file does not name cannot be seen from here.
	ids := []string{}
	if cfg.GHL.LocationID != "" {
		ids = append(ids, cfg.GHL.LocationID)
	}
	st, err := cluster.ReadStatus(ctx, cli, cluster.DefaultPrefix, nil)
	if err == nil {
		for id := range st.Owners {
			if id != cfg.GHL.LocationID {
				ids = append(ids, id)
			}
		}
		st, err = cluster.ReadStatus(ctx, cli, cluster.DefaultPrefix, ids)
	}
	if err != nil {
		return fail(stderr, "cluster status", err, exitFailure)
	}
	if *asJSON {
		return writeJSON(stdout, stderr, st)
	}
	return printClusterStatus(stdout, stderr, st)
}

func printClusterStatus(stdout, stderr io.Writer, st cluster.Status) int {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "members (%d)\n", len(st.Members))
	for _, m := range st.Members {
		fmt.Fprintf(tw, "  %s\tlease %s\n", m.Name, m.Lease)
	}
	ids := make([]string, 0, len(st.Owners))
	for id := range st.Owners {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintf(tw, "owners (%d)\n", len(ids))
	for _, id := range ids {
		fmt.Fprintf(tw, "  %s\t%s\n", id, st.Owners[id])
	}
	fmt.Fprintf(tw, "moves in progress (%d)\n", len(st.Moves))
	for _, m := range st.Moves {
		from := m.From
		if from == "" {
			from = "(nobody)"
		}
		fmt.Fprintf(tw, "  %s\t%s -> %s\n", m.Location, from, m.To)
	}
	if err := tw.Flush(); err != nil {
		return fail(stderr, "cluster status", fmt.Errorf("cannot write status: %w", err), exitFailure)
	}
	return exitOK
}
