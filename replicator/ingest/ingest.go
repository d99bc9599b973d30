package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ghlwire"
	"ptsync/config"
	"ptsync/diff"
	"ptsync/metrics"
	"ptsync/replicator/sweepguard"
	"ptsync/store"
)

// Cursor names this package keeps in the store.
const (
	// CursorSearch is the incremental search position: Through is the greatest dateUpdated
	// read, but never later than the signpost of the answer that carried it (the request
	// time less the overlap, see store.Signpost): a contact stamped in the future is applied
	// and re-read, it does not move the cursor.
	CursorSearch = "ghl.contacts.search"
	// CursorSweep is the position of the sweep in progress (Value: the GET /contacts/ cursor,
	// "complete" after a complete sweep).
	CursorSweep = "ghl.contacts.sweep"
	// CursorBackfill exists once the first full sync finished.
	CursorBackfill = "ghl.backfill"
)

// ErrSearchRefused: HighLevel refused POST /contacts/search (400, 422 or 403); the poller falls
// back to sweeps for SearchRetryAfter. Returned wrapped only by Search.
var ErrSearchRefused = errors.New("contact search refused by highlevel")

// Settings tune the poller. Zero fields take the defaults noted.
type Settings struct {
	SearchPageLimit int // default 500
	// SearchBatch bounds how many contacts one search transaction commits (default 500, one
	// page of the default size): pages already fetched when a commit ends share the next
	// transaction. Larger batches rewrite fewer index leaves per contact (faster, less write
	// amplification) but hold more of bbolt's copies of touched leaves in memory per commit:
	// at 100,000 contacts, 1,000 gave +18 % contacts/s and +41 % peak heap (docs/performance.md).
	SearchBatch    int
	SweepPageLimit int // default 100
	// Overlap is the re-read window before the search cursor, and how far behind the request
	// time (by HighLevel's clock) the cursor stays (store.Signpost); default 2m.
	Overlap time.Duration
	// ChildrenPeriod: every contact's children are refreshed at least this often (default 24h).
	ChildrenPeriod time.Duration
	// ChildrenInterval is how often the children job runs (from its schedule); it sets how many
	// contacts the rotating sweep takes per run. Default 5m.
	ChildrenInterval time.Duration
	// Burst and BurstInterval are the rate budget; the children job spends at most
	// ChildrenShare of what one run interval allows (default 100 per 10s, share 0.5).
	Burst         int
	BurstInterval time.Duration
	ChildrenShare float64
	// Workers fetch children concurrently (default 12) so the limiter, not latency, bounds them.
	Workers int
	// PhoneRegion reads phone numbers without a country code (default "US"); TimeZone reads
	// HighLevel's zone-less times (default UTC).
	PhoneRegion string
	TimeZone    *time.Location
	// SearchRetryAfter: after a refused search, sweeps replace it for this long (default 1h).
	SearchRetryAfter time.Duration
	// Guard bounds what one sweep (of the contacts, or of one contact's tasks and notes) may
	// quarantine before it is held as suspect (deletes.max_share, deletes.max_count).
	Guard sweepguard.Bounds
}

// SettingsFromConfig derives Settings from a validated configuration; childrenInterval is
// the gap between two runs of the children schedule.
func SettingsFromConfig(c *config.Config, childrenInterval time.Duration) Settings {
	return Settings{
		SearchPageLimit: c.GHL.SearchPageLimit, SweepPageLimit: c.GHL.SweepPageLimit,
		Overlap: c.GHL.SearchOverlap, ChildrenPeriod: c.GHL.ChildrenPeriod, ChildrenInterval: childrenInterval,
		Burst: c.GHL.Rate.Burst, BurstInterval: c.GHL.Rate.Interval,
		PhoneRegion: c.Mapping.PhoneRegion, TimeZone: c.Mapping.Location,
		Guard: sweepguard.BoundsFrom(c.Deletes),
	}
}

func (s Settings) withDefaults() Settings {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&s.SearchPageLimit, 500)
	def(&s.SweepPageLimit, 100)
	def(&s.SearchBatch, 500)
	def(&s.Burst, 100)
	def(&s.Workers, 12)
	defDur(&s.Overlap, 2*time.Minute)
	defDur(&s.ChildrenPeriod, 24*time.Hour)
	defDur(&s.ChildrenInterval, 5*time.Minute)
	defDur(&s.BurstInterval, 10*time.Second)
	defDur(&s.SearchRetryAfter, time.Hour)
	if s.ChildrenShare <= 0 || s.ChildrenShare > 1 {
		s.ChildrenShare = 0.5
	}
	if s.PhoneRegion == "" {
		s.PhoneRegion = "US"
	}
	if s.TimeZone == nil {
		s.TimeZone = time.UTC
	}
	return s
}

