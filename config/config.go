// Package config decodes and validates ptsync's HCL configuration file into typed values.
//
// Every problem — syntax, an unknown block or attribute, a literal secret, a bad duration,
// cron spec, enum or route expression — is reported with the `file:line:col` it refers to, all
// at once, as an *Error. Defaults are applied for everything optional, so a *Config returned
// without error is complete and needs no further checks by its users.
//
// Secrets are never literal in the file: they come from env("NAME"), file("path") or
// credential("name") (systemd LoadCredential=) and are held in Secret, which never prints its
// value. The package reads the environment and the file system only through Env, so tests and
// the demo can supply their own.
//
// A *Config is immutable after Parse returns and safe for concurrent readers.
package config

import (
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/robfig/cron/v3"
)

// Config is a validated configuration with every default applied. Parse returns one only
// when the file has no error (Warnings may remain); a Config built by hand, as tests do, is
// used as given, without validation or defaults.
type Config struct {
	// Filename is the name the configuration was parsed under; diagnostics use it.
	Filename string
	GHL      GHL
	PTD      PTD
	Store    Store
	// Schedules holds one entry per job, in the order of JobNames, defaults filled in.
	Schedules []Schedule
	Mapping   Mapping
	// Routes are evaluated in file order; the first whose When matches wins.
	Routes    []Route
	Reminders Reminders
	Deletes   Deletes
	Pusher    Pusher
	Webhooks  Webhooks
	Metrics   Metrics
	Admin     Admin
	Log       Log
	// Cluster is nil without a cluster block (one replica, as before); see Cluster.
	Cluster *Cluster `json:",omitempty"`
	// Warnings are problems that do not stop ptsync (rendered like errors by FormatDiagnostics).
	Warnings hcl.Diagnostics
}

// GHL configures the HighLevel side.
type GHL struct {
	BaseURL    string
	LocationID string
	// OAuth is set when the location is reached with an OAuth install; nil with a private token.
	OAuth *OAuth
	// PrivateToken is set (non-zero) when a Private Integration Token is used instead of OAuth.
	PrivateToken Secret
	// Scopes are the effective scopes: oauth.scopes with OAuth, ghl.scopes with a private token.
	Scopes          []string
	Rate            Rate
	SearchPageLimit int
	SweepPageLimit  int
	SearchOverlap   time.Duration
	ChildrenPeriod  time.Duration
	Timeout         time.Duration
}

// ReadOnly reports whether the configured scopes lack contacts.write; ptsync then never
// writes to HighLevel.
func (g GHL) ReadOnly() bool {
	for _, s := range g.Scopes {
		if s == ScopeContactsWrite {
			return false
		}
	}
	return true
}

// HighLevel scopes ptsync knows the meaning of.
const (
	ScopeContactsRead  = "contacts.readonly"
	ScopeContactsWrite = "contacts.write"
)

// OAuth configures the OAuth 2.0 authorization-code install and token refresh.
type OAuth struct {
	ClientID     string
	ClientSecret Secret
	// TokenFile is where the rotating token pair is persisted (0600, fsync before use).
	TokenFile    string
	Scopes       []string
	AuthorizeURL string
	TokenURL     string
	RedirectURL  string
}

// Rate shapes the per-location request budget; the client corrects it from X-RateLimit-*.
type Rate struct {
	Burst    int
	Interval time.Duration
	Daily    int
	// DailyShare is the share of Daily ptsync allows itself to spend, in (0, 1].
	DailyShare float64
}

// Store configures the bbolt mirror.
type Store struct {
	Path string
}

// Job names accepted by schedule blocks.
const (
	JobContacts  = "contacts"
	JobSweep     = "sweep"
	JobChildren  = "children"
	JobPTD       = "ptd"
	JobReconcile = "reconcile"
	JobPush      = "push"
	JobReminders = "reminders"
	// JobPTDSweep lists every PT Distinction client to find the ones deleted there (the
	// incremental ptd job only sees changes, never an absence).
	JobPTDSweep = "ptd_sweep"
)

// JobNames returns every schedulable job in a fixed order.
func JobNames() []string {
	return []string{JobContacts, JobSweep, JobChildren, JobPTD, JobReconcile, JobPush, JobReminders, JobPTDSweep}
}

// Schedule is one job's cron schedule. Specs without a CRON_TZ= prefix are evaluated in the
// location of the time passed to Next; ptsync's scheduler passes UTC.
type Schedule struct {
	Job  string
	Spec string
	// Cron is the parsed Spec, never nil in a Config returned by Parse.
	Cron cron.Schedule
	// Default is true when the file had no schedule block for Job.
	Default bool
}

// Next returns the first activation strictly after t.
func (s Schedule) Next(t time.Time) time.Time { return s.Cron.Next(t) }

// Schedule returns the schedule of job; ok is false for an unknown job name.
func (c *Config) Schedule(job string) (Schedule, bool) {
	for _, s := range c.Schedules {
		if s.Job == job {
			return s, true
		}
	}
	return Schedule{}, false
}

// Mapping configures how contact fields correspond and merge.
type Mapping struct {
	// InitialWinner ("ghl" or "ptd") wins when no base exists yet.
	InitialWinner   string
	DefaultConflict string
	// PhoneRegion is the ISO 3166 region used for phone numbers without a country code.
	PhoneRegion string
	// TimeZone is the IANA name of the zone in which zone-less times (HighLevel's
	// "2006-01-02 15:04:05") are read; Location is it loaded, never nil.
	TimeZone string
	Location *time.Location
	Fields   []Field
}

