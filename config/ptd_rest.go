package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// DriverREST names the rest driver: the REST contract of docs/ptd-rest.md.
const DriverREST = "rest"

// PTDREST is the rest driver's block (ptd { rest { ... } }).
type PTDREST struct {
	BaseURL string
	APIKey  Secret
	Timeout time.Duration
}

// DriverName implements PTDSettings.
func (*PTDREST) DriverName() string { return DriverREST }

// REST returns the rest driver's block, or nil when another driver is configured.
func (p PTD) REST() *PTDREST {
	r, _ := p.Settings.(*PTDREST)
	return r
}

// REST registers the rest driver's block (see ptdBlockFiles).
func (ptdBlockFiles) REST() ptdDriverBlock {
	return ptdDriverBlock{name: DriverREST, needs: "with base_url and api_key", decode: decodeRESTBlock}
}

func decodeRESTBlock(d *decoder, b *hcl.Block) PTDSettings {
	rc := d.content(b.Body, &hcl.BodySchema{Attributes: required(attrs("base_url", "api_key", "timeout"), "base_url", "api_key")})
	r := &PTDREST{Timeout: 30 * time.Second}
	d.httpURL(rc.Attributes, "base_url", &r.BaseURL)
	d.secret(rc.Attributes, "api_key", &r.APIKey)
	d.duration(rc.Attributes, "timeout", time.Second, &r.Timeout)
	return r
}