// Options build a Poller. Store and Client are required.
type Options struct {
	Store    *store.DB
	Client   *ghl.Client
	Settings Settings
	Logger   hclog.Logger
	// Metrics may be nil (no metrics).
	Metrics *metrics.Metrics
	Now     func() time.Time
	// ChildKinds are the kinds a children refresh reads; nil means DefaultChildKinds. Each
	// must be registered in Store with a HighLevel side.
	ChildKinds []ChildKind
}

// Poller runs the HighLevel ingestion jobs against one store and one client.
type Poller struct {
	db    *store.DB
	c     *ghl.Client
	log   hclog.Logger
	m     *metrics.Metrics
	now   func() time.Time
	kinds []ChildKind

	// qmu orders snapshots of the contact quarantine (read lock) against the sweep's
	// quarantine transaction (write lock); qgen counts those transactions. A refresh compares
	// qgen with its snapshot's inside its own transaction (an atomic read: taking qmu there
	// would deadlock against a sweep waiting for the writer) to learn whether the snapshot
	// may be stale.
	qmu  sync.RWMutex
	qgen atomic.Uint64

	mu            sync.Mutex
	set           Settings
	searchRefused time.Time         // when search was last refused (zero: never)
	wantContact   map[string]string // contact id -> webhook event type: fetch the contact too
}

// New checks opts and returns a Poller; it performs no I/O.
func New(opts Options) (*Poller, error) {
	if opts.Store == nil || opts.Client == nil {
		return nil, errors.New("cannot create poller: store and client are required")
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	kinds := opts.ChildKinds
	if kinds == nil {
		kinds = DefaultChildKinds()
	}
	return &Poller{db: opts.Store, c: opts.Client, log: opts.Logger.Named("ingest"), m: opts.Metrics,
		now: opts.Now, set: opts.Settings.withDefaults(), wantContact: map[string]string{}, kinds: kinds}, nil
}

// SetSettings replaces the settings (configuration reload); runs in progress keep the old ones.
func (p *Poller) SetSettings(s Settings) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.set = s.withDefaults()
}

func (p *Poller) settings() Settings {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.set
}

// WantContact asks the next child refresh of id to fetch the contact itself as well (a
// contact webhook says it changed, and search may lag). Safe for concurrent use.
func (p *Poller) WantContact(id, event string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wantContact[id] = event
}

// wantsContact reports, without consuming it, whether a webhook asked for id to be re-read.
func (p *Poller) wantsContact(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.wantContact[id]
	return ok
}

func (p *Poller) takeWantContact(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.wantContact[id]
	delete(p.wantContact, id)
	return ok
}

// IncrementalStats reports one incremental run.
type IncrementalStats struct {
	Pages     int // search (or sweep) pages read
	Read      int // contacts returned
	Changed   int // contacts new or with a changed dateUpdated (marked dirty)
	Unchanged int // rows re-read in the overlap window, same (id, dateUpdated)
	// SweptInstead is set when search was refused and a sweep ran in its place.
	SweptInstead bool
	Through      time.Time // the cursor after the run
}

// Incremental reads contacts changed since the stored cursor (minus the overlap window)
// through POST /contacts/search and commits each page with the advanced cursor in one
// transaction. If HighLevel refuses search (400/422/403), it runs a full sweep instead and
// keeps sweeping for SearchRetryAfter before trying search again.
func (p *Poller) Incremental(ctx context.Context) (IncrementalStats, error) {
	return p.incremental(ctx, nil, false)
}

