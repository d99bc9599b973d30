package config

import (
	"fmt"
	"math/big"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/robfig/cron/v3"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"

	"ptsync/internal/secret"
)

// decoder walks the file's bodies with explicit schemas, so that every unknown block or
// attribute and every semantic problem becomes a diagnostic with a position. It collects
// diagnostics instead of stopping at the first.
type decoder struct {
	env   Env
	dir   string
	funcs map[string]function.Function
	diags hcl.Diagnostics
}

func (d *decoder) errorAt(rng hcl.Range, summary, format string, args ...any) {
	r := rng
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: &r,
	})
}

func (d *decoder) warnAt(rng hcl.Range, summary, format string, args ...any) {
	r := rng
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagWarning, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: &r,
	})
}

func (d *decoder) content(body hcl.Body, schema *hcl.BodySchema) *hcl.BodyContent {
	c, diags := body.Content(schema)
	d.diags = append(d.diags, diags...)
	return c
}

// single returns the only block of typ in c, reporting every duplicate; nil when absent.
func (d *decoder) single(c *hcl.BodyContent, typ string) *hcl.Block {
	var first *hcl.Block
	for _, b := range c.Blocks {
		if b.Type != typ {
			continue
		}
		if first == nil {
			first = b
			continue
		}
		d.errorAt(b.DefRange, "Duplicate "+typ+" block", "only one %s block is allowed here; the first is at %s",
			typ, pos(first.DefRange))
	}
	return first
}

func pos(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// isSourceFunc reports whether name is one of the calls that fetch a value from outside the file.
func isSourceFunc(name string) bool {
	return name == "env" || name == "file" || name == "credential"
}

// eval returns the attribute's value. A whole-value env()/file()/credential() call is resolved
// through Env; anything else must be a constant expression. ok is false after an error.
func (d *decoder) eval(attr *hcl.Attribute) (cty.Value, bool) {
	return d.evalExpr(attr.Expr, attr.Name)
}

// evalExpr is eval for one expression of the attribute called name (e.g. a list element).
func (d *decoder) evalExpr(expr hcl.Expression, name string) (cty.Value, bool) {
	if call, diags := hcl.ExprCall(expr); !diags.HasErrors() && isSourceFunc(call.Name) {
		s, ok := d.resolveCall(call, name, expr.Range())
		if !ok {
			return cty.NilVal, false
		}
		return cty.StringVal(s), true
	}
	v, diags := expr.Value(nil)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		d.errorAt(expr.Range(), "Invalid value for "+strconv.Quote(name), "the value must be a constant")
		return cty.NilVal, false
	}
	return v, true
}

