package promtest

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families is one scrape of /metrics, by family name.
type Families map[string]*dto.MetricFamily

// ScrapeFamilies GETs http://addr/metrics and parses the text exposition; any failure fails
// the test.
func ScrapeFamilies(t testing.TB, addr string) Families {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("cannot parse /metrics: %v", err)
	}
	return mfs
}

// SeriesKeys renders each series of mf as its sorted label pairs ("{a=x,b=y}"), for set
// comparisons. A nil mf has none.
func SeriesKeys(mf *dto.MetricFamily) map[string]bool {
	out := map[string]bool{}
	for _, m := range mf.GetMetric() {
		var pairs []string
		for _, l := range m.GetLabel() {
			pairs = append(pairs, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(pairs)
		out["{"+strings.Join(pairs, ",")+"}"] = true
	}
	return out
}

// LogRequests logs a sync's requests from ptsync_api_requests_total by upstream, operation
// and code, and fails the test if the HighLevel or the PT Distinction upstream made none.
func LogRequests(t testing.TB, mf *dto.MetricFamily) {
	t.Helper()
	by := map[string]float64{}
	total := map[string]float64{}
	for _, m := range mf.GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		by[l["upstream"]+" "+l["operation"]+" "+l["code"]] += m.GetCounter().GetValue()
		total[l["upstream"]] += m.GetCounter().GetValue()
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %-60s %6.0f", k, by[k])
	}
	t.Logf("ptsync_api_requests_total after one sync (upstream operation code):%s\n  total: ghl %.0f, ptd %.0f",
		b.String(), total["ghl"], total["ptd"])
	for _, up := range []string{"ghl", "ptd"} {
		if total[up] == 0 {
			t.Errorf("no %s request counted in ptsync_api_requests_total", up)
		}
	}
}
