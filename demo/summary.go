package demo

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"ptsync/metrics"
	"ptsync/replicator/reconcile/kinds"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/store"
)

// Summary is what the demo prints after the first convergence. Counts are records
// unless noted.
type Summary struct {
	Duration, Backfill, Converge time.Duration
	// Mirror counts by collection (store.GHLContacts, ...), from the mirror's statistics.
	Mirror map[string]int
	// InHighLevel counts what the HighLevel simulator holds now, by the same collections,
	// so a reader sees the mirror matches.
	InHighLevel map[string]int
	Seeded      int // contacts seeded in HighLevel
	// Links by kind (store.Kind*) and how they were made (email, phone, created, match, ...).
	Links map[string]map[string]int
	// Pushed counts successful writes by target (store.SideGHL/SidePTD) and operation
	// (reconcile.Op*); PushFailed counts failed attempts by target.
	Pushed     map[string]map[string]int
	PushFailed map[string]int
	// Routed counts new PTD clients by route name; RouteDoes says what each route does.
	Routed    map[string]int
	RouteDoes map[string]string
	// Conflicts held for the operator, by field; DeadLetters by target; Quarantined records.
	Conflicts   map[string]int
	DeadLetters map[string]int
	Quarantined int
	// HighLevel requests the simulator received (all, and during the backfill) and its 429s.
	APICalls, BackfillCalls, RateLimited int64
	PTDRequests                          int64
	Warnings, Errors                     int64
	LogPath, MetricsURL, DBPath          string
	ConfigPath                           string
	// Example is a linked contact's email for `ptsync show contact`.
	Example string
	// Once: the demo exits after the summary (the metrics URL goes away with it, so it is
	// not printed).
	Once bool
	// Command is how the reader runs ptsync, for the "try next" lines: "go run ." when the
	// demo was started with go run, else "ptsync" (default).
	Command string
}

// Summary reads the figures from the mirror, the metrics and the simulators' counters.
func (d *Demo) Summary() Summary {
	d.mu.Lock()
	readyAt, convergedAt, backfillCalls := d.readyAt, d.convergedAt, d.backfillCalls
	d.mu.Unlock()
	now := d.opts.Now()
	if convergedAt.IsZero() {
		convergedAt = now
	}
	if readyAt.IsZero() {
		readyAt = convergedAt
	}
	c := d.GHL.Counters()
	s := Summary{Duration: convergedAt.Sub(d.started), Backfill: readyAt.Sub(d.started), Converge: convergedAt.Sub(readyAt),
		Mirror: d.Service.MirrorCounts(), InHighLevel: d.highLevelCounts(), Seeded: d.people,
		Links: map[string]map[string]int{}, Pushed: map[string]map[string]int{}, PushFailed: map[string]int{},
		Routed: map[string]int{}, RouteDoes: d.routes, Conflicts: map[string]int{}, DeadLetters: map[string]int{},
		APICalls: c.Total, BackfillCalls: backfillCalls, RateLimited: c.RateLimitedBurst + c.RateLimitedDaily,
		PTDRequests: d.PTD.Stats().TotalRequests, Warnings: d.logCount.warns.Load(), Errors: d.logCount.errorsN.Load(),
		MetricsURL: "http://" + d.Service.MetricsAddr() + "/metrics", DBPath: d.opts.DBPath, ConfigPath: d.configPath}
	if d.logFile != nil {
		s.LogPath = d.opts.LogPath
	}
	d.pushCounts(s.Pushed, s.PushFailed)
	_ = d.Service.Store().View(func(tx *store.Tx) error {
		linked := map[string]bool{}
		_ = tx.ForEachLink(func(l *store.Link) error {
			if s.Links[l.Kind] == nil {
				s.Links[l.Kind] = map[string]int{}
			}
			s.Links[l.Kind][l.MatchedBy]++
			if l.Kind == store.KindContact && l.GHLID != "" && l.PTDID != "" {
				linked[l.GHLID] = true
			}
			return nil
		})
		deadRoute := map[string]bool{}
		_ = tx.ForEachOutbox(func(e *store.OutboxEntry) error {
			if e.Dead {
				s.DeadLetters[e.Target]++
				if e.Op == outbox.OpClientRoute {
					deadRoute[e.LinkID] = true
				}
			}
			return nil
		})
		_ = tx.ForEachHistory(func(h *store.HistoryEntry) error {
			if h.Rule == "route" && h.Field == "route" && !deadRoute[h.LinkID] {
				s.Routed[h.New]++
			}
			return nil
		})
		if cs, err := tx.Conflicts("", false); err == nil {
			for _, c := range cs {
				s.Conflicts[c.Field]++
			}
		}
		if qs, err := tx.Quarantined(); err == nil {
			s.Quarantined = len(qs)
		}
		// The example: a linked contact with an email, tagged vip when there is one.
		var anyLinked string
		err := tx.ForEachGHLContact(func(c *store.GHLContact) error {
			if !linked[c.ID] || c.Email == "" {
				return nil
			}
			if anyLinked == "" {
				anyLinked = c.Email
			}
			if s.Example == "" && slices.Contains(c.Tags, "vip") {
				s.Example = c.Email
			}
			return nil
		})
		if s.Example == "" {
			s.Example = anyLinked
		}
		return err
	})
	return s
}

