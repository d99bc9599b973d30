// Package gen generates deterministic, realistic people for the simulators: names, messy
// emails and phones, companies, tags, custom fields, tasks, notes and appointments.
//
// The same seed (and reference time) always yields the same people in the same order, so
// the HighLevel simulator and the PT Distinction simulator can build overlapping data sets
// from one seed. People are plain data, independent of either system's wire shape; each
// simulator maps them onto its own records.
//
// A Generator is NOT safe for concurrent use: it owns one random stream. Give each goroutine
// its own Generator (with its own seed) when needed.
package gen

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// DefaultReference returns the fixed "now" that New uses, so generated dates do not depend
// on the wall clock: 2026-06-01T12:00:00Z.
func DefaultReference() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) }

// Person is one generated human, the source both simulators map into their own records.
// Email and Phone are "as typed by a user": mixed case, stray white space, many phone
// formats. Email is empty for roughly 5 % of people; some people share a phone.
type Person struct {
	FirstName   string
	LastName    string
	Email       string
	Phone       string
	CompanyName string
	Address1    string
	City        string
	State       string
	PostalCode  string
	Country     string // ISO 3166-1 alpha-2
	Timezone    string // IANA name
	Website     string
	Source      string
	DateOfBirth string // YYYY-MM-DD, empty for about a third
	Tags        []string
	// CustomFields maps a field key (see CustomFieldKeys()) to its value.
	CustomFields map[string]string
	CreatedAt    time.Time
	Tasks        []Task
	Notes        []Note
	Appointments []Appointment
}

// Task is a to-do attached to a person. Some are overdue relative to the reference time,
// some are completed.
type Task struct {
	Title     string
	Body      string
	Due       time.Time
	Completed bool
}

// Note is a free-text note attached to a person.
type Note struct {
	Title     string
	Body      string
	CreatedAt time.Time
	Pinned    bool
}

// Appointment is a booked session.
type Appointment struct {
	Title  string
	Start  time.Time
	End    time.Time
	Status string // booked | confirmed | cancelled | showed | noshow
	Notes  string
}

var customFieldKeys = []string{"fitness_goal", "training_days", "injuries", "referral_code", "membership_level"}

var tagVocabulary = []string{
	"vip", "lead", "client", "trial", "nutrition", "online-coaching", "in-person",
	"strength", "weight-loss", "hypertrophy", "newsletter", "referral", "churn-risk",
	"paused", "alumni", "group-class", "12-week-program", "facebook-ad", "instagram",
}

// Generator produces people from one seeded random stream. Not safe for concurrent use.
type Generator struct {
	rng        *rand.Rand
	ref        time.Time
	n          int
	usedEmails map[string]bool
	phones     []string // previously issued phones, for deliberate sharing
}

// New returns a Generator for seed with DefaultReference as "now".
func New(seed int64) *Generator { return NewAt(seed, DefaultReference()) }

// NewAt returns a Generator for seed whose dates are placed relative to ref (creation dates
// in the two years before ref, due dates around it), truncated to the millisecond.
//
// The random stream never depends on ref: every draw is made whatever the dates turn out to
// be, so two generators of one seed give the same people (names, emails, phones, tags,
// children, flags) for any two references, and only the dates move with ref. Keep it so: a
// draw inside a condition on a date, or a bound computed from one, makes the people differ
// from run to run when ref is the wall clock.
func NewAt(seed int64, ref time.Time) *Generator {
	return &Generator{
		rng:        rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)),
		ref:        ref.UTC().Truncate(time.Millisecond),
		usedEmails: make(map[string]bool),
	}
}

// Reference returns the generator's "now".
func (g *Generator) Reference() time.Time { return g.ref }

// Rand exposes the generator's random stream so callers can make further deterministic
// choices (e.g. which contacts to churn). Using it advances the stream.
func (g *Generator) Rand() *rand.Rand { return g.rng }

// People returns the next n people.
func (g *Generator) People(n int) []Person {
	out := make([]Person, n)
	for i := range out {
		out[i] = g.Person()
	}
	return out
}

