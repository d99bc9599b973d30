package config

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Defaults, documented in docs/config.md; keep the two in step.
const (
	DefaultGHLBaseURL   = "https://services.leadconnectorhq.com"
	DefaultStorePath    = "/var/lib/ptsync/ptsync.db"
	DefaultReminderText = "Reminder: {{title}} is due {{due}}"
)

// defaultSpecs are the cron specs of jobs without a schedule block, in JobNames order.
func defaultSpecs() []string {
	return []string{"@every 1m", "17 3 * * *", "@every 5m", "@every 1m", "@every 1m", "@every 30s", "@every 15m", "47 3 * * *"}
}

// defaults returns a Config holding every default; decoding overwrites what the file sets.
func defaults() *Config {
	c := &Config{
		GHL: GHL{
			BaseURL:         DefaultGHLBaseURL,
			Scopes:          []string{ScopeContactsRead, ScopeContactsWrite},
			Rate:            Rate{Burst: 100, Interval: 10 * time.Second, Daily: 200000, DailyShare: 0.9},
			SearchPageLimit: 500,
			SweepPageLimit:  100,
			SearchOverlap:   2 * time.Minute,
			ChildrenPeriod:  24 * time.Hour,
			Timeout:         30 * time.Second,
		},
		Store:     Store{Path: DefaultStorePath},
		Mapping:   Mapping{InitialWinner: SidePTD, DefaultConflict: ConflictNewest, PhoneRegion: "US", TimeZone: "UTC", Location: time.UTC},
		Reminders: Reminders{Window: 24 * time.Hour, Message: DefaultReminderText},
		Deletes:   Deletes{Policy: DeleteIgnore, Confirmations: 2, Tag: "ptsync-deleted", MaxShare: 0.5, MaxCount: 50},
		Pusher:    Pusher{MaxAttempts: 8, BackoffBase: time.Second, BackoffMax: 5 * time.Minute},
		Webhooks:  Webhooks{Listen: "127.0.0.1:8911", ReplayWindow: 5 * time.Minute, MaxBodyBytes: 1 << 20},
		Metrics:   Metrics{Listen: "127.0.0.1:9817"},
		Admin:     Admin{Listen: "127.0.0.1:8913"},
		Log:       Log{Level: "info", Format: "json"},
	}
	p := cronParser()
	specs := defaultSpecs()
	for i, job := range JobNames() {
		sched, err := p.Parse(specs[i])
		if err != nil {
			panic(fmt.Sprintf("config: default cron spec %q: %v", specs[i], err)) // a bug, caught by every test
		}
		c.Schedules = append(c.Schedules, Schedule{Job: job, Spec: specs[i], Cron: sched, Default: true})
	}
	return c
}

// fieldInfo describes a contact field on one side.
type fieldInfo struct {
	known bool
	list  bool
}

// ghlFields are the HighLevel contact fields a mapping may name (ghlwire.Contact JSON names).
// Like the other tables here, it is a function so that no caller can change it for the rest.
func ghlFields() map[string]fieldInfo {
	return map[string]fieldInfo{
		"firstName": {known: true}, "lastName": {known: true}, "name": {known: true}, "email": {known: true},
		"phone": {known: true}, "companyName": {known: true}, "timezone": {known: true}, "gender": {known: true},
		"address1": {known: true}, "city": {known: true}, "state": {known: true}, "country": {known: true},
		"postalCode": {known: true}, "website": {known: true}, "dateOfBirth": {known: true}, "source": {known: true},
		"tags": {known: true, list: true},
	}
}

// ptdFields are the PT Distinction client fields a mapping may name (ptdwire.Client JSON names).
func ptdFields() map[string]fieldInfo {
	return map[string]fieldInfo{
		"email": {known: true}, "firstName": {known: true}, "lastName": {known: true}, "phone": {known: true},
		"gender": {known: true}, "timezone": {known: true}, "access": {known: true},
		"tags": {known: true, list: true}, "groups": {known: true, list: true}, "packages": {known: true, list: true},
	}
}

func sortedKeys(m map[string]fieldInfo) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func ghlFieldNames() []string { return sortedKeys(ghlFields()) }
func ptdFieldNames() []string { return sortedKeys(ptdFields()) }

// defaultNormalizer picks the normalizer a field gets when its block names none.
func defaultNormalizer(ghlField string) string {
	switch ghlField {
	case "email":
		return NormalizeEmail
	case "phone":
		return NormalizePhone
	case "firstName", "lastName", "name":
		return NormalizeName
	case "tags":
		return NormalizeTags
	case "dateOfBirth":
		return NormalizeTime
	}
	return NormalizeNone
}

// DefaultFields is the mapping used when the file has no mapping block or the block declares
// no field: email, names, phone, tags and timezone, two-way, under the given conflict rule.
func DefaultFields(conflict string) []Field {
	var out []Field
	for _, n := range []string{"email", "firstName", "lastName", "phone", "tags", "timezone"} {
		out = append(out, Field{Name: n, GHL: n, PTD: n, Direction: DirectionBoth,
			Normalizer: defaultNormalizer(n), Conflict: conflict})
	}
	return out
}

// reminderPlaceholders are the {{name}} substitutions RenderReminder performs.
func reminderPlaceholders() []string {
	return []string{"title", "due", "first_name", "last_name", "email"}
}

var placeholderRE = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

func checkTemplate(msg string) error {
	for _, m := range placeholderRE.FindAllStringSubmatch(msg, -1) {
		ok := false
		for _, p := range reminderPlaceholders() {
			ok = ok || m[1] == p
		}
		if !ok {
			return fmt.Errorf("unknown placeholder {{%s}}; known: {{%s}}", m[1], strings.Join(reminderPlaceholders(), "}}, {{"))
		}
	}
	if strings.Count(msg, "{{") != len(placeholderRE.FindAllString(msg, -1)) {
		return fmt.Errorf("unbalanced {{ in message")
	}
	return nil
}

// RenderReminder fills the reminder message template: {{title}}, {{due}}, {{first_name}},
// {{last_name}} and {{email}} are replaced by the matching entries of vals (missing ones by "").
// Parse has already rejected unknown placeholders.
func (r Reminders) RenderReminder(vals map[string]string) string {
	return placeholderRE.ReplaceAllStringFunc(r.Message, func(m string) string {
		return vals[placeholderRE.FindStringSubmatch(m)[1]]
	})
}
