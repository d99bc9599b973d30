package replicator

import (
	"context"
	"fmt"
	"net/http"

	"ptsync/apiclient/ptd"
	"ptsync/config"
	"ptsync/metrics"
	"ptsync/replicator/reconcile"
)

// BuildTwoWay builds the reconcile side for a service (Options.BuildTwoWay): the PTD adapter
// of the configured driver (opened, so its capabilities are known) and a reconcile.Engine over
// the service's store and HighLevel client, whose PollPTD, Reconcile, Push and Reminders
// become the ptd, reconcile, push and reminders jobs. With the zapier driver and a trigger
// secret, PTD's triggers are accepted on the webhook listener at /webhooks/ptd.
func BuildTwoWay(s *Service) (TwoWay, error) {
	cfg := s.Config()
	log := s.log.Named("ptd")
	var adapter ptd.Adapter
	switch cfg.PTD.Driver {
	case config.DriverREST:
		r := cfg.PTD.REST
		drv, err := ptd.NewREST(ptd.RESTOptions{BaseURL: r.BaseURL, APIKey: r.APIKey,
			HTTPClient: &http.Client{Timeout: r.Timeout}, Logger: log, Clock: s.now, Observer: s.m.PTDObserver()})
		if err != nil {
			return TwoWay{}, err
		}
		adapter, s.ptdOps = drv, drv.Operations()
	case config.DriverZapier:
		z := cfg.PTD.Zapier
		drv, err := ptd.NewZapier(ptd.ZapierOptions{Hooks: ptd.ZapierHooks{
			AddClient: z.AddClient, AddToGroup: z.AddToGroup,
			AssignPackage: z.AssignPackage, PrintOnly: z.PrintOnly,
			Reminder: z.Reminder}, HTTPClient: &http.Client{Timeout: z.Timeout}, Logger: log, Observer: s.m.PTDObserver()})
		if err != nil {
			return TwoWay{}, err
		}
		adapter, s.ptdOps = drv, drv.Operations()
	default:
		return TwoWay{}, fmt.Errorf("cannot build pt distinction adapter: unknown driver %q", cfg.PTD.Driver)
	}
	if o, ok := adapter.(interface{ Open(context.Context) error }); ok {
		if err := o.Open(s.runCtx); err != nil {
			// PTD being down at start must not stop HighLevel ingestion: the jobs retry later.
			s.log.Warn("cannot reach pt distinction at start; its jobs will retry", "error", err)
		}
	}
	eng, err := reconcile.New(reconcile.Options{Store: s.db, GHL: s.client, PTD: adapter, Config: cfg,
		Metrics: s.m, Logger: s.log.Named("reconcile"), Now: s.now, ReadOnly: s.readOnly})
	if err != nil {
		return TwoWay{}, err
	}
	s.engine = eng
	if z := cfg.PTD.Zapier; z != nil && !z.TriggerSecret.IsZero() {
		h, err := ptd.NewTriggerHandler(ptd.TriggerHandlerOptions{Secret: z.TriggerSecret,
			Handle: eng.HandleTrigger, Logger: log,
			Count: func(r string) { s.m.WebhookReceived(metrics.UpstreamPTD, metrics.SchemeSharedSecret, triggerResult(r)) }})
		if err != nil {
			return TwoWay{}, err
		}
		s.ptdTrigger = h
	}
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
