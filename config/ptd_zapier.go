package config

import (
	"net/url"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// DriverZapier names the zapier driver: PTD's Zapier actions and triggers.
const DriverZapier = "zapier"

// PTDZapier is the zapier driver's block (ptd { zapier { ... } }). The hook URLs are secrets:
// anyone holding one can run the action. A zero hook means the matching capability is absent.
type PTDZapier struct {
	AddClient     Secret
	AddToGroup    Secret
	AssignPackage Secret
	PrintOnly     Secret
	Reminder      Secret
	// TriggerSecret authenticates PTD triggers posted to the webhooks listener; zero disables them.
	TriggerSecret Secret
	Timeout       time.Duration
}

// DriverName implements PTDSettings.
func (*PTDZapier) DriverName() string { return DriverZapier }

// Zapier returns the zapier driver's block, or nil when another driver is configured.
func (p PTD) Zapier() *PTDZapier {
	z, _ := p.Settings.(*PTDZapier)
	return z
}

// Zapier registers the zapier driver's block (see ptdBlockFiles).
func (ptdBlockFiles) Zapier() ptdDriverBlock {
	return ptdDriverBlock{name: DriverZapier, needs: "with at least add_client", decode: decodeZapierBlock, check: checkZapier}
}

func decodeZapierBlock(d *decoder, b *hcl.Block) PTDSettings {
	zc := d.content(b.Body, &hcl.BodySchema{Attributes: required(
		attrs("add_client", "add_to_group", "assign_package", "print_only", "reminder", "trigger_secret", "timeout"), "add_client")})
	z := &PTDZapier{Timeout: 30 * time.Second}
	for name, dst := range map[string]*Secret{
		"add_client": &z.AddClient, "add_to_group": &z.AddToGroup, "assign_package": &z.AssignPackage,
		"print_only": &z.PrintOnly, "reminder": &z.Reminder,
	} {
		if a := d.secret(zc.Attributes, name, dst); a != nil && !dst.IsZero() {
			if u, err := url.Parse(dst.Reveal()); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
				// The value is a secret: say what is wrong without echoing it.
				d.errorAt(a.Expr.Range(), "Invalid hook URL", "%s must hold an absolute http(s) catch-hook URL (value not shown)", name)
			}
		}
	}
	d.secret(zc.Attributes, "trigger_secret", &z.TriggerSecret)
	d.duration(zc.Attributes, "timeout", time.Second, &z.Timeout)
	return z
}

// checkZapier rejects features the configured hooks cannot carry out, pointing at the
// attribute that asks for them: a route's group, package or print-only access without its
// hook, reminders without the reminder hook, a delete policy Zapier cannot apply, and
// triggers without a webhooks listener to receive them.
func checkZapier(d *decoder, cfg *Config, s PTDSettings, uses driverUses) {
	z := s.(*PTDZapier)
	where := pos(uses.block)
	need := func(a *hcl.Attribute, hook Secret, hookName, what string) {
		if a != nil && hook.IsZero() {
			d.errorAt(a.Expr.Range(), "Missing zapier hook", "driver \"zapier\" needs %s in the ptd.zapier block (at %s) to %s", hookName, where, what)
		}
	}
	for i, ra := range uses.routes {
		need(ra.group, z.AddToGroup, "add_to_group", "assign groups")
		need(ra.pkg, z.AssignPackage, "assign_package", "assign packages")
		if cfg.Routes[i].Access == "print_only" {
			need(ra.access, z.PrintOnly, "print_only", "make clients print only")
		}
	}
	if cfg.Reminders.Enabled && z.Reminder.IsZero() {
		d.errorAt(uses.reminders, "Missing zapier hook", "driver \"zapier\" needs reminder in the ptd.zapier block (at %s) to send reminders", where)
	}
	switch cfg.Deletes.Policy {
	case DeletePrintOnly:
		need(uses.deletePolicy, z.PrintOnly, "print_only", "apply the print_only delete policy")
	case DeleteTag, DeleteDelete:
		d.errorAt(uses.deletePolicy.Expr.Range(), "Unsupported delete policy", "driver \"zapier\" cannot tag or delete PTD clients; use policy \"ignore\" or \"print_only\"")
	}
	if !z.TriggerSecret.IsZero() && !cfg.Webhooks.Enabled {
		d.errorAt(uses.block, "Missing webhooks block", "PTD triggers (trigger_secret) are posted to the webhooks listener; add a webhooks block")
	}
}
