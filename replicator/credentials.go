package replicator

import (
	"errors"

	"ptsync/apiclient/ghl"
	"ptsync/apiclient/ptd"
	"ptsync/config"
	"ptsync/metrics"
)

// credentialProbe names the side whose credentials a success of job proves good: the jobs
// that call that side on every run. Other jobs may succeed without a call (nothing to do),
// so their success proves nothing.
func credentialProbe(job string) (reason string, ok bool) {
	switch job {
	case config.JobContacts, config.JobSweep:
		return metrics.NotReadyGHLCredentials, true
	case config.JobPTD:
		return metrics.NotReadyPTDCredentials, true
	}
	return "", false
}

// credentialRejection names the readiness reason err proves, with the operator's sentence,
// or "" when err is not a rejected credential.
func credentialRejection(err error) (reason, why string) {
	switch {
	case errors.Is(err, ghl.ErrInvalidGrant), errors.Is(err, ghl.ErrNoToken):
		return metrics.NotReadyGHLCredentials, "HighLevel refuses the stored authorization; run `ptsync auth`: " + err.Error()
	case errors.Is(err, ghl.ErrClientRejected):
		return metrics.NotReadyGHLCredentials, "HighLevel rejects the OAuth client credentials; fix ghl.oauth client_id/client_secret and restart: " + err.Error()
	case errors.Is(err, ghl.ErrUnauthorized):
		return metrics.NotReadyGHLCredentials, "HighLevel rejects ptsync's token (a refresh did not help); run `ptsync auth` or replace the private token: " + err.Error()
	case errors.Is(err, ptd.ErrUnauthorized):
		return metrics.NotReadyPTDCredentials, "PT Distinction rejects ptsync's credentials; fix the ptd API key or secret and restart: " + err.Error()
	}
	return "", ""
}

// credentialOutcome updates readiness from one finished run of job: a rejected credential
// makes its side not ready; a success of a job that calls that side makes it ready again.
func (s *Service) credentialOutcome(job string, err error) {
	if err == nil {
		if reason, ok := credentialProbe(job); ok {
			s.notReady.clear(reason)
		}
		return
	}
	if reason, why := credentialRejection(err); reason != "" {
		s.notReady.set(reason, why)
	}
}
