package main

import (
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// peakRSS returns VmHWM from /proc/self/status and getrusage's maxrss, both in KiB.
func peakRSS() (hwm, maxrss int64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		maxrss = int64(ru.Maxrss)
	}
	if hwm = procField("/proc/self/status", "VmHWM:"); hwm == 0 {
		hwm = maxrss
	}
	return hwm, maxrss
}

// procField returns the number after prefix in a /proc file ("VmHWM:", "write_bytes:"...),
// or 0 when it is unavailable.
func procField(path, prefix string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// sampleAnon records the peaks of RssAnon and of the Go heap's objects (KiB) in *anon and
// *heap every 20 ms until the returned stop is called.
func sampleAnon(anon, heap *int64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			*anon = max(*anon, procField("/proc/self/status", "RssAnon:"))
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				*heap = max(*heap, int64(sample[0].Value.Uint64()/1024))
			}
			select {
			case <-t.C:
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); <-finished }
}
