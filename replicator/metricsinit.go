package replicator

import (
	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ptd"
	"ptsync/config"
	"ptsync/metrics"
	"ptsync/replicator/ingest"
	"ptsync/replicator/reconcile"
	"ptsync/store"
)

// declareMetrics exports, right after Open built everything, the label values the service
// already knows, at zero or at their current value (see metrics/declare.go): so a scrape of a
// service that has done nothing yet shows every documented family, increase() sees the first
// event, and an alert tells "none yet" from "not exported". It runs once, before the listeners
// open; it never resets a value.
func (s *Service) declareMetrics(cfg *config.Config) {
	m := s.m
	jobs := []string{jobBackfill}
	for _, sc := range cfg.Schedules {
		if j := s.jobs[sc.Job]; j != nil && j.fn != nil {
			jobs = append(jobs, sc.Job)
			m.SetSyncSchedule(sc.Job, scheduleInterval(cfg, sc.Job, s.now()))
		}
	}
	m.DeclareJobs(jobs...)
	m.DeclareLocation(cfg.GHL.LocationID, false)
	ghlObs := m.GHLObserver()
	ghlObs.DeclareOperations(ghl.Operations(cfg.GHL.OAuth != nil)...)
	ghlObs.DeclareBreaker(metrics.UpstreamGHL, s.client.BreakerState())
	m.DeclareChildRefreshes(ingest.ChildLabels(ingest.DefaultChildKinds()), []string{ingest.ReasonDirty, ingest.ReasonSweep})
	if s.engine != nil {
		for _, target := range []string{store.SideGHL, store.SidePTD} {
			m.DeclarePushOps(target, reconcile.PushOps(target)...)
		}
		m.DeclareDecisionRules(reconcile.DecisionRules()...)
		var caps []string
		for _, c := range ptd.AllCapabilities() {
			caps = append(caps, c.String())
		}
		m.DeclareCapabilities(caps...)
	}
	if s.ptdOps != nil {
		m.PTDObserver().DeclareOperations(s.ptdOps...)
	}
	if s.ptdTrigger != nil {
		m.DeclareWebhooks(metrics.UpstreamPTD, metrics.SchemeSharedSecret)
	}
	s.refreshGauges() // outbox, dead letters, conflicts and quarantine from the mirror
}

// jobBackfill is the job label of the first full sync (ptsync_sync_runs_total{sync_job}).
const jobBackfill = "backfill"

// triggerResult maps a PTD trigger's result (ptd.Trigger*) to the result label of
// ptsync_webhooks_total, so both webhook sources share one vocabulary and one alert: a wrong
// shared secret is a bad_signature, an invalid body malformed, a failed handler an error.
func triggerResult(r string) string {
	switch r {
	case ptd.TriggerAccepted:
		return metrics.WebhookAccepted
	case ptd.TriggerUnauthorized:
		return metrics.WebhookBadSignature
	case ptd.TriggerTooLarge:
		return metrics.WebhookTooLarge
	case ptd.TriggerInvalid:
		return metrics.WebhookMalformed
	}
	return metrics.WebhookError
}
