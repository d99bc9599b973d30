package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/apiclient/ghl"
	"ptsync/internal/secret"
	"ptsync/replicator/ingest"
	"ptsync/sim/ghlsim"
	"ptsync/store"
)

// unthrottled is the burst (and daily) limit an unthrottled simulator announces in its
// X-RateLimit-* headers, and the limit ptsync's limiter is given against it: the limiter
// adopts the announced shape, so announcing HighLevel's 100 would throttle the client.
const unthrottled = 1 << 30

// simOptions describe a HighLevel simulator for one benchmark.
type simOptions struct {
	seed        int64
	burstMax    int
	burstWindow time.Duration // 0: unthrottled
	latMin      time.Duration
	latMax      time.Duration
	now         func() time.Time
	bumpOnChild bool
}

// startSim starts a simulator on loopback; the caller closes it. When burstWindow is set,
// the daily window shrinks by the same factor as the burst window (10 s → burstWindow).
func startSim(o simOptions) (*ghlsim.Server, string, error) {
	lim := ghlsim.Limits{BurstMax: unthrottled, BurstInterval: 10 * time.Second, DailyMax: unthrottled, DailyInterval: 24 * time.Hour, Disabled: true}
	if o.burstWindow > 0 {
		scale := float64(o.burstWindow) / float64(10*time.Second)
		lim = ghlsim.Limits{BurstMax: o.burstMax, BurstInterval: o.burstWindow, DailyMax: 200_000,
			DailyInterval: time.Duration(float64(24*time.Hour) * scale)}
	}
	s := ghlsim.New(ghlsim.Options{Seed: o.seed, LocationID: "benchLocation0000001", Limits: lim, Now: o.now,
		ChildWritesBumpContact: o.bumpOnChild,
		Faults:                 ghlsim.Faults{LatencyMin: o.latMin, LatencyMax: o.latMax}})
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("cannot start highlevel simulator: %w", err)
	}
	return s, url, nil
}

// ptsyncSide is ptsync's ingestion stack, built exactly as the service builds it: the store,
// the HighLevel client with its limiter, and the ingest poller.
type ptsyncSide struct {
	db     *store.DB
	client *ghl.Client
	poller *ingest.Poller
}

// sideOptions describe the ptsync side of a benchmark.
type sideOptions struct {
	dbPath      string
	baseURL     string
	location    string
	token       string
	burstMax    int
	burstWindow time.Duration // the limiter's view of the burst interval (default 10 s)
	// limiterMax, when set, replaces burstMax in the limiter only (the poller's children
	// budget keeps burstMax): for unthrottled simulators.
	limiterMax int
	settings   ingest.Settings
	now        func() time.Time
	transport  http.RoundTripper
}

func openSide(o sideOptions) (*ptsyncSide, error) {
	if o.now == nil {
		o.now = time.Now
	}
	log := hclog.NewNullLogger()
	db, err := store.Open(o.dbPath, store.Options{Now: o.now, AppVersion: "bench"})
	if err != nil {
		return nil, fmt.Errorf("cannot open mirror: %w", err)
	}
	limMax := o.burstMax
	if o.limiterMax > 0 {
		limMax = o.limiterMax
	}
	lim := ghl.NewLimiter(ghl.LimiterOptions{Location: o.location, Max: limMax, DailyCap: max(limMax, 200_000), Interval: o.burstWindow,
		Clock: o.now, Logger: log})
	c, err := ghl.New(ghl.Options{BaseURL: o.baseURL, LocationID: o.location, Limiter: lim, Logger: log, Clock: o.now,
		Credentials: ghl.NewStaticSource(o.location, secret.New(o.token), nil), Transport: o.transport, Version: "bench"})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("cannot build highlevel client: %w", err)
	}
	set := o.settings
	set.Burst, set.BurstInterval = o.burstMax, o.burstWindow
	p, err := ingest.New(ingest.Options{Store: db, Client: c, Settings: set, Logger: log, Now: o.now})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("cannot build poller: %w", err)
	}
	return &ptsyncSide{db: db, client: c, poller: p}, nil
}

func (s *ptsyncSide) close() error { return s.db.Close() }