// highLevelCounts counts the HighLevel simulator's records by mirror collection.
func (d *Demo) highLevelCounts() map[string]int {
	out := map[string]int{}
	for _, c := range d.GHL.Contacts() {
		out[string(store.GHLContacts)]++
		out[string(store.GHLTasks)] += len(d.GHL.Tasks(c.ID))
		out[string(store.GHLNotes)] += len(d.GHL.Notes(c.ID))
		out[string(store.GHLAppointments)] += len(d.GHL.Appointments(c.ID))
	}
	return out
}

// pushCounts reads ptsync_pushes_total from the demo's registry.
func (d *Demo) pushCounts(ok map[string]map[string]int, failed map[string]int) {
	mfs, err := d.opts.Registry.Gather()
	if err != nil {
		return
	}
	for _, mf := range mfs {
		if mf.GetName() != metrics.Namespace+"_pushes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			n := int(m.GetCounter().GetValue())
			if l["result"] != metrics.ResultSuccess {
				failed[l["target"]] += n
				continue
			}
			if ok[l["target"]] == nil {
				ok[l["target"]] = map[string]int{}
			}
			ok[l["target"]][l["op"]] += n
		}
	}
}

// Print writes the summary for a person.
func (s Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "\nptsync demo: in sync after %s (backfill %s, first reconciliation %s)\n\n",
		s.Duration.Round(100*time.Millisecond), s.Backfill.Round(100*time.Millisecond), s.Converge.Round(100*time.Millisecond))
	row := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-22s %s\n", label, fmt.Sprintf(format, args...))
	}
	s.printMirrors(row)
	s.printWrites(row)
	s.printTraffic(row)
	s.printTryNext(w)
}

// summaryRow prints one labelled line of the summary.
type summaryRow func(label, format string, args ...any)

// printMirrors prints what each mirror holds, checked against HighLevel, and the links.
func (s Summary) printMirrors(row summaryRow) {
	n := func(v int) string { return thousands(int64(v)) }
	m, h := s.Mirror, s.InHighLevel
	check := "matches HighLevel"
	for _, c := range []store.Collection{store.GHLContacts, store.GHLTasks, store.GHLNotes, store.GHLAppointments} {
		if m[string(c)] != h[string(c)] {
			check = fmt.Sprintf("HighLevel holds %s %s", n(h[string(c)]), c)
			break
		}
	}
	created := s.Pushed[store.SideGHL][outbox.OpContactCreate]
	row("mirror of HighLevel", "%s contacts, %s tasks, %s notes, %s appointments (%s)",
		n(m[string(store.GHLContacts)]), n(m[string(store.GHLTasks)]), n(m[string(store.GHLNotes)]), n(m[string(store.GHLAppointments)]), check)
	if created > 0 {
		row("", "contacts: %s seeded + %s created from PTD-only clients", n(s.Seeded), n(created))
	}
	row("mirror of PTD", "%s clients, %s tasks, %s notes, %s appointments",
		n(m[string(store.PTDClients)]), n(m[string(store.PTDTasks)]), n(m[string(store.PTDNotes)]), n(m[string(store.PTDAppointments)]))
	if len(s.Links) > 0 {
		var parts []string
		for _, k := range []string{store.KindContact, store.KindTask, store.KindNote, store.KindAppointment} {
			by := s.Links[k]
			total := 0
			for _, v := range by {
				total += v
			}
			how := byLine(by, n)
			parts = append(parts, fmt.Sprintf("%s %ss%s", n(total), k, how))
		}
		row("links", "%s", strings.Join(parts, ", "))
	}
}

// printWrites prints the pushes, the routing, and what waits for the operator.
func (s Summary) printWrites(row summaryRow) {
	n := func(v int) string { return thousands(int64(v)) }
	for _, t := range []struct{ label, side string }{{"pushed to PTD", store.SidePTD}, {"pushed to HighLevel", store.SideGHL}} {
		if len(s.Pushed[t.side]) == 0 && s.PushFailed[t.side] == 0 {
			continue
		}
		row(t.label, "%s", opsLine(s.Pushed[t.side], n))
	}
	if len(s.RouteDoes) > 0 {
		total := 0
		var parts []string
		names := make([]string, 0, len(s.RouteDoes))
		for r := range s.RouteDoes {
			names = append(names, r)
		}
		sort.Strings(names)
		for _, r := range names {
			total += s.Routed[r]
			parts = append(parts, fmt.Sprintf("%s %s -> %s", r, n(s.Routed[r]), s.RouteDoes[r]))
		}
		row("routed new PTD clients", "%s: %s", n(total), strings.Join(parts, "; "))
	}
	if held := s.held(); held > 0 {
		var on []string
		for _, f := range strings.Split(byFields(s.Conflicts, n), ", ") {
			if i := strings.IndexByte(f, ' '); i > 0 {
				on = append(on, f[i+1:]+": "+f[:i])
			}
		}
		row("held for the operator", "%s conflicts (%s) - see: ptsync conflicts --db %s", n(held), strings.Join(on, ", "), s.DBPath)
	} else {
		row("held for the operator", "none")
	}
	dead := s.DeadLetters[store.SideGHL] + s.DeadLetters[store.SidePTD]
	if dead > 0 {
		row("dead-lettered writes", "%s (to PTD %s, to HighLevel %s) - see: ptsync outbox --dead --db %s",
			n(dead), n(s.DeadLetters[store.SidePTD]), n(s.DeadLetters[store.SideGHL]), s.DBPath)
	}
	if s.Quarantined > 0 {
		row("quarantined", "%s records HighLevel no longer lists", n(s.Quarantined))
	}
}

