package ptd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/config"
	"ptsync/internal/registry"
)

// Deps are what the service lends a driver it opens; the driver does not own them. Every
// field is optional.
type Deps struct {
	// Logger is the driver's logger (the service names it "ptd"); nil discards.
	Logger hclog.Logger
	// Clock is the service's clock; nil means time.Now.
	Clock func() time.Time
	// Observer receives every call the driver makes (the service's metrics); nil discards.
	Observer Observer
}

// Inbound is where a driver hands the events PT Distinction pushes to ptsync (as opposed to
// what the replicator polls).
type Inbound struct {
	// Handle takes one event. An error tells the sender to retry later, so Handle must
	// tolerate repeats (Event.ID helps) and events delivered out of order (Event.At helps).
	Handle func(ctx context.Context, ev Event) error
	// Count receives the result of every delivery, one of the Trigger* constants. It must not
	// block; nil counts nothing.
	Count func(result string)
	// Logger receives refusals at debug level and failed handling at error level; nil discards.
	Logger hclog.Logger
}

// Driver describes and builds one PT Distinction driver. Each driver's file registers it with
// a method of driverFiles returning its Driver: adding a driver touches its own file and its
// block in package config (config/ptd_<name>.go), and no list (docs/extending.md).
type Driver struct {
	// Name is the value of driver in config.hcl's ptd block, and the name of the driver's
	// own block there (config.PTD.Settings holds it decoded).
	Name string
	// Open builds the driver from cfg and makes it ready. It fails only on settings it
	// cannot use. Failing to reach PT Distinction is not an error: it is logged and left to
	// the jobs, which retry, because PTD being down at start must not stop HighLevel ingestion.
	Open func(ctx context.Context, cfg config.PTD, deps Deps) (Adapter, error)
	// Declared is what the driver can do judging from cfg alone, without I/O: what `ptsync
	// plan` and check-config assume. An opened adapter may declare less (the rest driver
	// narrows to what GET /v1/capabilities answers), never more.
	Declared func(cfg config.PTD) Capabilities
	// Receive, when set, builds the handler of the events PT Distinction pushes through this
	// driver, mounted at /webhooks/ptd on the webhooks listener and authenticated with a
	// shared secret. It returns nil, nil when cfg enables none. A nil Receive takes none.
	Receive func(cfg config.PTD, in Inbound) (http.Handler, error)
}

// OperationLister is implemented by drivers that report their calls to an Observer:
// Operations lists every operation label they may report, so that the service declares each
// series at start (a scrape before the first call shows zeros, not nothing).
type OperationLister interface {
	Operations() []string
}

// ErrUnknownDriver: no registered driver has the configured name. config.Parse refuses
// such a file, so it means a Registry and package config disagree.
var ErrUnknownDriver = errors.New("unknown ptd driver")

// Registry is a set of drivers, by name. Drivers returns the production set. A Registry is a
// value: With returns a new one and never changes its receiver, so a test can add a driver
// without touching the production list, and nothing here is package-level state.
type Registry struct{ drivers []Driver }

// driverFiles collects the production drivers: each driver's file adds one exported method
// returning its Driver (func (driverFiles) REST() Driver in rest.go), and Drivers calls them
// all (internal/registry). A method that is not exported, or is declared on *driverFiles, is
// not collected; TestDriversMatchConfigBlocks then fails, since config decodes its block.
type driverFiles struct{}

// Drivers returns the production registry: every driver ptsync ships, ordered by name. It is
// built on every call, so a caller may extend its copy (With) without affecting another.
func Drivers() Registry {
	return Registry{drivers: registry.Collect(driverFiles{}, func(d Driver) string { return d.Name })}
}

// With returns r plus d; a driver of the same name in r is replaced.
func (r Registry) With(d Driver) Registry {
	out := Registry{drivers: slices.DeleteFunc(slices.Clone(r.drivers), func(x Driver) bool { return x.Name == d.Name })}
	out.drivers = append(out.drivers, d)
	return out
}

// Names lists the registered drivers' names in the registry's order: Drivers' by name, then
// each driver With added, in the order it was added.
func (r Registry) Names() []string {
	out := make([]string, len(r.drivers))
	for i, d := range r.drivers {
		out[i] = d.Name
	}
	return out
}

// Lookup returns the driver called name, or an error wrapping ErrUnknownDriver.
func (r Registry) Lookup(name string) (Driver, error) {
	for _, d := range r.drivers {
		if d.Name == name {
			return d, nil
		}
	}
	return Driver{}, fmt.Errorf("cannot find pt distinction driver %q: %w (known: %v)", name, ErrUnknownDriver, r.Names())
}

// Open builds and readies the driver cfg.Driver names (see Driver.Open).
func (r Registry) Open(ctx context.Context, cfg config.PTD, deps Deps) (Adapter, error) {
	d, err := r.Lookup(cfg.Driver)
	if err != nil {
		return nil, fmt.Errorf("cannot build pt distinction adapter: %w", err)
	}
	a, err := d.Open(ctx, cfg, deps)
	if err != nil {
		return nil, fmt.Errorf("cannot build pt distinction adapter: %w", err)
	}
	return a, nil
}

// Declared returns what the driver cfg.Driver names declares for cfg (see Driver.Declared).
func (r Registry) Declared(cfg config.PTD) (Capabilities, error) {
	d, err := r.Lookup(cfg.Driver)
	if err != nil {
		return Capabilities{}, err
	}
	return d.Declared(cfg), nil
}

// Receiver returns the inbound handler of the driver cfg.Driver names, or nil when the driver
// takes no inbound events or cfg enables none (see Driver.Receive).
func (r Registry) Receiver(cfg config.PTD, in Inbound) (http.Handler, error) {
	d, err := r.Lookup(cfg.Driver)
	if err != nil || d.Receive == nil {
		return nil, err
	}
	return d.Receive(cfg, in)
}

// Open builds and readies the configured production driver; see Driver.Open.
func Open(ctx context.Context, cfg config.PTD, deps Deps) (Adapter, error) {
	return Drivers().Open(ctx, cfg, deps)
}

// DeclaredCapabilities is what the configured production driver can do judging from its
// configuration alone, without I/O (see Driver.Declared); the empty set for a driver name no
// production driver has.
func DeclaredCapabilities(cfg config.PTD) Capabilities {
	caps, _ := Drivers().Declared(cfg)
	return caps
}
