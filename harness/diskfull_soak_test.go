//go:build soak

package harness

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// TestFullDisk runs the full-disk scenario (a tmpfs mount: root only, as in CI).
// go test -tags soak -run TestFullDisk ./harness/
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	bin := buildForTest(t)
	var progress bytes.Buffer
	r, err := DiskFull(context.Background(), DiskFullOptions{Options: Options{Bin: bin, Dir: t.TempDir(), Contacts: 200,
		ChurnRate: 8, Seed: 4, Progress: &progress}, Creates: 1500})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	var table bytes.Buffer
	PrintTable(&table, []Result{r})
	t.Logf("\n%s\n%s", table.String(), progress.String())
	if !r.OK() {
		t.Errorf("the full-disk scenario did not hold its guarantees")
	}
}