// held is how many conflicts wait for the operator.
func (s Summary) held() int {
	held := 0
	for _, v := range s.Conflicts {
		held += v
	}
	return held
}

// printTraffic prints the requests made, and where the log and the metrics are.
func (s Summary) printTraffic(row summaryRow) {
	rate := ""
	if s.Backfill > 0 && s.BackfillCalls > 0 {
		rate = fmt.Sprintf(", %.0f/s", float64(s.BackfillCalls)/s.Backfill.Seconds())
	}
	row("HighLevel API", "%s calls (backfill %s%s; since %s), 429s: %s", thousands(s.APICalls), thousands(s.BackfillCalls), rate,
		thousands(s.APICalls-s.BackfillCalls), thousands(s.RateLimited))
	row("PT Distinction API", "%s requests", thousands(s.PTDRequests))
	if s.LogPath != "" {
		row("log", "%s (%s warnings, %s errors)", s.LogPath, thousands(s.Warnings), thousands(s.Errors))
	}
	if !s.Once {
		row("metrics", "%s", s.MetricsURL)
	}
}

// printTryNext prints the commands worth running next, in the reader's words (Command).
func (s Summary) printTryNext(w io.Writer) {
	cmd := s.Command
	if cmd == "" {
		cmd = "ptsync"
	}
	fmt.Fprintln(w, "\ntry next:")
	fmt.Fprintf(w, "  %s query contacts --db %s --tag vip --where 'overdueTasks > 0'\n", cmd, s.DBPath)
	if s.Example != "" {
		fmt.Fprintf(w, "  %s show contact %s --db %s\n", cmd, s.Example, s.DBPath)
	}
	if s.ConfigPath != "" {
		fmt.Fprintf(w, "  %s plan --config %s            # what the next cycle would write\n", cmd, s.ConfigPath)
	}
	if s.held() > 0 {
		fmt.Fprintf(w, "  %s conflicts --db %s\n", cmd, s.DBPath)
	}
	fmt.Fprintf(w, "  %s status --db %s\n", cmd, s.DBPath)
	if !s.Once {
		fmt.Fprintf(w, "  curl -s %s | grep '^ptsync_'\n", s.MetricsURL)
	}
}

// byLine renders "(1,079 email, 173 phone, 909 created)", largest first.
func byLine(by map[string]int, n func(int) string) string {
	if len(by) == 0 {
		return ""
	}
	return " (" + byFields(by, n) + ")"
}

func byFields(by map[string]int, n func(int) string) string {
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if by[keys[i]] != by[keys[j]] {
			return by[keys[i]] > by[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		label := k
		if label == "" {
			label = "other"
		}
		parts = append(parts, n(by[k])+" "+label)
	}
	return strings.Join(parts, ", ")
}

// opsLine renders pushed writes by operation in a fixed, readable order.
func opsLine(ops map[string]int, n func(int) string) string {
	names := []struct{ op, label string }{
		{outbox.OpClientCreate, "new clients"}, {outbox.OpContactCreate, "new contacts"},
		{outbox.OpClientUpdate, "client updates"}, {outbox.OpContactUpdate, "contact updates"},
		{outbox.OpClientRoute, "routings"}, {kinds.OpTaskCreate, "new tasks"}, {kinds.OpTaskUpdate, "task updates"},
		{kinds.OpTaskDelete, "task deletes"}, {kinds.OpNoteCreate, "new notes"}, {kinds.OpNoteUpdate, "note updates"},
		{kinds.OpNoteDelete, "note deletes"}, {kinds.OpApptUpsert, "appointments"}, {outbox.OpReminder, "reminders"},
		{outbox.OpDeletePolicy, "delete-policy writes"},
	}
	var parts []string
	seen := map[string]bool{}
	for _, x := range names {
		seen[x.op] = true
		if ops[x.op] > 0 {
			parts = append(parts, n(ops[x.op])+" "+x.label)
		}
	}
	var rest []string
	for op, v := range ops {
		if !seen[op] && v > 0 {
			rest = append(rest, n(v)+" "+op)
		}
	}
	sort.Strings(rest)
	parts = append(parts, rest...)
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// thousands formats n with comma separators.
func thousands(v int64) string {
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
