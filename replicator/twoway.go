package replicator

import (
	"context"

	"ptsync/apiclient/ptd"
	"ptsync/config"
	"ptsync/metrics"
	"ptsync/replicator/reconcile"
)

// openTwoWay builds the two-way half: the PTD adapter of the configured driver (opened through
// Options.PTDDrivers, so its capabilities are known) and a reconcile.Engine over the service's
// store and HighLevel client, whose jobs twoWayJobs returns. A driver that receives PTD's own
// events (zapier with a trigger secret) gets them from the webhook listener at /webhooks/ptd.
// On error the service holds nothing of the two-way half.
func (s *Service) openTwoWay(cfg *config.Config) error {
	log := s.log.Named("ptd")
	drivers := s.opts.PTDDrivers
	adapter, err := drivers.Open(s.runCtx, cfg.PTD, ptd.Deps{Logger: log, Clock: s.now, Observer: s.m.PTDObserver()})
	if err != nil {
		return err
	}
	eng, err := reconcile.New(reconcile.Options{Store: s.db, GHL: s.client, PTD: adapter, Config: cfg,
		Metrics: s.m, Logger: s.log.Named("reconcile"), Now: s.now, ReadOnly: s.readOnly})
	if err != nil {
		return err
	}
	h, err := drivers.Receiver(cfg.PTD, ptd.Inbound{Handle: eng.HandleEvent, Logger: log,
		Count: func(r string) { s.m.WebhookReceived(metrics.UpstreamPTD, metrics.SchemeSharedSecret, triggerResult(r)) }})
	if err != nil {
		return err
	}
	if ol, ok := adapter.(ptd.OperationLister); ok {
		s.ptdOps = ol.Operations()
	}
	s.engine, s.ptdTrigger = eng, h
	return nil
}

// twoWayJobs are the engine's jobs by name; without an engine (IngestOnly) every one is nil,
// so that schedule names them among the jobs not wired. Like the engine, the jobs keep the
// configuration in force when they are built (Open): reminders stay as they started.
func (s *Service) twoWayJobs() map[string]func(ctx context.Context) error {
	eng, cfg := s.engine, s.Config()
	if eng == nil {
		return map[string]func(context.Context) error{config.JobPTD: nil, config.JobReconcile: nil, config.JobPush: nil,
			config.JobReminders: nil, config.JobPTDSweep: nil}
	}
	return map[string]func(context.Context) error{
		config.JobPTD: func(ctx context.Context) error {
			_, err := eng.PollPTD(ctx)
			return err
		},
		config.JobReconcile: func(ctx context.Context) error {
			_, err := eng.Reconcile(ctx)
			return err
		},
		config.JobPush: func(ctx context.Context) error {
			_, err := eng.Push(ctx)
			return err
		},
		config.JobReminders: func(ctx context.Context) error {
			if !cfg.Reminders.Enabled {
				return nil
			}
			_, err := eng.Reminders(ctx)
			return err
		},
		config.JobPTDSweep: func(ctx context.Context) error {
			st, err := eng.SweepPTD(ctx)
			if err == nil && !st.Skipped && !st.Held { // a held sweep has said so in its own ERROR line
				s.log.Info("ptd sweep complete", "job", config.JobPTDSweep, "pages", st.Pages, "clients", st.Seen,
					"quarantined", st.Quarantined, "released", st.Released)
			}
			return err
		},
	}
}