// incremental is Incremental; firstSync is passed to search (Backfill's contacts phase).
func (p *Poller) incremental(ctx context.Context, progress func(done, total int), firstSync bool) (IncrementalStats, error) {
	set := p.settings()
	p.mu.Lock()
	refused := !p.searchRefused.IsZero() && p.now().Sub(p.searchRefused) < set.SearchRetryAfter
	p.mu.Unlock()
	if !refused {
		st, err := p.search(ctx, progress, firstSync)
		if !errors.Is(err, ErrSearchRefused) {
			return st, err
		}
		p.mu.Lock()
		p.searchRefused = p.now()
		p.mu.Unlock()
		p.log.Warn("contact search refused; falling back to full sweeps", "retry_after", set.SearchRetryAfter, "error", err)
	}
	sw, err := p.sweep(ctx, progress)
	return IncrementalStats{Pages: sw.Pages, Read: sw.Seen, Changed: sw.Changed, Unchanged: sw.Seen - sw.Changed, SweptInstead: true}, err
}

// searchRefusal reports whether err is HighLevel refusing the search request itself.
func searchRefusal(err error) bool {
	var ae *ghl.APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.Status == http.StatusBadRequest || ae.Status == http.StatusUnprocessableEntity || ae.Status == http.StatusForbidden
}

// Search is the search half of Incremental without the fallback: a refusal is returned as an
// error matching ErrSearchRefused. progress, if set, gets (contacts read, total reported)
// after each committed transaction.
//
// Pages are fetched (and converted to records) by a goroutine while the previous ones are
// committed, and the pages already waiting when a commit ends go into the next transaction,
// up to Settings.SearchBatch contacts: when the mirror is slower than HighLevel (a backfill
// against a fast server) several pages share a commit, and each index leaf is rewritten once
// per transaction instead of once per page. The cursor of the last page in a transaction is
// written in that transaction, so a crash loses nothing and re-reads nothing committed. An
// error after some pages commits the pages read before it, then returns the error.
func (p *Poller) Search(ctx context.Context, progress func(done, total int)) (IncrementalStats, error) {
	return p.search(ctx, progress, false)
}

// fetchedPage is one search page converted to records, or the error that ended the walk.
type fetchedPage struct {
	recs  []store.GHLContact
	rows  int
	next  []any
	total int
	sp    store.Signpost // of the request that returned the page
	err   error
}

// search is Search; firstSync leaves new contacts without a dirty mark (see commitRecords).
func (p *Poller) search(ctx context.Context, progress func(done, total int), firstSync bool) (IncrementalStats, error) {
	set := p.settings()
	var st IncrementalStats
	through, err := p.searchThrough()
	if err != nil {
		return st, err
	}
	st.Through = through
	pages, stop := p.fetchSearchPages(ctx, searchRequest(set, through), set)
	defer stop()
	for {
		batch, n, ok := nextBatch(pages, set.SearchBatch)
		if !ok {
			return st, nil
		}
		var ferr error
		if last := batch[len(batch)-1]; last.err != nil {
			ferr, batch = last.err, batch[:len(batch)-1]
		}
		if len(batch) > 0 {
			if err := p.commitBatch(batch, n, firstSync, &st, progress); err != nil {
				return st, err
			}
		}
		if ferr != nil {
			if searchRefusal(ferr) {
				return st, fmt.Errorf("cannot search contacts: %w: %w", ErrSearchRefused, ferr)
			}
			return st, fmt.Errorf("cannot search contacts: %w", ferr)
		}
	}
}

// searchThrough reads how far the search cursor has covered (zero before the first walk).
func (p *Poller) searchThrough() (time.Time, error) {
	var through time.Time
	if err := p.db.View(func(tx *store.Tx) error {
		c, err := tx.Cursor(CursorSearch)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		through = c.Through
		return err
	}); err != nil {
		return through, fmt.Errorf("cannot read search cursor: %w", err)
	}
	return through, nil
}

// searchRequest is the incremental search: sorted on dateUpdated, from through less the
// overlap window (everything before the first walk).
func searchRequest(set Settings, through time.Time) ghlwire.SearchRequest {
	req := ghlwire.SearchRequest{
		PageLimit: set.SearchPageLimit,
		Sort:      []ghlwire.SearchSort{{Field: "dateUpdated", Direction: "asc"}},
	}
	if !through.IsZero() {
		from := through.Add(-set.Overlap)
		req.Filters = []ghlwire.SearchFilter{{Field: "dateUpdated", Operator: "range",
			Value: map[string]any{"gte": from.UTC().Format("2006-01-02T15:04:05.000Z07:00")}}}
	}
	return req
}

