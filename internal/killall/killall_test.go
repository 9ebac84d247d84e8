package killall

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestMain doubles as a stand-in `skiff agent` process when asked to.
func TestMain(m *testing.M) {
	if os.Getenv("KILLALL_TEST_DAEMON") == "1" {
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestArgAfter(t *testing.T) {
	args := []string{"skiff", "agent", "--data-dir", "/d", "--cgroup-root=/c", "-address"}
	for _, tc := range []struct {
		flag, want string
		ok         bool
	}{
		{"--data-dir", "/d", true},
		{"--cgroup-root", "/c", true},
		{"-address", "", false}, // no value after it
		{"--config", "", false},
	} {
		got, ok := argAfter(args, tc.flag)
		if got != tc.want || ok != tc.ok {
			t.Errorf("argAfter(%s) = %q, %v; want %q, %v", tc.flag, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDescendants(t *testing.T) {
	procs := []proc{{pid: 1}, {pid: 10, ppid: 1}, {pid: 11, ppid: 10}, {pid: 12, ppid: 11}, {pid: 20, ppid: 1}, {pid: 21, ppid: 20}}
	got := descendants(procs, []int{10, 1})
	slices.Sort(got)
	if want := []int{10, 11, 12}; !slices.Equal(got, want) {
		t.Errorf("descendants = %v; want %v (never pid 1 or another tree)", got, want)
	}
}

func TestConfigRefusesRoot(t *testing.T) {
	for _, cfg := range []Config{{DataDir: "/"}, {DataDir: "/tmp/x", CgroupRoot: "/"}, {DataDir: "/tmp/x", CgroupRoot: "/a/../.."}} {
		if err := cfg.defaults(); err == nil {
			t.Errorf("defaults(%+v) accepted it; want an error", cfg)
		}
	}
}

// TestRefusesWhileRunning: a `skiff agent` with the same data directory
// makes Run refuse before touching anything.
func TestRefusesWhileRunning(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cmd := &exec.Cmd{Path: self, Args: []string{"skiff", "agent", "--data-dir", data}, Env: append(os.Environ(), "KILLALL_TEST_DAEMON=1")}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = checkNotRunning(data)
		if err != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !errors.Is(err, ErrRunning) {
		t.Fatalf("checkNotRunning with an agent on %s: %v; want ErrRunning", data, err)
	}
	if err := Run(context.Background(), Config{DataDir: data, CgroupRoot: "/skiff-killall-test"}); !errors.Is(err, ErrRunning) {
		t.Fatalf("Run: %v; want ErrRunning", err)
	}
	// Another data directory is refused too: the stand-in runs in this
	// network namespace, whose pod network Run would remove.
	if err := checkNotRunning(filepath.Join(dir, "other")); !errors.Is(err, ErrRunning) {
		t.Fatalf("checkNotRunning(other dir) with an agent in this network namespace: %v; want ErrRunning", err)
	}
}
