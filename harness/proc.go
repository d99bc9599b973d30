package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrExited is returned when a process the harness started exits on its own.
var ErrExited = errors.New("process exited unexpectedly")

// BuildBinary builds ptsync from the module at moduleDir into dir and returns its path. It
// runs `go build` once per scenario; the Go build cache makes later builds cheap.
func BuildBinary(ctx context.Context, moduleDir, dir string) (string, error) {
	out := filepath.Join(dir, "ptsync")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = moduleDir
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("cannot build ptsync in %s: %w\n%s", moduleDir, err, b)
	}
	return out, nil
}

// FreeAddr returns a loopback address with a port free at the time of the call. The service
// reuses it across restarts so that the harness always knows where /metrics is.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("cannot find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// SimInfo is what `ptsync sim` printed: URLs and simulator secrets (never logged by the
// harness).
type SimInfo struct {
	BaseURL, LocationID, ClientID, ClientSecret string
	AccessToken, RefreshToken                   string
	PTDURL, PTDKey                              string
}

// SimProcess is a running `ptsync sim`.
type SimProcess struct {
	Info SimInfo
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartSim runs `<bin> sim args...` (which must include --addr and --ptd-addr), waits until
// it printed both simulators' URLs and the PTD key, and returns. Its stderr goes to logw.
func StartSim(ctx context.Context, bin string, args []string, logw io.Writer) (*SimProcess, error) {
	cmd := exec.Command(bin, append([]string{"sim"}, args...)...)
	cmd.Stderr = logw
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("cannot start ptsync sim: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start ptsync sim: %w", err)
	}
	p := &SimProcess{cmd: cmd, done: make(chan struct{})}
	fields := make(chan map[string]string, 1)
	go func() {
		got := map[string]string{}
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), " ")
			got[k] = strings.TrimSpace(v)
			if !sent && got["ptd_control"] != "" {
				fields <- got
				sent = true
			}
		}
		if !sent {
			close(fields)
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	select {
	case f, ok := <-fields:
		if !ok {
			<-p.done
			return nil, fmt.Errorf("cannot start ptsync sim: it exited before printing its URLs: %v", p.err)
		}
		p.Info = SimInfo{BaseURL: f["base_url"], LocationID: f["location_id"], ClientID: f["client_id"],
			ClientSecret: f["client_secret"], AccessToken: f["access_token"], RefreshToken: f["refresh_token"],
			PTDURL: f["ptd_url"], PTDKey: f["ptd_api_key"]}
		return p, nil
	case <-time.After(60 * time.Second):
	case <-ctx.Done():
	}
	p.Stop()
	return nil, fmt.Errorf("cannot start ptsync sim: no URLs printed within 60s")
}

// Stop ends the simulator (SIGTERM, then SIGKILL after 5 s) and waits for it.
func (p *SimProcess) Stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// ServiceProcess runs `ptsync run --config` as a child; one at a time. Each run's stderr (the
// JSON log) is appended to LogPath.
type ServiceProcess struct {
	Bin, ConfigPath, LogPath string
	Env                      []string
	MetricsAddr              string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	code int
	// Runs counts starts; Unexpected counts exits the harness did not cause.
	Runs, Unexpected int
}

// Start launches the service; it fails if one is already running.
func (s *ServiceProcess) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("cannot start ptsync run: already running")
	}
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("cannot open service log: %w", err)
	}
	cmd := exec.Command(s.Bin, "run", "--config", s.ConfigPath)
	cmd.Env = s.Env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("cannot start ptsync run: %w", err)
	}
	s.Runs++
	done := make(chan struct{})
	s.cmd, s.done = cmd, done
	go func() {
		_ = cmd.Wait()
		logf.Close()
		s.mu.Lock()
		s.code = cmd.ProcessState.ExitCode()
		s.mu.Unlock()
		close(done)
	}()
	return nil
}

// Pid returns the running service's process id (0 if none).
func (s *ServiceProcess) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Exited reports whether the running service has exited by itself; the harness then counts
// it as unexpected and forgets the process.
func (s *ServiceProcess) Exited() (bool, int) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return false, 0
	}
	select {
	case <-done:
		s.mu.Lock()
		defer s.mu.Unlock()
		s.cmd = nil
		s.Unexpected++
		return true, s.code
	default:
		return false, 0
	}
}

// Kill sends SIGKILL to the service (only to the process it started) and waits for it.
func (s *ServiceProcess) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Stop sends SIGTERM and waits up to 15 s (then SIGKILL). It returns the exit code; a
// graceful stop is 0.
func (s *ServiceProcess) Stop() int {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return 0
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return -1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.code
}

// RSS returns the service's resident set size in bytes, from /proc/<pid>/status (VmRSS).
func (s *ServiceProcess) RSS() (int64, error) {
	pid := s.Pid()
	if pid == 0 {
		return 0, errors.New("cannot read rss: the service is not running")
	}
	return ReadRSS(pid)
}

// ReadRSS reads VmRSS of pid in bytes.
func ReadRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("cannot read rss: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseInt(f[0], 10, 64)
				if err != nil {
					return 0, fmt.Errorf("cannot read rss: %q: %w", line, err)
				}
				return n << 10, nil
			}
		}
	}
	return 0, fmt.Errorf("cannot read rss: no VmRSS line for pid %d", pid)
}

// Scrape fetches /metrics and returns every sample as "name{labels}" -> value.
func Scrape(ctx context.Context, addr string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, fmt.Errorf("cannot scrape metrics: %w", err)
	}
	res, err := probeClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot scrape metrics: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		return nil, fmt.Errorf("cannot scrape metrics: status %d: %v", res.StatusCode, err)
	}
	return ParseMetrics(b), nil
}

// ParseMetrics reads the Prometheus text format: comments skipped, "name{labels} value".
func ParseMetrics(b []byte) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}

// SumMetric adds every sample of name (any labels) whose label text contains all of match.
func SumMetric(m map[string]float64, name string, match ...string) float64 {
	var sum float64
	for k, v := range m {
		base, labels, _ := strings.Cut(k, "{")
		if base != name {
			continue
		}
		ok := true
		for _, s := range match {
			if !strings.Contains(labels, s) {
				ok = false
			}
		}
		if ok {
			sum += v
		}
	}
	return sum
}

// Ready reports whether the service answers /readyz with 200.
func Ready(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/readyz", nil)
	res, err := probeClient().Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == 200
}

// CountPanics counts lines in the service log that report a panic (the cron wrapper's
// recovery or a crash), so "nothing panics" is checked, not assumed.
func CountPanics(logPath string) (int, error) {
	f, err := os.Open(logPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		return 0, fmt.Errorf("cannot read service log: %w", err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 4<<20)
	for sc.Scan() {
		l := strings.ToLower(sc.Text())
		if strings.Contains(l, "panic") || strings.HasPrefix(l, "goroutine ") || strings.Contains(l, "fatal error") {
			n++
		}
	}
	return n, sc.Err()
}

// probeClient is the client of the harness's probes (readiness, scrapes): a timeout of its
// own, so a wedged service fails the probe even when the caller's context has no deadline.
// It shares http.DefaultTransport's connection pool.
func probeClient() *http.Client { return &http.Client{Timeout: 5 * time.Second} }
