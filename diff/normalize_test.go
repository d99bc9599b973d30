package diff

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestEmail(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"already clean", "ana@example.com", "ana@example.com", false},
		{"upper case", "Ana.Lopez@Example.COM", "ana.lopez@example.com", false},
		{"surrounding space", "  ana@example.com\t\n", "ana@example.com", false},
		{"inner space", "ana @ example .com", "ana@example.com", false},
		{"non-breaking space", "ana\u00a0@example.com", "ana@example.com", false},
		{"plus tag kept", "Ana+Gym@example.com", "ana+gym@example.com", false},
		{"empty", "", "", false},
		{"blank", "   ", "", false},
		{"no at", "ana.example.com", "", true},
		{"no local part", "@example.com", "", true},
		{"no domain", "ana@", "", true},
		{"only at", "@", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Email(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidEmail) {
					t.Fatalf("Email(%q) error = %v, want ErrInvalidEmail", tt.in, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Email(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			if again, _ := Email(got); again != got {
				t.Errorf("Email not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestPhone(t *testing.T) {
	tests := []struct {
		name, in, region, want string
		wantErr                bool
	}{
		{"e164 already", "+15550101234", "US", "+15550101234", false},
		{"plus with dashes", "+1 555-010-1234", "US", "+15550101234", false},
		{"parens and spaces", "(555) 010 1234", "US", "+15550101234", false},
		{"dots", "555.010.1234", "US", "+15550101234", false},
		{"bare ten digits", "5550101234", "US", "+15550101234", false},
		{"leading one", "1-555-010-1234", "US", "+15550101234", false},
		{"region lower case", "5550101234", "us", "+15550101234", false},
		{"uk international", "+44 20 7946 0958", "US", "+442079460958", false},
		{"double zero prefix outside its region", "0044 20 7946 0958", "US", "+442079460958", false},
		{"double zero prefix in its region", "0044 20 7946 0958", "GB", "+442079460958", false},
		{"nanp international prefix", "011 44 20 7946 0958", "US", "+442079460958", false},
		{"uk national trunk zero", "020 7946 0958", "GB", "+442079460958", false},
		{"australian mobile", "0412 345 678", "AU", "+61412345678", false},
		{"extension word dropped", "555-010-1234 ext. 55", "US", "+15550101234", false},
		{"extension x dropped", "555-010-1234x55", "US", "+15550101234", false},
		{"extension hash dropped", "+1 (555) 010-1234 #12", "US", "+15550101234", false},
		{"tel uri", "tel:+1-555-010-1234", "US", "+15550101234", false},
		{"international without region", "+44 20 7946 0958", "", "+442079460958", false},
		{"surrounding space", "  +1 555 010 1234 ", "US", "+15550101234", false},
		{"empty", "", "US", "", false},
		{"blank", "  ", "US", "", false},
		{"letters", "call me", "US", "", true},
		{"too short", "12", "US", "", true},
		{"no area code", "555-0101", "US", "", true},
		{"too long", "123456789012345678", "US", "", true},
		{"unknown country code", "+999 1234 5678", "US", "", true},
		{"national without region", "5550101234", "", "", true},
		{"unknown region", "5550101234", "XX", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Phone(tt.in, tt.region)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidPhone) {
					t.Fatalf("Phone(%q, %q) = %q, %v; want ErrInvalidPhone", tt.in, tt.region, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Phone(%q, %q) = %q, %v; want %q", tt.in, tt.region, got, err, tt.want)
			}
			if again, err := Phone(got, tt.region); again != got || err != nil {
				t.Errorf("Phone not idempotent: %q -> %q, %v", got, again, err)
			}
		})
	}
}

func TestName(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"clean", "Ana Lopez", "Ana Lopez"},
		{"trim", "  Ana  ", "Ana"},
		{"collapse inner", "Ana   Maria\tLopez", "Ana Maria Lopez"},
		{"non-breaking space", "Ana\u00a0Lopez", "Ana Lopez"},
		{"newline", "Ana\nLopez", "Ana Lopez"},
		{"case kept", "mcDONALD van der Berg", "mcDONALD van der Berg"},
		{"unicode kept", " Zoë  Ørsted ", "Zoë Ørsted"},
		{"empty", "", ""},
		{"blank", " \t ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Name(tt.in); got != tt.want {
				t.Fatalf("Name(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTime(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	tests := []struct {
		name, in string
		loc      *time.Location
		want     string
		wantErr  bool
	}{
		{"rfc3339 utc", "2024-03-01T14:00:00Z", nil, "2024-03-01T14:00:00Z", false},
		{"rfc3339 offset", "2024-03-01T09:00:00-05:00", nil, "2024-03-01T14:00:00Z", false},
		{"rfc3339 millis", "2024-03-01T14:00:00.123Z", nil, "2024-03-01T14:00:00Z", false},
		{"rfc3339 nanos", "2024-03-01T14:00:00.999999999Z", nil, "2024-03-01T14:00:00Z", false},
		{"offset without colon", "2024-03-01T15:00:00+0100", nil, "2024-03-01T14:00:00Z", false},
		{"highlevel appointment utc", "2024-03-01 14:00:00", nil, "2024-03-01T14:00:00Z", false},
		{"highlevel appointment in zone", "2024-03-01 09:00:00", ny, "2024-03-01T14:00:00Z", false},
		{"zone-less T form", "2024-03-01T14:00:00", nil, "2024-03-01T14:00:00Z", false},
		{"minutes only", "2024-03-01 14:00", nil, "2024-03-01T14:00:00Z", false},
		{"date only", "2024-03-01", nil, "2024-03-01T00:00:00Z", false},
		{"surrounding space", " 2024-03-01 ", nil, "2024-03-01T00:00:00Z", false},
		{"empty", "", nil, "", false},
		{"words", "next tuesday", nil, "", true},
		{"us order", "03/01/2024", nil, "", true},
		{"bad month", "2024-13-01", nil, "", true},
		{"unix seconds", "1709301600", nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Time(tt.in, tt.loc)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidTime) {
					t.Fatalf("Time(%q) = %q, %v; want ErrInvalidTime", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Time(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			if again, err := Time(got, tt.loc); again != got || err != nil {
				t.Errorf("Time not idempotent: %q -> %q, %v", got, again, err)
			}
		})
	}
}

func TestTags(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"nil", nil, []string{}},
		{"sorted", []string{"b", "a"}, []string{"a", "b"}},
		{"trim and drop empties", []string{" vip ", "", "  ", "lead"}, []string{"lead", "vip"}},
		{"case-insensitive dedupe keeps first", []string{"VIP", "vip", "Vip"}, []string{"VIP"}},
		{"case-insensitive sort", []string{"beta", "Alpha", "gamma"}, []string{"Alpha", "beta", "gamma"}},
		{"inner space kept", []string{"new  lead"}, []string{"new  lead"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			got := Tags(in)
			if !slices.Equal(got, tt.want) || got == nil {
				t.Fatalf("Tags(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("Tags modified its input: %q", in)
			}
			if again := Tags(got); !slices.Equal(again, got) {
				t.Errorf("Tags not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestParseNames(t *testing.T) {
	t.Run("normalizers round trip", func(t *testing.T) {
		for _, name := range []string{"none", "email", "phone", "name", "time", "tags"} {
			n, err := ParseNormalizer(" " + name + " ")
			if err != nil || n.String() != name {
				t.Errorf("ParseNormalizer(%q) = %v, %v", name, n, err)
			}
			var u Normalizer
			b, _ := n.MarshalText()
			if err := u.UnmarshalText(b); err != nil || u != n {
				t.Errorf("text round trip of %v = %v, %v", n, u, err)
			}
		}
	})
	t.Run("directions", func(t *testing.T) {
		for name, want := range map[string]Direction{"both": Both, "GHL-to-PTD": GHLToPTD, "ptd_to_ghl": PTDToGHL} {
			if d, err := ParseDirection(name); err != nil || d != want {
				t.Errorf("ParseDirection(%q) = %v, %v; want %v", name, d, err, want)
			}
		}
	})
	t.Run("rules", func(t *testing.T) {
		for name, want := range map[string]Rule{"newest": Newest, "ghl": PreferGHL, "ptd": PreferPTD, "Manual": Manual} {
			if r, err := ParseRule(name); err != nil || r != want {
				t.Errorf("ParseRule(%q) = %v, %v; want %v", name, r, err, want)
			}
		}
	})
	t.Run("unknown names", func(t *testing.T) {
		_, e1 := ParseNormalizer("zip")
		_, e2 := ParseDirection("sideways")
		_, e3 := ParseRule("oldest")
		_, e4 := ParseSide("zapier")
		for _, err := range []error{e1, e2, e3, e4} {
			if !errors.Is(err, ErrUnknownName) {
				t.Errorf("error %v does not wrap ErrUnknownName", err)
			}
		}
		if want := `cannot parse normalizer "zip": want one of none, email, phone, name, time, tags: unknown name`; e1.Error() != want {
			t.Errorf("message = %q, want %q", e1, want)
		}
	})
	t.Run("out of range marshal", func(t *testing.T) {
		if _, err := Rule(9).MarshalText(); err == nil {
			t.Error("Rule(9).MarshalText() succeeded")
		}
		if s := Rule(9).String(); s != "rule(9)" {
			t.Errorf("Rule(9).String() = %q", s)
		}
	})
}

func TestValidateSpecs(t *testing.T) {
	tests := []struct {
		name  string
		specs []FieldSpec
		want  string
	}{
		{"valid", []FieldSpec{{Name: "email", Normalizer: NormEmail}, {Name: "tags", Set: true, Normalizer: NormTags}}, ""},
		{"empty name", []FieldSpec{{Name: " "}}, `cannot use field spec 0 (" "): empty field name`},
		{"duplicate", []FieldSpec{{Name: "a"}, {Name: "a"}}, `cannot use field spec 1 ("a"): duplicates spec 0`},
		{"tags on scalar", []FieldSpec{{Name: "t", Normalizer: NormTags}}, `cannot use field spec 0 ("t"): normalizer "tags" needs a set field`},
		{"bad enums", []FieldSpec{{Name: "a", Direction: 7}, {Name: "b", Rule: -1}, {Name: "c", Normalizer: 99}},
			"cannot use field spec 0 (\"a\"): unknown direction 7\n" +
				"cannot use field spec 1 (\"b\"): unknown conflict rule -1\n" +
				"cannot use field spec 2 (\"c\"): unknown normalizer 99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateSpecs(tt.specs)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ValidateSpecs = %v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want || !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("ValidateSpecs = %v, want %q wrapping ErrInvalidSpec", err, tt.want)
			}
		})
	}
}
