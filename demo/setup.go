package demo

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"ptsync/config"
	"ptsync/sim/ptdsim"
)

// demoWebhooks is the demo's webhook listener on any free loopback port, trusting a fresh
// Ed25519 key and, with withRSA, a fresh RSA-2048 key (the legacy x-wh-signature), both held
// by the returned signer.
func demoWebhooks(withRSA bool) (WebhookSigner, config.Webhooks) {
	signer := NewWebhookSigner()
	keys := []config.WebhookKey{{Key: signer.Public}}
	if withRSA {
		signer = signer.WithRSA(2048)
		keys = append(keys, config.WebhookKey{Key: signer.RSAPublic})
	}
	return signer, config.Webhooks{Enabled: true, Listen: "127.0.0.1:0", GHLPublicKeys: keys,
		ReplayWindow: 5 * time.Minute, MaxBodyBytes: 1 << 20}
}

// openLog sets opts.Logger: to the log file (LogPath) or warnings to Stderr, counting
// warnings and errors either way.
func (d *Demo) openLog() error {
	o := &d.opts
	if o.Logger != nil {
		return nil
	}
	out := io.Writer(o.Stderr)
	if o.LogPath != "" {
		f, err := os.OpenFile(o.LogPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("cannot open demo log: %w", err)
		}
		d.logFile, out = f, f
	}
	d.logCount.w = out
	o.Logger = hclog.New(&hclog.LoggerOptions{Name: "ptsync", Level: o.LogLevel, Output: d.logCount, Color: hclog.ColorOff})
	return nil
}

// levelCounter passes hclog's text output through, counting warning and error records
// (hclog writes each record with one Write).
type levelCounter struct {
	w              io.Writer
	warns, errorsN atomic.Int64
}

func (c *levelCounter) Write(p []byte) (int, error) {
	s := string(p)
	switch {
	case strings.Contains(s, "[ERROR]"):
		c.errorsN.Add(1)
	case strings.Contains(s, "[WARN]"):
		c.warns.Add(1)
	}
	return c.w.Write(p)
}

// seedRouteCatalogue adds to PTD every group and package a route names that PTD's
// catalogue lacks (compared by name, case-insensitively, as the engine resolves them), and
// describes each route for the summary.
func seedRouteCatalogue(sim *ptdsim.Sim, routes []config.Route) map[string]string {
	groups, packages := map[string]bool{}, map[string]bool{}
	for _, g := range sim.Groups() {
		groups[strings.ToLower(g.Name)] = true
	}
	for _, p := range sim.Packages() {
		packages[strings.ToLower(p.Name)] = true
	}
	desc := map[string]string{}
	for _, r := range routes {
		var what []string
		if r.Group != "" {
			if !groups[strings.ToLower(r.Group)] {
				sim.AddGroup(r.Group)
				groups[strings.ToLower(r.Group)] = true
			}
			what = append(what, fmt.Sprintf("group %q", r.Group))
		}
		if r.Package != "" {
			if !packages[strings.ToLower(r.Package)] {
				sim.AddPackage(r.Package)
				packages[strings.ToLower(r.Package)] = true
			}
			what = append(what, fmt.Sprintf("package %q", r.Package))
		}
		if r.Access != "" {
			what = append(what, strings.ReplaceAll(r.Access, "_", "-")+" access")
		}
		desc[r.Name] = strings.Join(what, " + ")
	}
	return desc
}

var envCall = regexp.MustCompile(`env\("([A-Za-z0-9_]+)"\)`)

// writeConfig writes ConfigTemplate with the running demo's values to ConfigPath. The
// configuration language refuses literal secrets, so the simulators' throwaway credentials
// go to files in a .secrets directory next to it (0700/0600) that the file() calls read.
func (d *Demo) writeConfig() error {
	o := d.opts
	if o.ConfigTemplate == nil {
		return nil
	}
	c := d.Config
	vals := map[string]string{
		"DEMO_GHL_URL": c.GHL.BaseURL, "DEMO_LOCATION_ID": c.GHL.LocationID, "DEMO_PTD_URL": c.PTD.REST().BaseURL,
		"DEMO_STORE_PATH": c.Store.Path, "DEMO_METRICS_LISTEN": "127.0.0.1:0",
	}
	secrets := map[string]struct{ file, value string }{
		"DEMO_GHL_TOKEN":   {"ghl-token", c.GHL.PrivateToken.Reveal()},
		"DEMO_PTD_API_KEY": {"ptd-api-key", c.PTD.REST().APIKey.Reveal()},
	}
	stem := strings.TrimSuffix(o.ConfigPath, ".hcl")
	secretDir := stem + ".secrets"
	if err := os.MkdirAll(secretDir, 0o700); err != nil {
		return fmt.Errorf("cannot write demo configuration: %w", err)
	}
	var missing []string
	var werr error
	text := envCall.ReplaceAllStringFunc(string(o.ConfigTemplate), func(m string) string {
		name := envCall.FindStringSubmatch(m)[1]
		if sec, ok := secrets[name]; ok {
			if err := os.WriteFile(filepath.Join(secretDir, sec.file), []byte(sec.value+"\n"), 0o600); err != nil && werr == nil {
				werr = err
			}
			return "file(" + strconv.Quote(filepath.Base(secretDir)+"/"+sec.file) + ")"
		}
		v, ok := vals[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return strconv.Quote(v)
	})
	if werr != nil {
		return fmt.Errorf("cannot write demo configuration: %w", werr)
	}
	if len(missing) > 0 {
		return fmt.Errorf("cannot write demo configuration: the template reads unknown variables %s", strings.Join(missing, ", "))
	}
	header := "# Written by `ptsync demo` for offline commands against its mirror (ptsync plan --config " + o.ConfigPath + ").\n" +
		"# The simulators it names are gone once the demo exits.\n"
	if err := os.WriteFile(o.ConfigPath, []byte(header+text), 0o600); err != nil {
		return fmt.Errorf("cannot write demo configuration: %w", err)
	}
	d.configPath = o.ConfigPath
	return nil
}