// fetchSearchPages walks the search on a goroutine of its own, converting each page to
// records, and hands the pages over on the channel; the walk's error is the last page sent.
// It runs ahead by at most one batch of pages: the channel bounds the memory. stop ends the
// walk and waits for the goroutine; call it once the pages are no longer read.
func (p *Poller) fetchSearchPages(ctx context.Context, req ghlwire.SearchRequest, set Settings) (pages <-chan fetchedPage, stop func()) {
	maxPages := max(1, set.SearchBatch/set.SearchPageLimit)
	fctx, cancel := context.WithCancel(ctx)
	ch := make(chan fetchedPage, maxPages)
	go func() {
		defer close(ch)
		for page, err := range p.c.SearchPages(fctx, req) {
			fp := fetchedPage{err: err}
			if err == nil {
				fp = fetchedPage{recs: p.toContacts(page.Contacts, set), rows: len(page.Contacts), next: page.Next, total: page.Total,
					sp: store.NewSignpost(page.Date, page.Sent, set.Overlap)}
			}
			select {
			case ch <- fp:
			case <-fctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ch, func() {
		cancel()
		for range ch { // let the fetcher end
		}
	}
}

// nextBatch waits for the next page and takes those already waiting behind it, up to limit
// contacts, stopping after a page that carries an error; n counts the contacts. ok is false
// once the walk has ended.
func nextBatch(pages <-chan fetchedPage, limit int) (batch []fetchedPage, n int, ok bool) {
	fp, ok := <-pages
	if !ok {
		return nil, 0, false
	}
	batch, n = append(batch, fp), len(fp.recs)
	for fp.err == nil && n < limit {
		select {
		case fp, ok = <-pages:
			if !ok {
				return batch, n, true
			}
			batch = append(batch, fp)
			n += len(fp.recs)
		default:
			return batch, n, true
		}
	}
	return batch, n, true
}

// commitBatch stores the batch's n contacts and the cursor of its last page in one
// transaction (see commitRecords) and counts them in st.
func (p *Poller) commitBatch(batch []fetchedPage, n int, firstSync bool, st *IncrementalStats, progress func(done, total int)) error {
	recs := batch[0].recs
	if len(batch) > 1 {
		recs = make([]store.GHLContact, 0, n)
		for _, b := range batch {
			recs = append(recs, b.recs...)
		}
	}
	// The newest request of the batch bounds its cursor; a contact stamped after it sorts
	// last in every later walk, so it is re-read (one row) until time catches up.
	last := batch[len(batch)-1]
	through := st.Through
	changed, unchanged, err := p.commitRecords(recs, firstSync, last.sp, func(tx *store.Tx, maxSeen time.Time) error {
		through = last.sp.Through(st.Through, maxSeen)
		return tx.SetCursor(CursorSearch, store.Cursor{Value: encodeCursor(last.next), Covers: store.GHLContacts, Through: through})
	})
	if err != nil {
		return err
	}
	for _, b := range batch {
		st.Pages++
		st.Read += b.rows
	}
	st.Changed += changed
	st.Unchanged += unchanged
	st.Through = through
	if progress != nil {
		progress(st.Read, last.total)
	}
	return nil
}

func encodeCursor(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// commitPage upserts a page of contacts and runs extra (the cursor write) in the same
// transaction (see commitRecords); our clock stands for the time of the listing request.
func (p *Poller) commitPage(rows []ghlwire.Contact, extra func(tx *store.Tx, maxSeen time.Time) error) (changed, unchanged int, err error) {
	return p.commitRecords(p.toContacts(rows, p.settings()), false, store.NewSignpost(time.Time{}, p.now(), 0), extra)
}

// toContacts converts wire contacts to records, leaving out (and logging) malformed ones.
func (p *Poller) toContacts(rows []ghlwire.Contact, set Settings) []store.GHLContact {
	now := p.now().UTC()
	recs := make([]store.GHLContact, 0, len(rows))
	for _, c := range rows {
		r, cerr := p.toContact(c, set, now)
		if cerr != nil {
			p.log.Warn("skipping malformed contact", "id", c.ID, "error", cerr)
			continue
		}
		recs = append(recs, r)
	}
	return recs
}

// commitRecords upserts contacts and runs extra (the cursor write) in one transaction. A
// row whose (id, dateUpdated) the mirror already holds is not written; a row older than the
// mirror's copy (a lagging search) is ignored, unless that copy is stamped in the future of
// sp (a wrong stamp must not shadow the contact's real edits for years). New or changed
// contacts are marked dirty so their children are refreshed first, except, when firstSync
// is set, contacts new to the mirror: the first full sync fetches the children of every
// contact never fetched, and the children index already puts them first, so the mark would
// only cost a write. Those are not put either but staged for the store's bulk load (one run
// per transaction, cursor beside it), which Backfill completes when the walk ends: random-key
// puts would rewrite a leaf of the contacts bucket and of every index per contact. A written
// contact stamped in the future of sp is counted and logged once, after the commit: its
// re-reads are unchanged rows and say nothing.
func (p *Poller) commitRecords(recs []store.GHLContact, firstSync bool, sp store.Signpost, extra func(tx *store.Tx, maxSeen time.Time) error) (changed, unchanged int, err error) {
	var future []*store.GHLContact
	err = p.db.Update(func(tx *store.Tx) error {
		changed, unchanged, future = 0, 0, future[:0]
		var maxSeen time.Time
		old := tx.WithoutRaw()
		var staged staging
		for i := range recs {
			r := &recs[i]
			if r.DateUpdated.After(maxSeen) {
				maxSeen = r.DateUpdated
			}
			prev, gerr := old.GetGHLContact(r.ID)
			isNew := errors.Is(gerr, store.ErrNotFound)
			if firstSync && isNew {
				if !staged.add(r, sp) {
					unchanged++
					continue
				}
				if sp.Future(r.DateUpdated) {
					future = append(future, r)
				}
				changed++
				continue
			}
			switch {
			case gerr == nil && mirrorCopyStands(prev.DateUpdated, r.DateUpdated, sp):
				unchanged++
				continue
			case gerr != nil && !isNew:
				return gerr
			case gerr == nil:
				r.ChildrenFetchedAt = prev.ChildrenFetchedAt
			}
			if err := tx.PutGHLContact(r); err != nil {
				return err
			}
			if !(firstSync && isNew) {
				if err := tx.MarkDirty(r.ID, "changed"); err != nil {
					return err
				}
			}
			if sp.Future(r.DateUpdated) {
				future = append(future, r)
			}
			changed++
		}
		if err := tx.StageGHLContacts(staged.rows(), sp.At); err != nil {
			return err
		}
		if extra != nil {
			return extra(tx, maxSeen)
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("cannot store contacts page: %w", err)
	}
	for _, r := range future {
		p.m.FutureTimestamp(metrics.UpstreamGHL)
		p.log.Warn("contact stamped in the future; applied, cursor held at the request time",
			"id", r.ID, "date_updated", r.DateUpdated.Format(time.RFC3339Nano), "answered_at", sp.At.Format(time.RFC3339))
	}
	return changed, unchanged, nil
}

// mirrorCopyStands reports whether a row stamped got leaves the mirror's copy stamped have
// alone: it is the same version, or an older one (a lagging search), unless the copy is
// stamped in the future of sp.
func mirrorCopyStands(have, got time.Time, sp store.Signpost) bool {
	return sp.CopyStands(have, got)
}

// toContact converts a wire contact into the mirror's record (email and phone normalized for
// the indexes; an unusable value is indexed as empty, the raw object keeps it).
func (p *Poller) toContact(c ghlwire.Contact, set Settings, now time.Time) (store.GHLContact, error) {
	if strings.TrimSpace(c.ID) == "" {
		return store.GHLContact{}, errors.New("contact has no id")
	}
	email, _ := diff.Email(c.Email)
	phone := ""
	if c.Phone != "" {
		phone, _ = diff.Phone(c.Phone, set.PhoneRegion)
	}
	r := store.GHLContact{
		ID: c.ID, Email: email, Phone: phone, FirstName: c.FirstName, LastName: c.LastName,
		Tags: diff.Tags(c.Tags), Raw: c.Raw, FetchedAt: now,
	}
	r.DateAdded, _ = parseTime(c.DateAdded, set.TimeZone)
	r.DateUpdated, _ = parseTime(c.DateUpdated, set.TimeZone)
	if r.Raw == nil {
		r.Raw, _ = json.Marshal(c)
	}
	return r, nil
}

// parseTime reads HighLevel's times: RFC 3339 (with or without fraction) or the zone-less
// "2006-01-02 15:04:05" in loc. Empty is the zero time.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot parse time %q", s)
}