// Person returns the next person, children included.
func (g *Generator) Person() Person {
	r := g.rng
	g.n++
	p := Person{
		FirstName: pick(r, firstNames),
		LastName:  pick(r, lastNames),
	}
	loc := pick(r, places)
	p.City, p.State, p.Country, p.Timezone = loc.city, loc.state, loc.country, loc.tz
	if loc.country == "GB" {
		p.PostalCode = fmt.Sprintf(loc.postal, r.IntN(20)+1)
	} else {
		p.PostalCode = fmt.Sprintf(loc.postal, r.IntN(10000))
	}
	p.Address1 = fmt.Sprintf("%d %s", r.IntN(9800)+1, pick(r, streets))
	if r.IntN(3) > 0 {
		p.CompanyName = pick(r, companies)
	}
	if r.IntN(100) >= 5 { // ~5 % have no email
		p.Email = g.email(p)
	}
	p.Phone = g.phone(loc.country)
	p.Source = pick(r, sources)
	if r.IntN(3) > 0 {
		dob := g.ref.AddDate(-(18 + r.IntN(50)), 0, -r.IntN(365))
		p.DateOfBirth = dob.Format("2006-01-02")
	}
	if r.IntN(5) == 0 {
		p.Website = "https://www." + slug(p.LastName) + strings.ToLower(p.FirstName[:1]) + ".com"
	}
	g.traits(&p)
	// Created in the two years before ref, at millisecond resolution.
	p.CreatedAt = g.ref.Add(-time.Duration(r.Int64N(int64(730 * 24 * time.Hour)))).Truncate(time.Millisecond)

	g.children(&p)
	return p
}

// traits draws p's tags (0-4 distinct) and custom fields; the draws follow Person's, in order.
func (g *Generator) traits(p *Person) {
	r := g.rng
	nt := r.IntN(5)
	seen := map[string]bool{}
	for len(p.Tags) < nt {
		t := pick(r, tagVocabulary)
		if !seen[t] {
			seen[t] = true
			p.Tags = append(p.Tags, t)
		}
	}
	p.CustomFields = map[string]string{}
	if r.IntN(2) == 0 {
		p.CustomFields["fitness_goal"] = pick(r, goals)
	}
	if r.IntN(3) == 0 {
		p.CustomFields["training_days"] = fmt.Sprint(r.IntN(6) + 1)
	}
	if r.IntN(6) == 0 {
		p.CustomFields["injuries"] = pick(r, injuries)
	}
	if r.IntN(8) == 0 {
		p.CustomFields["referral_code"] = fmt.Sprintf("REF-%04d", r.IntN(10000))
	}
	if r.IntN(4) == 0 {
		p.CustomFields["membership_level"] = pick(r, []string{"bronze", "silver", "gold", "platinum"})
	}
}

// children draws p's tasks, notes and appointments, dated around the generator's ref.
func (g *Generator) children(p *Person) {
	r := g.rng
	for range r.IntN(4) {
		due := g.ref.Add(time.Duration(r.Int64N(int64(60*24*time.Hour))) - 30*24*time.Hour).Truncate(time.Minute)
		title, body, done := pick(r, taskTitles), pick(r, taskBodies), r.IntN(2) == 0
		p.Tasks = append(p.Tasks, Task{Title: title, Body: body, Due: due, Completed: due.Before(g.ref) && done})
	}
	for range r.IntN(4) {
		// A share of the time since creation, not a draw bounded by it: the bound would
		// move with ref's sub-millisecond part.
		at := p.CreatedAt.Add(time.Duration(r.Float64() * float64(g.ref.Sub(p.CreatedAt)))).Truncate(time.Millisecond)
		p.Notes = append(p.Notes, Note{
			Title:     pick(r, noteTitles),
			Body:      pick(r, noteBodies),
			CreatedAt: at,
			Pinned:    r.IntN(10) == 0,
		})
	}
	for range r.IntN(3) {
		start := g.ref.Add(time.Duration(r.IntN(60)-30) * 24 * time.Hour).Truncate(24 * time.Hour).Add(time.Duration(6+r.IntN(13)) * time.Hour)
		past, confirmed := pick(r, []string{"showed", "showed", "noshow", "cancelled"}), r.IntN(2) == 0
		st := "booked"
		if start.Before(g.ref) {
			st = past
		} else if confirmed {
			st = "confirmed"
		}
		p.Appointments = append(p.Appointments, Appointment{
			Title:  pick(r, apptTitles),
			Start:  start,
			End:    start.Add(time.Duration(30+30*r.IntN(2)) * time.Minute),
			Status: st,
			Notes:  pick(r, []string{"", "bring water", "first session", "check progress photos"}),
		})
	}
}

