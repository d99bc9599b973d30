// Package secrettest catches secrets that reach a log line, an error text or a metric label in
// tests. A Sink is an io.Writer for hclog: every line written to it is searched for every
// registered secret, in the spellings a logger or an error could give it (raw, JSON-escaped,
// Go-quoted, URL-encoded), and a match fails the test with the secret masked. Lines are kept,
// so a secret registered after the line was written (a token the server rotates in later) is
// still caught when the test ends.
//
// CheckRegistry does the same for everything a Prometheus registry exposes: metric names,
// help texts, label names and label values.
//
// A Sink is safe for concurrent use: register secrets from a transport wrapper while the code
// under test logs from many goroutines.
package secrettest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
)

// MinLength is the shortest secret Register accepts: shorter strings would match ordinary
// words and make the check meaningless (or flaky).
const MinLength = 6

// maxKept bounds the log bytes kept for the end-of-test recheck.
const maxKept = 32 << 20

// Sink is an hclog output that fails its test when a registered secret appears in a line.
// Create it with NewSink; the zero value is not usable.
type Sink struct {
	t       testing.TB
	mu      sync.Mutex
	secrets map[string][]string // secret -> its spellings
	order   []string
	kept    bytes.Buffer
	lines   int
	leaks   int
}

// NewSink returns a sink reporting to t, with secrets registered. At t's cleanup it rechecks
// every kept line against every secret registered by then.
func NewSink(t testing.TB, secrets ...string) *Sink {
	t.Helper()
	s := &Sink{t: t, secrets: map[string][]string{}}
	s.Register(secrets...)
	t.Cleanup(s.recheck)
	return s
}

// Logger returns a Trace-level logger writing into s. JSON selects hclog's JSON format, which
// escapes differently from the text format; both are checked the same way.
func (s *Sink) Logger() hclog.Logger { return s.logger(false) }

// JSONLogger is Logger with hclog's JSON output.
func (s *Sink) JSONLogger() hclog.Logger { return s.logger(true) }

func (s *Sink) logger(json bool) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Trace, Output: s, JSONFormat: json})
}

// Register adds secrets to look for. Empty strings are ignored; a secret shorter than
// MinLength fails the test (it cannot be told apart from ordinary text).
func (s *Sink) Register(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range secrets {
		if x == "" {
			continue
		}
		if len(x) < MinLength {
			s.t.Errorf("secrettest: secret %s is shorter than %d bytes; use a longer test value", mask(x), MinLength)
			continue
		}
		if _, ok := s.secrets[x]; ok {
			continue
		}
		s.secrets[x] = Spellings(x)
		s.order = append(s.order, x)
	}
}

// Write implements io.Writer. It never fails; a leak is reported through the test.
func (s *Sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines += bytes.Count(p, []byte("\n"))
	s.checkLocked("log line", string(p))
	if s.kept.Len()+len(p) <= maxKept {
		s.kept.Write(p)
	}
	return len(p), nil
}

// Check searches text (an error message, a response body, a file) for every registered secret
// and fails the test on a match; where names the text in the failure.
func (s *Sink) Check(where, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkLocked(where, text)
}

// Lines returns how many log lines the sink has checked.
func (s *Sink) Lines() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines
}

// Leaks returns how many leaks the sink has reported.
func (s *Sink) Leaks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leaks
}

// Secrets returns the registered secrets in registration order.
func (s *Sink) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.order...)
}

// Text returns the kept log output, with every registered secret masked.
func (s *Sink) Text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maskLocked(s.kept.String())
}

func (s *Sink) checkLocked(where, text string) {
	for _, x := range s.order {
		for _, sp := range s.secrets[x] {
			if strings.Contains(text, sp) {
				s.leaks++
				s.t.Errorf("secret %s leaked into a %s: %s", mask(x), where, s.maskLocked(text))
				break
			}
		}
	}
}

// recheck runs at cleanup: secrets registered after a line was written are caught here.
func (s *Sink) recheck() {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.leaks
	for _, line := range strings.SplitAfter(s.kept.String(), "\n") {
		if line == "" {
			continue
		}
		s.checkLocked("log line (recheck at the end of the test)", line)
		if s.leaks > before+20 {
			s.t.Errorf("secrettest: more leaks not shown")
			return
		}
	}
}

func (s *Sink) maskLocked(text string) string {
	for _, x := range s.order {
		for _, sp := range s.secrets[x] {
			text = strings.ReplaceAll(text, sp, mask(x))
		}
	}
	if len(text) > 2000 {
		text = text[:2000] + "..."
	}
	return strings.TrimRight(text, "\n")
}

// Spellings returns the forms in which s may appear in output: as is, JSON-escaped, Go-quoted
// (%q), each of those escaped once more (a quoted error inside a quoted log value),
// query-escaped and path-escaped. Duplicates are removed.
func Spellings(s string) []string {
	jsonEsc := func(s string) string {
		b, _ := json.Marshal(s)
		return strings.TrimSuffix(strings.TrimPrefix(string(b), `"`), `"`)
	}
	goEsc := func(s string) string { return strings.TrimSuffix(strings.TrimPrefix(strconv.Quote(s), `"`), `"`) }
	forms := []string{
		s,
		jsonEsc(s), jsonEsc(jsonEsc(s)),
		goEsc(s), goEsc(goEsc(s)),
		url.QueryEscape(s),
		url.PathEscape(s),
	}
	out := forms[:0]
	for _, f := range forms {
		dup := false
		for _, o := range out {
			dup = dup || o == f
		}
		if !dup && f != "" {
			out = append(out, f)
		}
	}
	return out
}

// mask shows a secret's length and first two bytes only, so failures can be told apart
// without printing the value.
func mask(s string) string {
	if len(s) < 4 {
		return fmt.Sprintf("<secret len=%d>", len(s))
	}
	return fmt.Sprintf("<secret %q... len=%d>", s[:2], len(s))
}

// CheckRegistry gathers g and fails t when any metric name, help text, label name or label
// value contains one of secrets (in any of its Spellings). It returns how many label values it
// checked, so a caller can assert the check saw the series it expected.
func CheckRegistry(t testing.TB, g prometheus.Gatherer, secrets ...string) int {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Errorf("cannot gather metrics: %v", err)
	}
	var forms []string
	for _, x := range secrets {
		if x != "" {
			forms = append(forms, Spellings(x)...)
		}
	}
	hit := func(where, text string) {
		for _, f := range forms {
			if strings.Contains(text, f) {
				t.Errorf("a secret leaked into the %s %s", where, strings.ReplaceAll(text, f, "<SECRET>"))
				return
			}
		}
	}
	n := 0
	for _, mf := range mfs {
		hit("metric name", mf.GetName())
		hit("help text of "+mf.GetName()+":", mf.GetHelp())
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				n++
				hit("label name of "+mf.GetName()+":", lp.GetName())
				hit("label "+mf.GetName()+"{"+lp.GetName()+"}:", lp.GetValue())
			}
		}
	}
	return n
}
