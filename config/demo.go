package config

import (
	_ "embed"
	"errors"
	"fmt"
	"path/filepath"
)

//go:embed demo.hcl
var demoHCL []byte

// DemoOptions wires the demo configuration to simulators the caller has started.
type DemoOptions struct {
	// GHLURL and PTDURL are the base URLs of the HighLevel and PTD simulators (required).
	GHLURL, PTDURL string
	// Dir holds the demo's bbolt file (required; usually a temporary directory).
	Dir string
	// LocationID defaults to "demo-location".
	LocationID string
	// GHLToken and PTDAPIKey are the credentials the simulators accept; they default to
	// "demo-pit" and "demo-ptd-key".
	GHLToken, PTDAPIKey string
	// MetricsListen defaults to "127.0.0.1:0" (any free port).
	MetricsListen string
}

// Demo returns the configuration `ptsync demo` runs with: the embedded demo.hcl (private
// token, rest driver, schedules of a few seconds, two routes, reminders, admin on any free
// loopback port) evaluated against o. It goes through Parse, so the demo is held to the same
// validation as a production file. The error is an *Error, or a plain error for missing options.
func Demo(o DemoOptions) (*Config, error) {
	if o.GHLURL == "" || o.PTDURL == "" || o.Dir == "" {
		return nil, errors.New("cannot build demo config: GHLURL, PTDURL and Dir are required")
	}
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	vars := map[string]string{
		"DEMO_GHL_URL":        o.GHLURL,
		"DEMO_PTD_URL":        o.PTDURL,
		"DEMO_LOCATION_ID":    or(o.LocationID, "demo-location"),
		"DEMO_GHL_TOKEN":      or(o.GHLToken, "demo-pit"),
		"DEMO_PTD_API_KEY":    or(o.PTDAPIKey, "demo-ptd-key"),
		"DEMO_STORE_PATH":     filepath.Join(o.Dir, "ptsync.db"),
		"DEMO_METRICS_LISTEN": or(o.MetricsListen, "127.0.0.1:0"),
	}
	env := Env{
		LookupEnv: func(name string) (string, bool) { v, ok := vars[name]; return v, ok },
		ReadFile: func(path string) ([]byte, error) {
			return nil, fmt.Errorf("cannot read %s: the demo reads no files", path)
		},
	}
	return Parse(demoHCL, "demo.hcl", env)
}
