package replicator

import (
	"context"

	"ptsync/apiclient/ptd"
	"ptsync/config"
	"ptsync/metrics"
	"ptsync/replicator/reconcile"
)

// BuildTwoWay builds the reconcile side for a service (Options.BuildTwoWay): the PTD adapter
// of the configured driver (opened through Options.PTDDrivers, so its capabilities are known)
// and a reconcile.Engine over the service's store and HighLevel client, whose PollPTD,
// Reconcile, Push and Reminders become the ptd, reconcile, push and reminders jobs. A driver
// that receives PTD's own events (zapier with a trigger secret) gets them from the webhook
// listener at /webhooks/ptd.
func BuildTwoWay(s *Service) (TwoWay, error) {
	cfg := s.Config()
	log := s.log.Named("ptd")
	drivers := s.opts.PTDDrivers
	adapter, err := drivers.Open(s.runCtx, cfg.PTD, ptd.Deps{Logger: log, Clock: s.now, Observer: s.m.PTDObserver()})
	if err != nil {
		return TwoWay{}, err
	}
	if ol, ok := adapter.(ptd.OperationLister); ok {
		s.ptdOps = ol.Operations()
	}
	eng, err := reconcile.New(reconcile.Options{Store: s.db, GHL: s.client, PTD: adapter, Config: cfg,
		Metrics: s.m, Logger: s.log.Named("reconcile"), Now: s.now, ReadOnly: s.readOnly})
	if err != nil {
		return TwoWay{}, err
	}
	s.engine = eng
	h, err := drivers.Receiver(cfg.PTD, ptd.Inbound{Handle: eng.HandleEvent, Logger: log,
		Count: func(r string) { s.m.WebhookReceived(metrics.UpstreamPTD, metrics.SchemeSharedSecret, triggerResult(r)) }})
	if err != nil {
		return TwoWay{}, err
	}
	s.ptdTrigger = h
	return TwoWay{
		PollPTD: func(ctx context.Context) error {
			_, err := eng.PollPTD(ctx)
			return err
		},
		Reconcile: func(ctx context.Context) error {
			_, err := eng.Reconcile(ctx)
			return err
		},
		Push: func(ctx context.Context) error {
			_, err := eng.Push(ctx)
			return err
		},
		Reminders: func(ctx context.Context) error {
			if !cfg.Reminders.Enabled {
				return nil
			}
			_, err := eng.Reminders(ctx)
			return err
		},
		SweepPTD: func(ctx context.Context) error {
			st, err := eng.SweepPTD(ctx)
			if err == nil && !st.Skipped && !st.Held { // a held sweep has said so in its own ERROR line
				s.log.Info("ptd sweep complete", "job", config.JobPTDSweep, "pages", st.Pages, "clients", st.Seen,
					"quarantined", st.Quarantined, "released", st.Released)
			}
			return err
		},
	}, nil
}
