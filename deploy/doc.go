// Package deploy ships the files an operator installs next to the ptsync binary: the hardened
// systemd unit, the Prometheus alert rules (with their promtool tests) and the Grafana
// dashboard. They are embedded so the binary can print or install the versions it was built
// with; the tests in this package hold them to systemd-analyze, promtool and docs/metrics.md.
package deploy

import _ "embed"

var (
	//go:embed ptsync.service
	unit string
	//go:embed alerts.yml
	alertRules string
	//go:embed grafana-dashboard.json
	dashboard string
)

// Unit returns ptsync.service, the systemd unit (install as /etc/systemd/system/ptsync.service).
func Unit() string { return unit }

// AlertRules returns alerts.yml, the Prometheus rule file.
func AlertRules() string { return alertRules }

// Dashboard returns grafana-dashboard.json, for Grafana's dashboard import.
func Dashboard() string { return dashboard }
