package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"ptsync/replicator"
	"ptsync/replicator/reconcile/ptdpoll"
	"ptsync/store"
)

// cmdStatus prints the sync's health: from the running service when it holds the mirror
// (readiness, jobs and the mirror's figures), else from the mirror alone, read offline.
// Each cursor is shown beside the time now, so a cursor stuck or running ahead stands out.
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runStatus(ctx, args, stdout, stderr, time.Now)
}

// runStatus is `ptsync status` reading the mirror offline at the time now returns.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer, now func() time.Time) int {
	fs := newFlagSet("status", stderr, "usage: ptsync status [--db PATH] [--json]",
		"prints readiness, jobs, cursors, outbox, conflicts and quarantine of a mirror")
	db := dbFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := parseFlags(fs, args, stderr, 0); !ok {
		return code
	}
	path := dbPath(*db)
	m, err := openMirror(ctx, path, false)
	if err != nil {
		return fail(stderr, "status", err, exitForMirror(err))
	}
	defer m.Close()
	var st replicator.Status
	var online bool
	if m.remote != nil {
		online = true
		err = remoteErr(m, m.remote.Call(ctx, "GET", "/admin/status", nil, &st))
	} else {
		err = m.db.View(func(tx *store.Tx) error {
			st.Mirror, err = tx.Status(now())
			return err
		})
	}
	if err != nil {
		return fail(stderr, "status", err, exitFor(err))
	}
	disk := diskBeside(path)
	if *asJSON {
		if !online {
			return writeJSON(stdout, stderr, struct {
				Mirror store.MirrorStatus `json:"mirror"`
				Disk   *mirrorDisk        `json:"disk,omitempty"`
			}{st.Mirror, disk})
		}
		return writeJSON(stdout, stderr, struct {
			replicator.Status
			Disk *mirrorDisk `json:"disk,omitempty"`
		}{st, disk})
	}
	printStatus(stdout, path, st, online)
	if disk != nil {
		fmt.Fprintf(stdout, "\ndisk      %s\n", disk)
	}
	return exitOK
}

// mirrorDisk is the room beside a mirror: what a full disk would stop (docs/operations.md
// gives the space a mirror needs per contact).
type mirrorDisk struct {
	store.DiskSpace
	MirrorBytes int64 `json:"mirrorBytes"`
}

func (d *mirrorDisk) String() string {
	return fmt.Sprintf("%s free of %s in %s (the mirror file is %s)", store.HumanBytes(d.Free), store.HumanBytes(d.Total),
		d.Dir, store.HumanBytes(uint64(max(d.MirrorBytes, 0))))
}

// diskBeside reads the free space of the filesystem holding path; nil when it cannot be read
// (the figure is a help, not the command's point).
func diskBeside(path string) *mirrorDisk {
	sp, err := store.SpaceBeside(path)
	if err != nil {
		return nil
	}
	d := &mirrorDisk{DiskSpace: sp}
	if fi, err := os.Stat(path); err == nil {
		d.MirrorBytes = fi.Size()
	}
	return d
}

// printStatus writes st as the text of `ptsync status`; online says whether the service's
// part is there (offline, only the mirror's figures are).
func printStatus(w io.Writer, path string, st replicator.Status, online bool) {
	ms, now := st.Mirror, st.Mirror.Now
	if online {
		sv := st.Service
		state := "ready"
		if !sv.Ready {
			state = "not ready: " + sv.NotReady
		}
		if sv.ReadOnly {
			state += " (read-only: nothing is written to HighLevel)"
		}
		fmt.Fprintf(w, "service   pid %d, version %s, %s\n", sv.PID, sv.Version, state)
	} else {
		fmt.Fprintln(w, "service   not running (the mirror was read offline)")
	}
	fmt.Fprintf(w, "mirror    %s\n", path)
	fmt.Fprintf(w, "now       %s\n", ts(now))
	fmt.Fprintf(w, "outbox    %d pending, %d dead", ms.Outbox.Depth, ms.Outbox.Dead)
	if ms.Outbox.Depth > 0 {
		fmt.Fprintf(w, " (oldest %s old)", age(now, ms.Outbox.Oldest))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "conflicts %d open\n", ms.Conflicts)
	fmt.Fprint(w, "quarantine")
	if len(ms.Quarantine) == 0 {
		fmt.Fprint(w, " none")
	}
	for _, q := range ms.Quarantine {
		fmt.Fprintf(w, " %s/%s %d", q.Kind, q.Side, q.Count)
	}
	fmt.Fprintln(w)
	printHeldSweeps(w, ms.HeldSweeps)
	printBulk(w, ms.Bulk)
	if online && st.Service.PTDChildren != nil {
		printPTDChildrenLag(w, *st.Service.PTDChildren)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CURSOR\tTHROUGH\tBEHIND NOW\tUPDATED")
	for _, c := range ms.Cursors {
		through, behind := "-", "-"
		if !c.Through.IsZero() {
			through, behind = ts(c.Through), age(now, c.Through)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, through, behind, ts(c.UpdatedAt))
	}
	_ = tw.Flush()
	if !online {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tLAST RUN\tLAST OK\tERRORS IN A ROW\tLAST ERROR")
	for _, j := range st.Service.Jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", j.Name, ts(j.LastRun), ts(j.LastOK), j.Consecutive, dash(j.LastError))
	}
	_ = tw.Flush()
}

// age is how long before now t was, rounded to the second; a t after now reads "ahead by …",
// which for a cursor means it would skip the changes made until then.
func age(now, t time.Time) string {
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		return "ahead by " + (-d).String()
	}
	return d.String()
}

// printHeldSweeps writes one line per sweep held as suspect (nothing when none is).
func printHeldSweeps(w io.Writer, held []store.HeldSweepStatus) {
	for _, h := range held {
		fmt.Fprintf(w, "held      sweep %s since %s (%d in a row): %s; %d of %d mirrored missing, %d listed; release: ptsync quarantine approve %s\n",
			h.ID, ts(h.At), h.Sweeps, h.Reason, h.Missing, h.Mirrored, h.Listed, h.ID)
	}
}

// printBulk writes what is left of a first sync's bulk load (nothing once it completed).
func printBulk(w io.Writer, bs *store.BulkState) {
	if bs == nil {
		return
	}
	fmt.Fprintf(w, "bulk load %d contacts staged, not yet queryable; indexes being built: %v (index queries scan meanwhile)\n", bs.Staged, bs.Building)
}

// printPTDChildrenLag writes how late a coach's new task in PT Distinction can reach the
// mirror: PTD reports no task changes, so the children rotation is what finds it.
func printPTDChildrenLag(w io.Writer, l ptdpoll.ChildrenLag) {
	fmt.Fprintf(w, "ptd tasks a coach's new task or note reaches the mirror within %s (ptd.children_period %s + the rotation %s behind)\n",
		l.MaxAge().Round(time.Second), l.Period(), l.Behind().Round(time.Second))
}
