package reconcile

import (
	"strings"

	"ptsync/config"
	"ptsync/diff"
	"ptsync/replicator/reconcile/kinds"
	"ptsync/replicator/reconcile/outbox"
	"ptsync/store"
)

// The label values the engine reports, listed so the service can export them at zero before
// the first reconcile and push (see metrics.Metrics.DeclarePushOps and DeclareDecisionRules).
// A value added to the engine and not here still counts; it only appears with its first event.

// PushOps returns the outbox operations pushed to target (store.SideGHL or store.SidePTD), the
// op label of ptsync_pushes_total.
// The child kinds' ops come from DefaultChildKinds.
func PushOps(target string) []string {
	children := kinds.PushOps(kinds.DefaultChildKinds(), target)
	switch target {
	case store.SideGHL:
		return append(append([]string{outbox.OpContactCreate, outbox.OpContactUpdate}, children...), outbox.OpDeletePolicy)
	case store.SidePTD:
		return append(append([]string{outbox.OpClientCreate, outbox.OpClientUpdate, outbox.OpClientRoute, outbox.OpReminder}, children...), outbox.OpDeletePolicy)
	}
	return nil
}

// DecisionRules returns the rule label values of ptsync_reconcile_decisions_total: every
// diff.Reason plus the engine's own history rules, with dashes as underscores.
func DecisionRules() []string {
	var out []string
	for _, r := range diff.Reasons() {
		out = append(out, decisionLabel(string(r)))
	}
	out = append(out, "create", "route", "surface", "deleted")
	for _, p := range []string{config.DeleteIgnore, config.DeletePrintOnly, config.DeleteTag, config.DeleteDelete} {
		out = append(out, decisionLabel("delete-"+p))
	}
	return out
}

// decisionLabel is the rule label of a history rule.
func decisionLabel(rule string) string { return strings.ReplaceAll(rule, "-", "_") }