// email builds a unique address for p, sometimes in mixed case or with stray white space,
// the way users type them into forms.
func (g *Generator) email(p Person) string {
	r := g.rng
	first, last := slug(p.FirstName), slug(p.LastName)
	var local string
	switch r.IntN(4) {
	case 0:
		local = first + "." + last
	case 1:
		local = first[:1] + last
	case 2:
		local = first + last + fmt.Sprint(r.IntN(100))
	default:
		local = first + "_" + last
	}
	domain := pick(r, domains)
	addr := local + "@" + domain
	for i := 2; g.usedEmails[addr]; i++ {
		addr = fmt.Sprintf("%s%d@%s", local, i, domain)
	}
	g.usedEmails[addr] = true
	switch r.IntN(10) {
	case 0: // Capitalised like a name.
		addr = strings.ToUpper(addr[:1]) + addr[1:]
	case 1:
		addr = strings.ToUpper(addr)
	case 2:
		addr = " " + addr
	case 3:
		addr = addr + " "
	}
	return addr
}

// phone returns a phone in one of several human formats; about 3 % reuse an earlier
// person's number (household or shared business line) in a possibly different format.
func (g *Generator) phone(country string) string {
	r := g.rng
	if len(g.phones) > 0 && r.IntN(100) < 3 {
		return PhoneVariant(r, pick(r, g.phones))
	}
	var p string
	if country == "GB" {
		p = fmt.Sprintf("+44 20 7946 %04d", r.IntN(10000))
	} else {
		area := pick(r, []string{"555", "212", "312", "415", "617", "713"})
		p = formatUS(r, area, fmt.Sprintf("%03d", 100+r.IntN(900)), fmt.Sprintf("%04d", r.IntN(10000)))
	}
	g.phones = append(g.phones, p)
	return p
}

func formatUS(r *rand.Rand, area, ex, line string) string {
	switch r.IntN(5) {
	case 0:
		return fmt.Sprintf("+1 %s-%s-%s", area, ex, line)
	case 1:
		return fmt.Sprintf("(%s) %s %s", area, ex, line)
	case 2:
		return area + ex + line
	case 3:
		return fmt.Sprintf("+1%s%s%s", area, ex, line)
	default:
		return fmt.Sprintf("%s.%s.%s", area, ex, line)
	}
}

// Digits returns only the decimal digits of s.
func Digits(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// PhoneVariant rewrites phone in a different human format that denotes the same number
// (same E.164 form): a US number may gain or lose "+1", parentheses, dots or spaces; a
// non-US number keeps its country code with different spacing.
func PhoneVariant(r *rand.Rand, phone string) string {
	d := Digits(phone)
	switch {
	case len(d) == 10 && !strings.HasPrefix(strings.TrimSpace(phone), "+"):
		return formatUS(r, d[:3], d[3:6], d[6:])
	case len(d) == 11 && d[0] == '1':
		return formatUS(r, d[1:4], d[4:7], d[7:])
	default:
		if r.IntN(2) == 0 {
			return "+" + d
		}
		if len(d) > 6 {
			return "+" + d[:2] + " " + d[2:4] + " " + d[4:]
		}
		return "+" + d
	}
}

// EmailVariant returns email as another system might hold it for the same person: changed
// case and/or stray white space, never a different address after trimming and lower-casing.
func EmailVariant(r *rand.Rand, email string) string {
	e := strings.TrimSpace(email)
	if e == "" {
		return e
	}
	switch r.IntN(4) {
	case 0:
		e = strings.ToUpper(e)
	case 1:
		e = strings.ToLower(e)
	case 2:
		e = strings.ToUpper(e[:1]) + strings.ToLower(e[1:])
	default:
		e = strings.ToLower(e)
	}
	switch r.IntN(3) {
	case 0:
		e = " " + e
	case 1:
		e = e + "  "
	}
	return e
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func slug(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}
