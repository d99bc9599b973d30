package ghlsim

import (
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// companyLocation is a location as GET /_sim/company lists it.
type companyLocation struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Address     string    `json:"address,omitempty"`
	Installed   bool      `json:"installed"`
	InstalledAt time.Time `json:"installedAt,omitzero"`
}

// companyJSON is GET /_sim/company.
type companyJSON struct {
	CompanyID                string            `json:"companyId"`
	AppID                    string            `json:"appId"`
	InstallToFutureLocations bool              `json:"installToFutureLocations"`
	WebhookURL               string            `json:"webhookUrl,omitempty"`
	WebhookPublicKey         string            `json:"webhookPublicKey"` // base64 of the raw 32 bytes
	Locations                []companyLocation `json:"locations"`
}

// describe returns the company as GET /_sim/company shows it.
func (co *Company) describe() companyJSON {
	co.mu.RLock()
	defer co.mu.RUnlock()
	out := companyJSON{CompanyID: co.opts.CompanyID, AppID: co.opts.AppID, InstallToFutureLocations: co.future,
		WebhookURL: co.webhook, WebhookPublicKey: base64.StdEncoding.EncodeToString(co.hooks.public()),
		Locations: make([]companyLocation, 0, len(co.order))}
	for _, id := range co.order {
		e := co.locs[id]
		out.Locations = append(out.Locations, companyLocation{ID: id, Name: e.s.opts.Name, Address: e.s.opts.Address,
			Installed: e.installed, InstalledAt: e.installedAt})
	}
	return out
}

// companyCounters is GET /_sim/company/counters: the company's own counters, each location's,
// and the company-wide count of requests with a token of the wrong location.
type companyCounters struct {
	Company       Counters            `json:"company"`
	Locations     map[string]Counters `json:"locations"`
	WrongLocation int64               `json:"wrongLocation"`
}

// newLocationJSON is the body of POST /_sim/company/locations.
type newLocationJSON struct {
	ID      string `json:"id,omitempty"`
	Name    string `json:"name,omitempty"`
	Address string `json:"address,omitempty"`
	// Seed adds that many generated people to the new location.
	Seed int `json:"seed,omitempty"`
}

// companyMux builds /_sim/company/: describe the company, add a location, install and
// uninstall the app (each emits its webhook), set the webhook URL and the future-install
// choice, issue a Company token, read the counters. Like the rest of /_sim/ it is
// unauthenticated.
func (co *Company) companyMux() *http.ServeMux {
	m := http.NewServeMux()
	ok := co.reply
	m.HandleFunc("GET /_sim/company", func(w http.ResponseWriter, r *http.Request) { ok(w, 200, co.describe(), nil) })
	m.HandleFunc("GET /_sim/company/webhooks", func(w http.ResponseWriter, r *http.Request) { ok(w, 200, co.AppWebhooks(), nil) })
	m.HandleFunc("GET /_sim/company/counters", func(w http.ResponseWriter, r *http.Request) {
		out := companyCounters{Company: co.Counters(), Locations: map[string]Counters{}}
		for _, s := range co.Locations() {
			c := s.Counters()
			out.Locations[s.LocationID()], out.WrongLocation = c, out.WrongLocation+c.WrongLocation
		}
		ok(w, 200, out, nil)
	})
	m.HandleFunc("POST /_sim/company/locations", func(w http.ResponseWriter, r *http.Request) {
		var in newLocationJSON
		if e := decodeBody(r, &in); e != nil {
			ok(w, 0, nil, e)
			return
		}
		s, err := co.AddLocation(Options{LocationID: in.ID, Name: in.Name, Address: in.Address})
		if err != nil {
			ok(w, 0, nil, &Error{Status: 409, Messages: []string{err.Error()}})
			return
		}
		s.Seed(in.Seed)
		ok(w, 201, companyLocation{ID: s.LocationID(), Name: s.Name(), Address: s.opts.Address, Installed: co.Installed(s.LocationID())}, nil)
	})
	installs := func(install bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			act := co.Uninstall
			if install {
				act = co.Install
			}
			d, err := act(r.PathValue("id"))
			if err != nil {
				ok(w, 0, nil, errNotFound("Location"))
				return
			}
			ok(w, 200, d, nil)
		}
	}
	m.HandleFunc("POST /_sim/company/locations/{id}/install", installs(true))
	m.HandleFunc("POST /_sim/company/locations/{id}/uninstall", installs(false))
	m.HandleFunc("POST /_sim/company/webhook", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			URL string `json:"url"`
		}
		if e := decodeBody(r, &in); e != nil {
			ok(w, 0, nil, e)
			return
		}
		co.SetWebhookURL(in.URL)
		ok(w, 200, co.describe(), nil)
	})
	m.HandleFunc("POST /_sim/company/install-future", func(w http.ResponseWriter, r *http.Request) {
		co.SetInstallToFutureLocations(r.URL.Query().Get("on") != "false" && r.URL.Query().Get("on") != "0")
		ok(w, 200, co.describe(), nil)
	})
	m.HandleFunc("POST /_sim/company/tokens", func(w http.ResponseWriter, r *http.Request) {
		scopes := strings.FieldsFunc(r.URL.Query().Get("scopes"), func(c rune) bool { return c == ',' || c == ' ' })
		ok(w, 200, co.IssueCompanyToken(scopes...), nil)
	})
	m.HandleFunc("/_sim/company/", func(w http.ResponseWriter, r *http.Request) {
		ok(w, 0, nil, &Error{Status: 404, Messages: []string{"Cannot " + r.Method + " " + r.URL.Path}})
	})
	return m
}

func (co *Company) serveControl(w http.ResponseWriter, r *http.Request) {
	co.ctlOnce.Do(func() { co.ctl = co.companyMux() })
	co.ctl.ServeHTTP(w, r)
}

// serveLocationControl serves /_sim/locations/{id}/<rest> as that location's /_sim/<rest>.
func (co *Company) serveLocationControl(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/_sim/locations/")
	id, sub, _ := strings.Cut(rest, "/")
	s := co.Location(id)
	if s == nil {
		co.writeErr(w, errNotFound("Location"))
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = "/_sim/"+sub, ""
	s.serveControl(w, r2)
}
