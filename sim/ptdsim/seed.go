package ptdsim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"ptsync/apiclient/ptdwire"
	"ptsync/sim/gen"
)

// Overlap kinds reported by Seed.
const (
	MatchEmail     = "email"      // same address, possibly differing in case or white space
	MatchPhoneOnly = "phone_only" // different email, same phone in another format
)

// SeedOptions shapes a seeded PTD account. People is the HighLevel dataset (the same
// gen.Person values the HighLevel simulator was seeded with); Overlap of them (0..1) also
// become PTD clients, PhoneOnly of those (0..1) under a different email so that only the phone
// links them. Own more PTD-only clients come from gen with OwnSeed. Tasks and notes from gen
// are copied onto every seeded client when Children is set.
type SeedOptions struct {
	People    []gen.Person
	Overlap   float64
	PhoneOnly float64
	Own       int
	OwnSeed   int64
	// Seed drives the choices (who overlaps, which variant) deterministically.
	Seed     uint64
	Children bool
	// Groups and Packages are created first; nil means a small default catalogue.
	Groups   []string
	Packages []string
	// At stamps what Seed writes (createdAt, updatedAt, one millisecond apart in write order)
	// instead of the clock, so one set of options gives the same snapshot byte for byte. Later
	// writes are stamped after the last seeded one whatever the clock says. Zero: the clock.
	At time.Time
}

// SeedMatch records that People[Index] also exists in PTD as ClientID, matched by Kind.
type SeedMatch struct {
	Index    int
	ClientID string
	Kind     string
}

// SeedReport says what Seed created, so a harness can check the linker's result.
type SeedReport struct {
	Clients int
	Own     int
	Matches []SeedMatch
}

// Seed fills the simulator from gen people as described by SeedOptions. It is deterministic
// for the same options and an empty Sim. People without an email overlap by phone only
// (PTD requires an email, so they get one HighLevel does not know). It fails on the first
// client PTD would refuse, keeping what was added before.
func (s *Sim) Seed(o SeedOptions) (SeedReport, error) {
	r := rand.New(rand.NewPCG(o.Seed, o.Seed^0xc0ffee))
	defer s.stampFromUntil(o.At)()
	groups, packages := o.Groups, o.Packages
	if groups == nil {
		groups = []string{"Online Coaching", "In-Person", "Nutrition Only", "12-Week Program"}
	}
	if packages == nil {
		packages = []string{"Starter", "Transformation", "Maintenance"}
	}
	var gs []ptdwire.Group
	for _, g := range groups {
		gs = append(gs, s.AddGroup(g))
	}
	for _, p := range packages {
		s.AddPackage(p)
	}
	var rep SeedReport
	add := func(p gen.Person, email, phone string) (string, error) {
		in := personInput(p, email, phone)
		c, err := s.CreateClient(in)
		if err != nil {
			return "", fmt.Errorf("cannot seed client %q: %w", email, err)
		}
		if len(gs) > 0 && r.IntN(3) > 0 {
			if _, err := s.AddClientToGroup(c.ID, gs[r.IntN(len(gs))].ID); err != nil {
				return "", fmt.Errorf("cannot seed group of %q: %w", email, err)
			}
		}
		if len(p.Tags) > 0 && r.IntN(2) == 0 {
			if _, err := s.TagClient(c.ID, p.Tags[:1+r.IntN(len(p.Tags))], nil); err != nil {
				return "", fmt.Errorf("cannot seed tags of %q: %w", email, err)
			}
		}
		if o.Children {
			if err := s.seedChildren(c.ID, p); err != nil {
				return "", err
			}
		}
		rep.Clients++
		return c.ID, nil
	}
	for i, p := range o.People {
		if r.Float64() >= o.Overlap {
			continue
		}
		kind, email, phone := MatchEmail, gen.EmailVariant(r, p.Email), p.Phone
		if p.Email == "" || r.Float64() < o.PhoneOnly {
			kind = MatchPhoneOnly
			email = fmt.Sprintf("%s.%s.ptd%d@coachmail.example", slugish(p.FirstName), slugish(p.LastName), i)
			phone = gen.PhoneVariant(r, p.Phone)
		}
		if _, taken := s.ClientByEmail(email); taken {
			continue
		}
		id, err := add(p, email, phone)
		if err != nil {
			return rep, err
		}
		rep.Matches = append(rep.Matches, SeedMatch{Index: i, ClientID: id, Kind: kind})
	}
	own := gen.New(o.OwnSeed).People(o.Own)
	for i, p := range own {
		email := p.Email
		if email == "" {
			email = fmt.Sprintf("%s.%s.own%d@coachmail.example", slugish(p.FirstName), slugish(p.LastName), i)
		}
		if _, taken := s.ClientByEmail(email); taken {
			continue
		}
		if _, err := add(p, email, p.Phone); err != nil {
			return rep, err
		}
		rep.Own++
	}
	return rep, nil
}

// stampFromUntil stamps writes from at (see SeedOptions.At) until the returned func runs;
// a zero at changes nothing.
func (s *Sim) stampFromUntil(at time.Time) func() {
	if at.IsZero() {
		return func() {}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stampFrom = at.UTC().Truncate(time.Millisecond)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stampFrom = time.Time{}
	}
}

func (s *Sim) seedChildren(id string, p gen.Person) error {
	for _, t := range p.Tasks {
		due, done := t.Due.UTC().Format(time.RFC3339), t.Completed
		title, body := t.Title, t.Body
		if _, err := s.CreateTask(id, ptdwire.TaskInput{Title: &title, Body: &body, DueAt: &due, Completed: &done}); err != nil {
			return fmt.Errorf("cannot seed task of %s: %w", id, err)
		}
	}
	for _, n := range p.Notes {
		if _, err := s.CreateNote(id, n.Body); err != nil {
			return fmt.Errorf("cannot seed note of %s: %w", id, err)
		}
	}
	return nil
}

func personInput(p gen.Person, email, phone string) ptdwire.ClientInput {
	first, last, tz := p.FirstName, p.LastName, p.Timezone
	in := ptdwire.ClientInput{Email: &email, FirstName: &first, LastName: &last, Timezone: &tz}
	if phone != "" {
		in.Phone = &phone
	}
	return in
}

func slugish(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}
