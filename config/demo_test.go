package config

import (
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		opts    DemoOptions
		wantErr string
	}{
		{name: "defaults", opts: DemoOptions{GHLURL: "http://127.0.0.1:18910", PTDURL: "http://127.0.0.1:18920", Dir: dir}},
		{name: "missing dir", opts: DemoOptions{GHLURL: "http://x", PTDURL: "http://y"}, wantErr: "Dir are required"},
		{name: "bad url", opts: DemoOptions{GHLURL: "127.0.0.1:18910", PTDURL: "http://127.0.0.1:18920", Dir: dir},
			wantErr: `demo.hcl:5:19: Invalid URL: base_url must be an absolute http:// or https:// URL, got "127.0.0.1:18910"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Demo(tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Demo: %v", err)
			}
			checks := []struct{ name, got, want string }{
				{"ghl url", cfg.GHL.BaseURL, "http://127.0.0.1:18910"},
				{"ptd url", cfg.PTD.REST().BaseURL, "http://127.0.0.1:18920"},
				{"token", cfg.GHL.PrivateToken.Reveal(), "demo-pit"},
				{"api key", cfg.PTD.REST().APIKey.Reveal(), "demo-ptd-key"},
				{"store", cfg.Store.Path, dir + "/ptsync.db"},
				{"location", cfg.GHL.LocationID, "demo-location"},
				{"admin", cfg.Admin.Listen, "127.0.0.1:0"},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
				}
			}
			if len(cfg.Warnings) != 0 {
				t.Errorf("demo config has warnings: %s", FormatDiagnostics(cfg.Warnings))
			}
		})
	}
}