// resolveCall performs env("NAME"), file("path") or credential("name") for the attribute
// called name, reporting problems at rng.
func (d *decoder) resolveCall(call *hcl.StaticCall, name string, rng hcl.Range) (string, bool) {
	if len(call.Arguments) != 1 {
		d.errorAt(rng, "Invalid "+call.Name+"() call", "%s() takes exactly one string argument, got %d", call.Name, len(call.Arguments))
		return "", false
	}
	argVal, diags := call.Arguments[0].Value(nil)
	if diags.HasErrors() || !argVal.IsKnown() || argVal.IsNull() || argVal.Type() != cty.String || argVal.AsString() == "" {
		d.errorAt(call.Arguments[0].Range(), "Invalid "+call.Name+"() call", "the argument of %s() must be a non-empty literal string", call.Name)
		return "", false
	}
	arg := argVal.AsString()
	switch call.Name {
	case "env":
		v, ok := d.env.LookupEnv(arg)
		if !ok {
			d.errorAt(rng, "Missing environment variable", "%s needs the environment variable %s, which is not set", name, arg)
			return "", false
		}
		if v == "" {
			d.errorAt(rng, "Empty environment variable", "%s needs the environment variable %s, which is set but empty", name, arg)
			return "", false
		}
		return v, true
	case "file":
		return d.readValue(rng, name, d.path(arg), "file", "")
	default: // credential
		if strings.ContainsAny(arg, `/\`) || arg == "." || arg == ".." {
			d.errorAt(call.Arguments[0].Range(), "Invalid credential() call", "credential names are plain file names inside $CREDENTIALS_DIRECTORY, got %q", arg)
			return "", false
		}
		if d.env.CredentialsDir == "" {
			d.errorAt(rng, "Missing credential", "%s needs the credential %q but $CREDENTIALS_DIRECTORY is not set (systemd sets it for units with LoadCredential=%s:...)", name, arg, arg)
			return "", false
		}
		return d.readValue(rng, name, filepath.Join(d.env.CredentialsDir, arg), "credential",
			fmt.Sprintf(" (does the unit have LoadCredential=%s:<path>?)", arg))
	}
}

func (d *decoder) readValue(rng hcl.Range, attrName, path, what, hint string) (string, bool) {
	b, err := d.env.ReadFile(path)
	if err != nil {
		d.errorAt(rng, "Cannot read "+what, "%s: %v%s", attrName, err, hint)
		return "", false
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		d.errorAt(rng, "Empty "+what, "%s needs %s, which is empty", attrName, path)
		return "", false
	}
	return v, true
}

// path resolves p against the configuration file's directory.
func (d *decoder) path(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(d.dir, p)
}

// typed evaluates attr and converts it to ty; ok is false when absent, null or wrong.
func (d *decoder) typed(attrs hcl.Attributes, name string, ty cty.Type) (cty.Value, *hcl.Attribute, bool) {
	attr, present := attrs[name]
	if !present {
		return cty.NilVal, nil, false
	}
	v, ok := d.eval(attr)
	if !ok || v.IsNull() {
		return cty.NilVal, attr, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		d.errorAt(attr.Expr.Range(), "Incorrect value type", "%s must be %s: %s", name, friendly(ty), err)
		return cty.NilVal, attr, false
	}
	return cv, attr, true
}

func friendly(ty cty.Type) string {
	switch {
	case ty == cty.String:
		return "a string"
	case ty == cty.Number:
		return "a number"
	case ty == cty.Bool:
		return "true or false"
	case ty.IsListType():
		return "a list of strings"
	}
	return ty.FriendlyName()
}

// The value helpers below set *dst and return the attribute only when it is present and
// valid; they return nil when it is absent or after reporting why it is invalid, so callers
// can chain further checks with `if a := ...; a != nil`.

func (d *decoder) str(attrs hcl.Attributes, name string, dst *string) *hcl.Attribute {
	v, attr, ok := d.typed(attrs, name, cty.String)
	if !ok {
		return nil
	}
	*dst = v.AsString()
	return attr
}

// nonEmpty is str that also rejects "" and blanks.
func (d *decoder) nonEmpty(attrs hcl.Attributes, name string, dst *string) *hcl.Attribute {
	var s string
	attr := d.str(attrs, name, &s)
	if attr == nil {
		return nil
	}
	if strings.TrimSpace(s) == "" {
		d.errorAt(attr.Expr.Range(), "Empty "+name, "%s must not be empty", name)
		return nil
	}
	*dst = s
	return attr
}

func (d *decoder) boolean(attrs hcl.Attributes, name string, dst *bool) {
	if v, _, ok := d.typed(attrs, name, cty.Bool); ok {
		*dst = v.True()
	}
}

// integer sets *dst to a whole number >= min.
func (d *decoder) integer(attrs hcl.Attributes, name string, min int64, dst *int64) *hcl.Attribute {
	v, attr, ok := d.typed(attrs, name, cty.Number)
	if !ok {
		return nil
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact {
		d.errorAt(attr.Expr.Range(), "Invalid "+name, "%s must be a whole number, got %s", name, bf.Text('g', -1))
		return nil
	}
	if i < min {
		d.errorAt(attr.Expr.Range(), "Invalid "+name, "%s must be at least %d, got %d", name, min, i)
		return nil
	}
	*dst = i
	return attr
}

func (d *decoder) intAttr(attrs hcl.Attributes, name string, min int64, dst *int) *hcl.Attribute {
	v := int64(*dst)
	attr := d.integer(attrs, name, min, &v)
	*dst = int(v)
	return attr
}

// duration parses a Go duration (for example "90s", "1h30m") that must be >= min.
func (d *decoder) duration(attrs hcl.Attributes, name string, min time.Duration, dst *time.Duration) *hcl.Attribute {
	var s string
	attr := d.str(attrs, name, &s)
	if attr == nil {
		return nil
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.errorAt(attr.Expr.Range(), "Invalid duration", "%s must be a Go duration such as \"90s\" or \"1h30m\", got %q", name, s)
		return nil
	}
	if dur < min {
		d.errorAt(attr.Expr.Range(), "Invalid duration", "%s must be at least %s, got %s", name, fmtDuration(min), s)
		return nil
	}
	*dst = dur
	return attr
}

func fmtDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	return d.String()
}

// enum sets *dst to one of allowed.
func (d *decoder) enum(attrs hcl.Attributes, name string, dst *string, allowed ...string) *hcl.Attribute {
	var s string
	attr := d.str(attrs, name, &s)
	if attr == nil {
		return nil
	}
	for _, a := range allowed {
		if s == a {
			*dst = s
			return attr
		}
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	d.errorAt(attr.Expr.Range(), "Invalid "+name, "%s must be one of %s; got %q", name, strings.Join(quoted, ", "), s)
	return nil
}

func (d *decoder) strList(attrs hcl.Attributes, name string, dst *[]string) *hcl.Attribute {
	v, attr, ok := d.typed(attrs, name, cty.List(cty.String))
	if !ok {
		return nil
	}
	out := []string{}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || strings.TrimSpace(e.AsString()) == "" {
			d.errorAt(attr.Expr.Range(), "Invalid "+name, "%s must not contain empty or null entries", name)
			return nil
		}
		out = append(out, e.AsString())
	}
	*dst = out
	return attr
}

// secret reads a Secret; the expression must be an env(), file() or credential() call. Unlike
// the other helpers it returns the attribute whenever it is present, valid or not, because its
// presence decides which authentication mode is meant.
func (d *decoder) secret(attrs hcl.Attributes, name string, dst *Secret) *hcl.Attribute {
	attr, present := attrs[name]
	if !present {
		return nil
	}
	call, diags := hcl.ExprCall(attr.Expr)
	if diags.HasErrors() || !isSourceFunc(call.Name) {
		d.errorAt(attr.Expr.Range(), "Literal secret",
			"%s is a secret: secrets must come from env(), file() or credential(), e.g. %s = env(\"PTSYNC_%s\")",
			name, name, strings.ToUpper(name))
		return attr
	}
	if v, ok := d.resolveCall(call, attr.Name, attr.Expr.Range()); ok {
		arg, _ := call.Arguments[0].Value(nil) // resolveCall checked it is a literal string
		*dst = secret.FromSource(v, fmt.Sprintf("%s(%q)", call.Name, arg.AsString()))
	}
	return attr
}

// httpURL checks an absolute http(s) URL; trailing slashes are removed.
func (d *decoder) httpURL(attrs hcl.Attributes, name string, dst *string) *hcl.Attribute {
	var s string
	attr := d.str(attrs, name, &s)
	if attr == nil {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.errorAt(attr.Expr.Range(), "Invalid URL", "%s must be an absolute http:// or https:// URL, got %q", name, s)
		return nil
	}
	*dst = strings.TrimRight(s, "/")
	return attr
}

// listen checks a host:port listen address; loopbackOnly rejects non-loopback hosts.
func (d *decoder) listen(attrs hcl.Attributes, name string, loopbackOnly bool, dst *string) *hcl.Attribute {
	var s string
	attr := d.str(attrs, name, &s)
	if attr == nil {
		return nil
	}
	host, port, err := net.SplitHostPort(s)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		d.errorAt(attr.Expr.Range(), "Invalid listen address", "%s must be host:port (for example \"127.0.0.1:9817\"), got %q", name, s)
		return nil
	}
	if loopbackOnly {
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			d.errorAt(attr.Expr.Range(), "Non-loopback admin address", "%s must be a loopback address (127.0.0.1, ::1 or localhost): the admin endpoint has no authentication; got %q", name, s)
			return nil
		}
	}
	*dst = s
	return attr
}

func attrs(names ...string) []hcl.AttributeSchema {
	out := make([]hcl.AttributeSchema, len(names))
	for i, n := range names {
		out[i] = hcl.AttributeSchema{Name: n}
	}
	return out
}

// required marks names as required in schema.
func required(schema []hcl.AttributeSchema, names ...string) []hcl.AttributeSchema {
	for i := range schema {
		for _, n := range names {
			if schema[i].Name == n {
				schema[i].Required = true
			}
		}
	}
	return schema
}

// decodeFile parses src and fills a Config with defaults applied.
func (d *decoder) decodeFile(src []byte, filename string) *Config {
	cfg := defaults()
	cfg.Filename = filename
	file, diags := hclparse.NewParser().ParseHCL(src, filename)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return cfg
	}
	top := d.content(file.Body, &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "ghl"}, {Type: "ptd"}, {Type: "store"}, {Type: "schedule", LabelNames: []string{"job"}},
		{Type: "mapping"}, {Type: "route", LabelNames: []string{"name"}}, {Type: "reminders"},
		{Type: "deletes"}, {Type: "pusher"}, {Type: "webhooks"}, {Type: "metrics"}, {Type: "admin"},
		{Type: "log"}, {Type: "cluster"},
	}})
	endOfFile := file.Body.MissingItemRange()
	if body, ok := file.Body.(*hclsyntax.Body); ok {
		endOfFile = hcl.Range{Filename: filename, Start: body.SrcRange.End, End: body.SrcRange.End}
	}

	// Blocks are decoded in dependency order: store (token_file default), then the rest;
	// cross-block checks run last.
	if b := d.single(top, "store"); b != nil {
		c := d.content(b.Body, &hcl.BodySchema{Attributes: attrs("path")})
		if a := d.nonEmpty(c.Attributes, "path", &cfg.Store.Path); a != nil {
			cfg.Store.Path = d.path(cfg.Store.Path)
		}
	}
	if b := d.single(top, "ghl"); b != nil {
		d.decodeGHL(b, cfg)
	} else {
		d.errorAt(endOfFile, "Missing ghl block", "a ghl block with at least location_id and an oauth block or private_token is required")
	}
	var driverRange hcl.Range
	if b := d.single(top, "ptd"); b != nil {
		driverRange = d.decodePTD(b, cfg)
	} else {
		d.errorAt(endOfFile, "Missing ptd block", "a ptd block with a driver is required")
	}
	d.decodeSchedules(top, cfg)
	if b := d.single(top, "mapping"); b != nil {
		d.decodeMapping(b, cfg)
	} else {
		cfg.Mapping.Fields = DefaultFields(cfg.Mapping.DefaultConflict)
	}
	routes := d.decodeRoutes(top, cfg)
	var remindersRange hcl.Range
	if b := d.single(top, "reminders"); b != nil {
		remindersRange = b.DefRange
		d.decodeReminders(b, cfg)
	}
	var deletePolicy *hcl.Attribute
	if b := d.single(top, "deletes"); b != nil {
		deletePolicy = d.decodeDeletes(b, cfg)
	}
	d.decodeRunBlocks(top, cfg)
	d.decodeCluster(top, cfg)
	if cfg.PTD.ChildrenPeriod == 0 {
		cfg.PTD.ChildrenPeriod = min(DefaultPTDChildrenPeriod, cfg.GHL.ChildrenPeriod)
	}
	if cfg.GHL.OAuth != nil && cfg.GHL.OAuth.TokenFile == "" {
		cfg.GHL.OAuth.TokenFile = filepath.Join(filepath.Dir(cfg.Store.Path), "ghl-token.json")
	}
	d.checkDriver(cfg, driverUses{block: driverRange, routes: routes, reminders: remindersRange, deletePolicy: deletePolicy})
	return cfg
}

// decodeRunBlocks decodes the blocks about how the service runs rather than what it syncs:
// pusher, webhooks, metrics, admin and log.
func (d *decoder) decodeRunBlocks(top *hcl.BodyContent, cfg *Config) {
	if b := d.single(top, "pusher"); b != nil {
		c := d.content(b.Body, &hcl.BodySchema{Attributes: attrs("max_attempts", "backoff_base", "backoff_max")})
		d.intAttr(c.Attributes, "max_attempts", 1, &cfg.Pusher.MaxAttempts)
		d.duration(c.Attributes, "backoff_base", time.Millisecond, &cfg.Pusher.BackoffBase)
		if a := d.duration(c.Attributes, "backoff_max", time.Millisecond, &cfg.Pusher.BackoffMax); a != nil && cfg.Pusher.BackoffMax < cfg.Pusher.BackoffBase {
			d.errorAt(a.Expr.Range(), "Invalid backoff_max", "backoff_max (%s) must not be less than backoff_base (%s)", cfg.Pusher.BackoffMax, cfg.Pusher.BackoffBase)
		}
	}
	if b := d.single(top, "webhooks"); b != nil {
		cfg.Webhooks.Enabled = true
		c := d.content(b.Body, &hcl.BodySchema{Attributes: attrs("listen", "ghl_public_key", "replay_window", "max_body_bytes")})
		d.listen(c.Attributes, "listen", false, &cfg.Webhooks.Listen)
		d.webhookKeys(c.Attributes, "ghl_public_key", &cfg.Webhooks.GHLPublicKeys)
		d.duration(c.Attributes, "replay_window", time.Second, &cfg.Webhooks.ReplayWindow)
		d.integer(c.Attributes, "max_body_bytes", 1, &cfg.Webhooks.MaxBodyBytes)
	}
	if b := d.single(top, "metrics"); b != nil {
		c := d.content(b.Body, &hcl.BodySchema{Attributes: attrs("listen", "web_config")})
		d.listen(c.Attributes, "listen", false, &cfg.Metrics.Listen)
		if a := d.str(c.Attributes, "web_config", &cfg.Metrics.WebConfig); a != nil && cfg.Metrics.WebConfig != "" {
			cfg.Metrics.WebConfig = d.path(cfg.Metrics.WebConfig)
			if _, err := d.env.ReadFile(cfg.Metrics.WebConfig); err != nil {
				d.errorAt(a.Expr.Range(), "Cannot read web_config", "web_config %s: %v", cfg.Metrics.WebConfig, err)
			}
		}
	}
	if b := d.single(top, "admin"); b != nil {
		c := d.content(b.Body, &hcl.BodySchema{Attributes: attrs("listen")})
		d.listen(c.Attributes, "listen", true, &cfg.Admin.Listen)
	}
	if b := d.single(top, "log"); b != nil {
		c := d.content(b.Body, &hcl.BodySchema{Attributes: attrs("level", "format")})
		d.enum(c.Attributes, "level", &cfg.Log.Level, "trace", "debug", "info", "warn", "error")
		d.enum(c.Attributes, "format", &cfg.Log.Format, "json", "text")
	}
}

func (d *decoder) decodeGHL(b *hcl.Block, cfg *Config) {
	c := d.content(b.Body, &hcl.BodySchema{
		Attributes: required(attrs("base_url", "location_id", "private_token", "scopes", "search_page_limit",
			"sweep_page_limit", "search_overlap", "children_period", "timeout"), "location_id"),
		Blocks: []hcl.BlockHeaderSchema{{Type: "oauth"}, {Type: "rate"}},
	})
	g := &cfg.GHL
	d.httpURL(c.Attributes, "base_url", &g.BaseURL)
	if a := d.nonEmpty(c.Attributes, "location_id", &g.LocationID); a != nil && strings.ContainsAny(g.LocationID, " \t/?#") {
		d.errorAt(a.Expr.Range(), "Invalid location_id", "location_id must be a HighLevel location id (letters and digits), got %q", g.LocationID)
	}
	d.intAttr(c.Attributes, "search_page_limit", 1, &g.SearchPageLimit)
	if a := c.Attributes["search_page_limit"]; a != nil && g.SearchPageLimit > 500 {
		d.errorAt(a.Expr.Range(), "Invalid search_page_limit", "search_page_limit must be at most 500 (HighLevel's maximum), got %d", g.SearchPageLimit)
	}
	d.intAttr(c.Attributes, "sweep_page_limit", 1, &g.SweepPageLimit)
	if a := c.Attributes["sweep_page_limit"]; a != nil && g.SweepPageLimit > 100 {
		d.errorAt(a.Expr.Range(), "Invalid sweep_page_limit", "sweep_page_limit must be at most 100 (HighLevel's maximum for GET /contacts/), got %d", g.SweepPageLimit)
	}
	d.duration(c.Attributes, "search_overlap", 0, &g.SearchOverlap)
	d.duration(c.Attributes, "children_period", time.Minute, &g.ChildrenPeriod)
	d.duration(c.Attributes, "timeout", time.Second, &g.Timeout)

	oauthBlock := d.single(c, "oauth")
	tokenAttr := d.secret(c.Attributes, "private_token", &g.PrivateToken)
	scopesAttr := d.strList(c.Attributes, "scopes", &g.Scopes)
	switch {
	case oauthBlock != nil && tokenAttr != nil:
		d.errorAt(tokenAttr.NameRange, "Conflicting authentication", "set either an oauth block (at %s) or private_token, not both", pos(oauthBlock.DefRange))
	case oauthBlock == nil && tokenAttr == nil:
		d.errorAt(b.DefRange, "Missing authentication", "the ghl block needs an oauth block or a private_token")
	case oauthBlock != nil:
		if a := c.Attributes["scopes"]; a != nil {
			d.errorAt(a.NameRange, "Misplaced scopes", "with OAuth, scopes go inside the oauth block (at %s)", pos(oauthBlock.DefRange))
		}
		g.OAuth = d.decodeOAuth(oauthBlock, g.BaseURL)
		g.Scopes = g.OAuth.Scopes
	}
	if scopesAttr != nil && tokenAttr != nil {
		d.checkScopes(scopesAttr, g.Scopes)
	}

	if rb := d.single(c, "rate"); rb != nil {
		rc := d.content(rb.Body, &hcl.BodySchema{Attributes: attrs("burst", "interval", "daily", "daily_share")})
		d.intAttr(rc.Attributes, "burst", 1, &g.Rate.Burst)
		d.duration(rc.Attributes, "interval", time.Millisecond, &g.Rate.Interval)
		d.intAttr(rc.Attributes, "daily", 1, &g.Rate.Daily)
		if v, a, ok := d.typed(rc.Attributes, "daily_share", cty.Number); ok {
			f, _ := v.AsBigFloat().Float64()
			if f <= 0 || f > 1 {
				d.errorAt(a.Expr.Range(), "Invalid daily_share", "daily_share must be in (0, 1] (a share of the daily cap), got %s", v.AsBigFloat().Text('g', -1))
			} else {
				g.Rate.DailyShare = f
			}
		}
	}
}

func (d *decoder) checkScopes(attr *hcl.Attribute, scopes []string) {
	for _, s := range scopes {
		if s == ScopeContactsRead {
			return
		}
	}
	d.errorAt(attr.Expr.Range(), "Missing scope", "scopes must include %q: ptsync cannot mirror contacts without it", ScopeContactsRead)
}

func (d *decoder) decodeOAuth(b *hcl.Block, baseURL string) *OAuth {
	c := d.content(b.Body, &hcl.BodySchema{Attributes: required(
		attrs("client_id", "client_secret", "token_file", "scopes", "authorize_url", "token_url", "redirect_url"),
		"client_id", "client_secret")})
	o := &OAuth{
		Scopes:       []string{ScopeContactsRead, ScopeContactsWrite},
		AuthorizeURL: "https://marketplace.gohighlevel.com/v2/oauth/chooselocation",
		TokenURL:     baseURL + "/oauth/token",
		RedirectURL:  "http://127.0.0.1:8912/callback",
	}
	d.nonEmpty(c.Attributes, "client_id", &o.ClientID)
	d.secret(c.Attributes, "client_secret", &o.ClientSecret)
	if a := d.nonEmpty(c.Attributes, "token_file", &o.TokenFile); a != nil && o.TokenFile != "" {
		o.TokenFile = d.path(o.TokenFile)
	}
	if a := d.strList(c.Attributes, "scopes", &o.Scopes); a != nil {
		d.checkScopes(a, o.Scopes)
	}
	d.httpURL(c.Attributes, "authorize_url", &o.AuthorizeURL)
	d.httpURL(c.Attributes, "token_url", &o.TokenURL)
	d.httpURL(c.Attributes, "redirect_url", &o.RedirectURL)
	return o
}

func (d *decoder) decodeSchedules(top *hcl.BodyContent, cfg *Config) {
	parser := cronParser()
	seen := map[string]hcl.Range{}
	known := JobNames()
	for _, b := range top.Blocks {
		if b.Type != "schedule" {
			continue
		}
		job := b.Labels[0]
		idx := -1
		for i, k := range known {
			if k == job {
				idx = i
			}
		}
		if idx < 0 {
			d.errorAt(b.LabelRanges[0], "Unknown job", "schedule %q names no job; jobs are %s", job, strings.Join(known, ", "))
			continue
		}
		if first, dup := seen[job]; dup {
			d.errorAt(b.LabelRanges[0], "Duplicate schedule", "job %q is already scheduled at %s", job, pos(first))
			continue
		}
		seen[job] = b.DefRange
		c := d.content(b.Body, &hcl.BodySchema{Attributes: required(attrs("cron"), "cron")})
		var spec string
		a := d.str(c.Attributes, "cron", &spec)
		if a == nil {
			continue
		}
		sched, err := parser.Parse(spec)
		if err != nil {
			d.errorAt(a.Expr.Range(), "Invalid cron spec", "schedule %q: %v (use 5 fields \"min hour dom month dow\" or a descriptor such as \"@every 5m\" or \"@daily\")", job, err)
			continue
		}
		cfg.Schedules[idx] = Schedule{Job: job, Spec: spec, Cron: sched}
	}
	if _, ok := seen[JobReminders]; ok && top != nil {
		for _, b := range top.Blocks {
			if b.Type == "reminders" {
				return
			}
		}
		d.warnAt(seen[JobReminders], "Reminders not enabled", "schedule \"reminders\" has no effect without a reminders block")
	}
}

func (d *decoder) decodeMapping(b *hcl.Block, cfg *Config) {
	c := d.content(b.Body, &hcl.BodySchema{
		Attributes: attrs("initial_winner", "default_conflict", "phone_region", "time_zone"),
		Blocks:     []hcl.BlockHeaderSchema{{Type: "field", LabelNames: []string{"name"}}},
	})
	m := &cfg.Mapping
	d.enum(c.Attributes, "initial_winner", &m.InitialWinner, SideGHL, SidePTD)
	d.enum(c.Attributes, "default_conflict", &m.DefaultConflict, ConflictNewest, ConflictGHL, ConflictPTD, ConflictManual)
	if a := d.str(c.Attributes, "phone_region", &m.PhoneRegion); a != nil {
		if len(m.PhoneRegion) != 2 || strings.ToUpper(m.PhoneRegion) != m.PhoneRegion || strings.ContainsAny(m.PhoneRegion, "0123456789") {
			d.errorAt(a.Expr.Range(), "Invalid phone_region", "phone_region must be a two-letter upper-case ISO 3166 region such as \"US\" or \"GB\", got %q", m.PhoneRegion)
		}
	}
	if a := d.nonEmpty(c.Attributes, "time_zone", &m.TimeZone); a != nil {
		loc, err := time.LoadLocation(m.TimeZone)
		if err != nil {
			d.errorAt(a.Expr.Range(), "Invalid time_zone", "time_zone must be an IANA zone name such as \"UTC\" or \"America/New_York\": %v", err)
		} else {
			m.Location = loc
		}
	}
	var fields []Field
	byName, byGHL, byPTD := map[string]hcl.Range{}, map[string]hcl.Range{}, map[string]hcl.Range{}
	for _, fb := range c.Blocks {
		name := fb.Labels[0]
		if first, dup := byName[name]; dup {
			d.errorAt(fb.LabelRanges[0], "Duplicate field", "field %q is already mapped at %s", name, pos(first))
			continue
		}
		byName[name] = fb.DefRange
		fc := d.content(fb.Body, &hcl.BodySchema{Attributes: attrs("ghl", "ptd", "direction", "normalizer", "conflict", "allow_empty")})
		f := Field{Name: name, GHL: name, PTD: name, Direction: DirectionBoth, Conflict: m.DefaultConflict}
		ghlAttr := d.enum(fc.Attributes, "ghl", &f.GHL, ghlFieldNames()...)
		ptdAttr := d.enum(fc.Attributes, "ptd", &f.PTD, ptdFieldNames()...)
		d.enum(fc.Attributes, "direction", &f.Direction, DirectionBoth, DirectionGHLToPTD, DirectionPTDToGHL)
		f.Normalizer = defaultNormalizer(f.GHL)
		normAttr := d.enum(fc.Attributes, "normalizer", &f.Normalizer, NormalizeEmail, NormalizePhone, NormalizeName, NormalizeTime, NormalizeTags, NormalizeNone)
		d.enum(fc.Attributes, "conflict", &f.Conflict, ConflictNewest, ConflictGHL, ConflictPTD, ConflictManual)
		d.boolean(fc.Attributes, "allow_empty", &f.AllowEmpty)
		// Without explicit ghl/ptd names the label must be a valid name on both sides.
		if ghlAttr == nil && !ghlFields()[f.GHL].known {
			d.errorAt(fb.LabelRanges[0], "Unknown HighLevel field", "field %q: set ghl = one of %s", name, quoteAll(ghlFieldNames()))
			continue
		}
		if ptdAttr == nil && !ptdFields()[f.PTD].known {
			d.errorAt(fb.LabelRanges[0], "Unknown PTD field", "field %q: set ptd = one of %s", name, quoteAll(ptdFieldNames()))
			continue
		}
		at := func(a *hcl.Attribute) hcl.Range {
			if a != nil {
				return a.Expr.Range()
			}
			return fb.DefRange
		}
		if ghlFields()[f.GHL].list != ptdFields()[f.PTD].list {
			d.errorAt(at(ptdAttr), "Incompatible fields", "field %q maps HighLevel %q (%s) to PTD %q (%s)", name, f.GHL, kind(ghlFields()[f.GHL].list), f.PTD, kind(ptdFields()[f.PTD].list))
		} else if ghlFields()[f.GHL].list != (f.Normalizer == NormalizeTags) {
			d.errorAt(at(normAttr), "Incompatible normalizer", "field %q: the tags normalizer is for list fields and list fields need it; %q is %s", name, f.GHL, kind(ghlFields()[f.GHL].list))
		}
		if first, dup := byGHL[f.GHL]; dup {
			d.errorAt(at(ghlAttr), "Duplicate mapping", "HighLevel field %q is already mapped by the field at %s", f.GHL, pos(first))
		}
		if first, dup := byPTD[f.PTD]; dup {
			d.errorAt(at(ptdAttr), "Duplicate mapping", "PTD field %q is already mapped by the field at %s", f.PTD, pos(first))
		}
		byGHL[f.GHL], byPTD[f.PTD] = fb.DefRange, fb.DefRange
		fields = append(fields, f)
	}
	if len(c.Blocks) > 0 {
		m.Fields = fields
	} else {
		m.Fields = DefaultFields(m.DefaultConflict)
	}
}

func kind(list bool) string {
	if list {
		return "a list"
	}
	return "a single value"
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// decodeRoutes returns, per decoded route, the attributes used by capability checks.
func (d *decoder) decodeRoutes(top *hcl.BodyContent, cfg *Config) []routeAttrs {
	var out []routeAttrs
	seen := map[string]hcl.Range{}
	for _, b := range top.Blocks {
		if b.Type != "route" {
			continue
		}
		name := b.Labels[0]
		if first, dup := seen[name]; dup {
			d.errorAt(b.LabelRanges[0], "Duplicate route", "route %q is already defined at %s", name, pos(first))
			continue
		}
		seen[name] = b.DefRange
		c := d.content(b.Body, &hcl.BodySchema{Attributes: required(attrs("when", "group", "package", "access"), "when")})
		r := Route{Name: name, DeclRange: b.DefRange, funcs: d.funcs}
		ra := routeAttrs{name: name}
		if a, ok := c.Attributes["when"]; ok {
			diags := checkCondition(a.Expr, name, d.funcs)
			d.diags = append(d.diags, diags...)
			r.When = a.Expr
		}
		ra.group = d.nonEmpty(c.Attributes, "group", &r.Group)
		ra.pkg = d.nonEmpty(c.Attributes, "package", &r.Package)
		ra.access = d.enum(c.Attributes, "access", &r.Access, "online", "print_only")
		if c.Attributes["group"] == nil && c.Attributes["package"] == nil && c.Attributes["access"] == nil {
			d.errorAt(b.DefRange, "Route assigns nothing", "route %q must set at least one of group, package or access", name)
		}
		out = append(out, ra)
		cfg.Routes = append(cfg.Routes, r)
	}
	return out
}

type routeAttrs struct {
	name               string
	group, pkg, access *hcl.Attribute
}

func (d *decoder) decodeReminders(b *hcl.Block, cfg *Config) {
	cfg.Reminders.Enabled = true
	c := d.content(b.Body, &hcl.BodySchema{Attributes: attrs("window", "message")})
	d.duration(c.Attributes, "window", time.Minute, &cfg.Reminders.Window)
	if a := d.nonEmpty(c.Attributes, "message", &cfg.Reminders.Message); a != nil {
		if err := checkTemplate(cfg.Reminders.Message); err != nil {
			d.errorAt(a.Expr.Range(), "Invalid reminder message", "%v", err)
		}
	}
}

func cronParser() cron.Parser {
	return cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
}