// Field maps one GHL contact field to one PTD client field.
type Field struct {
	Name       string
	GHL        string
	PTD        string
	Direction  string
	Normalizer string
	Conflict   string
	// AllowEmpty lets an empty value overwrite a non-empty one.
	AllowEmpty bool
}

// Enumerations used by Mapping and Field.
const (
	SideGHL = "ghl"
	SidePTD = "ptd"

	DirectionBoth     = "both"
	DirectionGHLToPTD = "ghl_to_ptd"
	DirectionPTDToGHL = "ptd_to_ghl"

	ConflictNewest = "newest"
	ConflictGHL    = "ghl"
	ConflictPTD    = "ptd"
	ConflictManual = "manual"

	NormalizeEmail = "email"
	NormalizePhone = "phone"
	NormalizeName  = "name"
	NormalizeTime  = "time"
	NormalizeTags  = "tags"
	NormalizeNone  = "none"
)

// Reminders configures task reminders sent to PTD. Enabled is false when the file has no
// reminders block.
type Reminders struct {
	Enabled bool
	Window  time.Duration
	// Message is a template; see RenderReminder for its placeholders.
	Message string
}

// Delete policies.
const (
	DeleteIgnore    = "ignore"
	DeletePrintOnly = "print_only"
	DeleteTag       = "tag"
	DeleteDelete    = "delete"
)

// Deletes configures what happens to the surviving side of a link whose other record was deleted.
type Deletes struct {
	Policy string
	// Confirmations is how many consecutive sweeps must miss a record before the policy applies.
	Confirmations int
	// Tag is added to the survivor under policy "tag".
	Tag string
	// MaxShare and MaxCount bound what one sweep may quarantine: a complete listing that
	// would quarantine more than MaxShare of the records the mirror holds for it, or more
	// than MaxCount records, is held as suspect (its misses get no confirmation) until an
	// operator approves it. MaxShare is in (0, 1]; MaxCount is at least 1.
	MaxShare float64
	MaxCount int
}

// Pusher configures outbox retries.
type Pusher struct {
	MaxAttempts int
	BackoffBase time.Duration
	BackoffMax  time.Duration
}

// Webhooks configures the inbound webhook listener. Enabled is false without a webhooks block.
type Webhooks struct {
	Enabled bool
	Listen  string
	// GHLPublicKeys verify HighLevel's deliveries, each the header of its kind (see WebhookKey);
	// more than one during a changeover. None means HighLevel webhooks are refused.
	GHLPublicKeys []WebhookKey
	ReplayWindow  time.Duration
	MaxBodyBytes  int64
}

// Metrics configures the /metrics and health listener.
type Metrics struct {
	Listen string
	// WebConfig is an exporter-toolkit web config file (TLS, basic auth); empty serves plain HTTP.
	WebConfig string
}

// Admin configures the loopback endpoint the CLI queries while the service runs.
type Admin struct {
	Listen string
}

// Log configures the hclog logger.
type Log struct {
	Level  string
	Format string
}

// HCLogLevel returns Level as an hclog.Level.
func (l Log) HCLogLevel() hclog.Level { return hclog.LevelFromString(l.Level) }

// JSON reports whether logs are JSON lines.
func (l Log) JSON() bool { return l.Format == "json" }

// Env is everything Parse reads from outside the file. Tests and the demo provide their own;
// OSEnv reads the process's.
type Env struct {
	// LookupEnv backs env("NAME"). Nil means no variable is set.
	LookupEnv func(name string) (string, bool)
	// CredentialsDir is $CREDENTIALS_DIRECTORY, where credential("name") reads name; empty
	// makes every credential() call an error.
	CredentialsDir string
	// ReadFile backs file(), credential() and the checks on referenced files. Nil means os.ReadFile.
	ReadFile func(path string) ([]byte, error)
}

// OSEnv returns an Env backed by the process environment and file system.
func OSEnv() Env {
	return Env{
		LookupEnv:      os.LookupEnv,
		CredentialsDir: os.Getenv("CREDENTIALS_DIRECTORY"),
		ReadFile:       os.ReadFile,
	}
}

// Load reads and parses the file at path with OSEnv. Relative paths inside the file are
// resolved against the file's directory. Errors are *Error (errors.Is ErrInvalid).
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Diagnostics: hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration file",
			Detail:   err.Error(),
		}}}
	}
	return Parse(src, path, OSEnv())
}

// Parse decodes and validates src; filename is used in diagnostics and its directory anchors
// relative paths. It returns every problem at once as an *Error; a nil error means the Config
// is complete. Parse has no side effects beyond the reads env performs.
func Parse(src []byte, filename string, env Env) (*Config, error) {
	if env.LookupEnv == nil {
		env.LookupEnv = func(string) (string, bool) { return "", false }
	}
	if env.ReadFile == nil {
		env.ReadFile = os.ReadFile
	}
	d := &decoder{env: env, dir: filepath.Dir(filename), funcs: Functions()}
	cfg := d.decodeFile(src, filename)
	var errs, warns hcl.Diagnostics
	for _, diag := range d.diags {
		if diag.Severity == hcl.DiagError {
			errs = append(errs, diag)
		} else {
			warns = append(warns, diag)
		}
	}
	if len(errs) > 0 {
		return nil, &Error{Diagnostics: append(errs, warns...)}
	}
	cfg.Warnings = warns
	return cfg, nil
}
