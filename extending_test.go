package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fooDriverFiles are a whole new PT Distinction driver's code, as docs/extending.md tells a
// contributor to write it: the driver's file and its config block's file, nothing else.
var fooDriverFiles = map[string]string{
	"apiclient/ptd/foo.go": `package ptd

import (
	"context"

	"ptsync/apiclient/ptdwire"
	"ptsync/config"
)

// Foo can create clients and nothing else.
type Foo struct {
	Unsupported
	greeting string
}

var _ Adapter = (*Foo)(nil)

func (*Foo) Capabilities() Capabilities { return NewCapabilities(CapClientCreate) }

func (f *Foo) CreateClient(_ context.Context, in ptdwire.ClientInput) (ptdwire.Client, error) {
	return ptdwire.Client{ID: f.greeting + " " + *in.Email}, nil
}

func (driverFiles) Foo() Driver {
	return Driver{Name: config.DriverFoo,
		Open: func(_ context.Context, cfg config.PTD, _ Deps) (Adapter, error) {
			return &Foo{greeting: cfg.Settings.(*config.PTDFoo).Greeting}, nil
		},
		Declared: func(config.PTD) Capabilities { return NewCapabilities(CapClientCreate) },
	}
}
`,
	"config/ptd_foo.go": `package config

import "github.com/hashicorp/hcl/v2"

const DriverFoo = "foo"

type PTDFoo struct{ Greeting string }

func (*PTDFoo) DriverName() string { return DriverFoo }

func (ptdBlockFiles) Foo() ptdDriverBlock {
	return ptdDriverBlock{name: DriverFoo, needs: "with a greeting", decode: func(d *decoder, b *hcl.Block) PTDSettings {
		c := d.content(b.Body, &hcl.BodySchema{Attributes: required(attrs("greeting"), "greeting")})
		f := &PTDFoo{}
		d.str(c.Attributes, "greeting", &f.Greeting)
		return f
	}}
}
`,
}

// fooProbe parses a configuration naming the foo driver, opens it through ptd.Open as the
// service does, and prints what the registries and the driver say.
const fooProbe = `package main

import (
	"context"
	"fmt"
	"os"

	"ptsync/apiclient/ptd"
	"ptsync/apiclient/ptdwire"
	"ptsync/config"
)

func main() {
	src := ` + "`" + `ghl {
  location_id   = "loc"
  private_token = env("GHL_PIT")
}
ptd {
  driver = "foo"
  foo { greeting = "hello" }
}
store { path = "/nonexistent/m.db" }
webhooks { listen = "127.0.0.1:0" }
` + "`" + `
	cfg, err := config.Parse([]byte(src), "foo.hcl", config.Env{LookupEnv: func(string) (string, bool) { return "pit-0123456789", true }})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	a, err := ptd.Open(context.Background(), cfg.PTD, ptd.Deps{})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	email := "ann@example.com"
	c, err := a.CreateClient(context.Background(), ptdwire.ClientInput{Email: &email})
	_, tagErr := a.AddTags(context.Background(), c.ID, []string{"vip"})
	fmt.Printf("config %v; drivers %v; declared %v; created %q, %v; tags refused: %v\n", config.PTDDrivers(),
		ptd.Drivers().Names(), ptd.DeclaredCapabilities(cfg.PTD).Has(ptd.CapClientCreate), c.ID, err, tagErr != nil)
}
`

// TestANewDriverIsItsOwnFiles proves what docs/extending.md counts for a new PT Distinction
// driver: its code is its driver file and its config block's file, and no list elsewhere is
// edited. It copies the packages apiclient/ptd is built from into a scratch module, adds the
// two files of a driver foo, and runs a program that configures foo, opens it through
// ptd.Open and calls it.
func TestANewDriverIsItsOwnFiles(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not installed")
	}
	dir := t.TempDir()
	copyModuleOf(t, dir, "./apiclient/ptd")
	files := map[string]string{"probe/main.go": fooProbe}
	for name, src := range fooDriverFiles {
		files[name] = src
	}
	for name, src := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "run", "./probe")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOPROXY=off")
	out, err := cmd.CombinedOutput()
	want := `config [foo rest zapier]; drivers [foo rest zapier]; declared true; created "hello ann@example.com", <nil>; tags refused: true`
	if err != nil || strings.TrimSpace(string(out)) != want {
		t.Fatalf("go run ./probe with the foo driver's two files added: %v\n%s\nwant %s", err, out, want)
	}
}

// copyModuleOf copies go.mod, go.sum and the source files (no tests) of every package of
// this module that pkg is built from into dir, so that dir builds pkg on its own.
func copyModuleOf(t *testing.T, dir, pkg string) {
	t.Helper()
	for _, f := range []string{"go.mod", "go.sum"} {
		copyFile(t, f, filepath.Join(dir, f))
	}
	lines := goList(t, "list", "-deps", "-f",
		`{{if .Module}}{{if .Module.Main}}{{.Dir}}|{{join .GoFiles " "}} {{join .EmbedFiles " "}}{{end}}{{end}}`, pkg)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range lines {
		if line == "" {
			continue
		}
		pkgDir, names, _ := strings.Cut(line, "|")
		rel, err := filepath.Rel(wd, pkgDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range strings.Fields(names) {
			copyFile(t, filepath.Join(pkgDir, name), filepath.Join(dir, rel, name))
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
