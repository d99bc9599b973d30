package ptd_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/config"
	"ptsync/sim/ptdsim"
)

// TestDriversMatchConfigBlocks: every driver name config.hcl accepts has a driver, and every
// driver has a block package config decodes.
func TestDriversMatchConfigBlocks(t *testing.T) {
	if got, want := ptd.Drivers().Names(), config.PTDDrivers(); !slices.Equal(got, want) {
		t.Fatalf("ptd.Drivers() = %q, config decodes blocks for %q", got, want)
	}
}

// parsePTD parses a minimal configuration whose ptd block is ptdBlock.
func parsePTD(t *testing.T, ptdBlock string, vars map[string]string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	vars["GHL_PIT"] = "pit-0123456789"
	src := `ghl {
  location_id   = "loc"
  private_token = env("GHL_PIT")
}
` + ptdBlock + `
store { path = "` + filepath.Join(dir, "m.db") + `" }
webhooks { listen = "127.0.0.1:0" }
`
	cfg, err := config.Parse([]byte(src), filepath.Join(dir, "c.hcl"), config.Env{
		LookupEnv: func(n string) (string, bool) { v, ok := vars[n]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestDeclaredCapabilitiesMatchTheOpenedDriver: what `ptsync plan` assumes a driver can do
// (DeclaredCapabilities, from the configuration alone) is what the driver, once opened
// against its upstream, says it can do; and the driver lists its operation labels.
func TestDeclaredCapabilitiesMatchTheOpenedDriver(t *testing.T) {
	sim := ptdsim.New(ptdsim.Options{APIKey: "rest-key-123"})
	rest := httptest.NewServer(sim.Handler())
	t.Cleanup(rest.Close)
	hooks := httptest.NewServer(ptdsim.NewZapierRecorder(ptdsim.ZapierOptions{Apply: sim}).Handler())
	t.Cleanup(hooks.Close)
	for _, tc := range []struct {
		name, block string
		vars        map[string]string
		want        ptd.Capabilities
	}{
		{"rest", `ptd {
  driver = "rest"
  rest {
    base_url = env("URL")
    api_key  = env("KEY")
  }
}`, map[string]string{"URL": rest.URL, "KEY": "rest-key-123"}, ptd.FromWire(ptdwire.Capabilities{Clients: true, Groups: true,
			Packages: true, Access: true, Tags: true, Tasks: true, Notes: true, Appointments: true, Reminders: true, UpdateEvents: true})},
		{"zapier with two hooks", `ptd {
  driver = "zapier"
  zapier {
    add_client = env("ADD")
    print_only = env("PRINT")
  }
}`, map[string]string{"ADD": ptdsim.HookURL(hooks.URL, ptdwire.ZapierAddClient), "PRINT": ptdsim.HookURL(hooks.URL, ptdwire.ZapierPrintOnly)},
			ptd.NewCapabilities(ptd.CapClientCreate, ptd.CapPrintOnly)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parsePTD(t, tc.block, tc.vars)
			declared := ptd.DeclaredCapabilities(cfg.PTD)
			if declared != tc.want {
				t.Errorf("declared %s, want %s", declared, tc.want)
			}
			a, err := ptd.Open(context.Background(), cfg.PTD, ptd.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Capabilities(); got != declared {
				t.Errorf("opened driver declares %s, the configuration %s", got, declared)
			}
			ol, ok := a.(ptd.OperationLister)
			if !ok || len(ol.Operations()) == 0 {
				t.Errorf("%T lists no operations", a)
			}
		})
	}
}

// TestRegistryWithLeavesTheReceiverAlone: a test's extra driver never reaches the production
// list, and an unknown name is an error that says so.
func TestRegistryWithLeavesTheReceiverAlone(t *testing.T) {
	prod := ptd.Drivers()
	extra := prod.With(ptd.Driver{Name: "extra", Declared: func(config.PTD) ptd.Capabilities { return ptd.NewCapabilities(ptd.CapNotes) }})
	if slices.Contains(prod.Names(), "extra") || slices.Contains(ptd.Drivers().Names(), "extra") {
		t.Fatalf("With changed the production list: %q", prod.Names())
	}
	if got, err := extra.Declared(config.PTD{Driver: "extra"}); err != nil || !got.Has(ptd.CapNotes) {
		t.Fatalf("extra declares %s, %v", got, err)
	}
	again := extra.With(ptd.Driver{Name: "extra", Declared: func(config.PTD) ptd.Capabilities { return ptd.NewCapabilities() }})
	if n := len(again.Names()); n != len(extra.Names()) {
		t.Fatalf("a driver of the same name was added, not replaced: %q", again.Names())
	}
	if _, err := prod.Open(context.Background(), config.PTD{Driver: "extra"}, ptd.Deps{}); !errors.Is(err, ptd.ErrUnknownDriver) {
		t.Fatalf("opening an unregistered driver: %v, want ErrUnknownDriver", err)
	}
}

// TestReceiverOnlyWhenConfigured: the zapier driver receives PTD's triggers only with a
// trigger secret; the rest driver receives none.
func TestReceiverOnlyWhenConfigured(t *testing.T) {
	in := ptd.Inbound{Handle: func(context.Context, ptd.Event) error { return nil }}
	hook := map[string]string{"ADD": "https://hooks.example.com/add", "TRIG": "a-long-enough-shared-secret"}
	for _, tc := range []struct {
		name, block string
		want        bool
	}{
		{"zapier with trigger secret", `ptd {
  driver = "zapier"
  zapier {
    add_client     = env("ADD")
    trigger_secret = env("TRIG")
  }
}`, true},
		{"zapier without", `ptd {
  driver = "zapier"
  zapier { add_client = env("ADD") }
}`, false},
		{"rest", `ptd {
  driver = "rest"
  rest {
    base_url = "http://127.0.0.1:1"
    api_key  = env("TRIG")
  }
}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ptd.Drivers().Receiver(parsePTD(t, tc.block, hook).PTD, in)
			if err != nil || (h != nil) != tc.want {
				t.Fatalf("receiver %v (%v), want one: %v", h, err, tc.want)
			}
		})
	}
}
