package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"

	"ptsync/internal/registry"
)

// PTD configures the PT Distinction adapter: which driver, and that driver's own block.
//
//	ptd {
//	  driver = "rest"
//	  rest { base_url = "..." api_key = env("PTD_KEY") }
//	}
//
// The block is named like the driver. Package config decodes every driver's block
// (ptd_<driver>.go, registered on ptdBlockFiles); package apiclient/ptd builds the driver from it.
type PTD struct {
	// Driver is the driver's name; Settings holds its block.
	Driver string
	// Settings is the chosen driver's decoded block, never nil in a Config returned by Parse:
	// *PTDREST for "rest", *PTDZapier for "zapier" (see the accessors REST and Zapier). A
	// block of another driver in the file is an error, so there is exactly one.
	Settings PTDSettings
	// ChildrenPeriod: every PTD client's tasks and notes are re-read at least this often (PTD
	// reports no child changes, so this is also how late a coach's task can reach HighLevel).
	// Parse sets it when the file does not: DefaultPTDChildrenPeriod, or GHL.ChildrenPeriod
	// when that is shorter. Zero (a Config built by hand) means GHL.ChildrenPeriod.
	ChildrenPeriod time.Duration
}

// DefaultPTDChildrenPeriod is ptd.children_period when the file leaves it out: a coach's new
// task reaches HighLevel within about an hour, for two PTD requests per client per hour
// (docs/config.md works out the cost).
const DefaultPTDChildrenPeriod = time.Hour

// PTDSettings is one driver's decoded block. DriverName returns the driver it configures,
// which is also the block's name.
type PTDSettings interface {
	DriverName() string
}

// ptdDriverBlock is how package config decodes one driver's block. Adding a driver adds a
// ptd_<driver>.go file with its block type and a method of ptdBlockFiles returning this
// descriptor; no list is edited.
type ptdDriverBlock struct {
	name string
	// needs finishes the sentence `driver "x" needs a x block ...` when the block is missing.
	needs string
	// decode decodes the block's body; it reports problems through d and always returns
	// settings (possibly partial), so that every diagnostic is collected in one run.
	decode func(d *decoder, b *hcl.Block) PTDSettings
	// check, when set, rejects features elsewhere in the file that the driver cannot carry
	// out, pointing at the attribute that asks for them. It runs after every block is decoded.
	check func(d *decoder, cfg *Config, s PTDSettings, uses driverUses)
}

// ptdBlockFiles collects the driver blocks: each ptd_<driver>.go adds one exported method
// returning its ptdDriverBlock (func (ptdBlockFiles) REST() ptdDriverBlock), and
// ptdDriverBlocks calls them all (internal/registry). A method that is not exported, or is
// declared on *ptdBlockFiles, is not collected: its driver name is then refused by Parse.
type ptdBlockFiles struct{}

// ptdDriverBlocks lists every driver block package config knows, ordered by name: the order
// the driver enum's diagnostic names them in.
func ptdDriverBlocks() []ptdDriverBlock {
	return registry.Collect(ptdBlockFiles{}, func(b ptdDriverBlock) string { return b.name })
}

// driverUses is where the file asks for something a driver might lack: the driver's own
// block, each route's group/package/access, the reminders block and the delete policy.
type driverUses struct {
	block        hcl.Range
	routes       []routeAttrs
	reminders    hcl.Range
	deletePolicy *hcl.Attribute
}

// decodePTD decodes the ptd block and returns the chosen driver block's range (zero when
// absent), which the driver's check cites.
func (d *decoder) decodePTD(b *hcl.Block, cfg *Config) hcl.Range {
	drivers := ptdDriverBlocks()
	names := make([]string, len(drivers))
	blocks := make([]hcl.BlockHeaderSchema, len(drivers))
	for i, db := range drivers {
		names[i], blocks[i] = db.name, hcl.BlockHeaderSchema{Type: db.name}
	}
	c := d.content(b.Body, &hcl.BodySchema{
		Attributes: required(attrs("driver", "children_period"), "driver"),
		Blocks:     blocks,
	})
	d.enum(c.Attributes, "driver", &cfg.PTD.Driver, names...)
	d.duration(c.Attributes, "children_period", time.Minute, &cfg.PTD.ChildrenPeriod)
	// Every block present is decoded, the chosen one or not, so its own mistakes show too.
	found := make([]*hcl.Block, len(drivers))
	var chosen hcl.Range
	for i, db := range drivers {
		if found[i] = d.single(c, db.name); found[i] == nil {
			continue
		}
		s := db.decode(d, found[i])
		if db.name == cfg.PTD.Driver {
			cfg.PTD.Settings, chosen = s, found[i].DefRange
		}
	}
	for i, db := range drivers {
		if db.name == cfg.PTD.Driver && found[i] == nil {
			d.errorAt(b.DefRange, "Missing "+db.name+" block", "driver %q needs a %s block %s", db.name, db.name, db.needs)
		}
	}
	for i, db := range drivers {
		if db.name != cfg.PTD.Driver && found[i] != nil && cfg.PTD.Driver != "" {
			d.errorAt(found[i].DefRange, "Unused "+db.name+" block", "the %s block is only used with driver = %q", db.name, db.name)
		}
	}
	return chosen
}

// checkDriver runs the chosen driver's check, if it has one and its block was decoded.
func (d *decoder) checkDriver(cfg *Config, uses driverUses) {
	if cfg.PTD.Settings == nil {
		return
	}
	for _, db := range ptdDriverBlocks() {
		if db.name == cfg.PTD.Driver && db.check != nil {
			db.check(d, cfg, cfg.PTD.Settings, uses)
		}
	}
}

// PTDDrivers lists the driver names whose block package config decodes, in order. Package
// apiclient/ptd registers a driver for each (its tests check that the two lists agree).
func PTDDrivers() []string {
	var out []string
	for _, db := range ptdDriverBlocks() {
		out = append(out, db.name)
	}
	return out
}
