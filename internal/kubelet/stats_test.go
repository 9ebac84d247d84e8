package kubelet

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestEmptyDirStatsFilesystem checks each emptyDir's stats carry, besides
// its usage, the capacity and free space and inodes of the filesystem
// holding it, as upstream's volume metrics do.
func TestEmptyDirStatsFilesystem(t *testing.T) {
	k, _ := newTestKubelet(t, &fakeRuntime{}, &fakeImages{}, EvictionConfig{})
	dir := filepath.Join(k.podDir("p"), "volumes", emptyDirPlugin)
	write(t, filepath.Join(dir, "data", "a"), strings.Repeat("x", 2000))
	now := metav1.NewTime(time.Unix(1, 0))
	vs := k.emptyDirStats("p", now)
	if len(vs) != 1 {
		t.Fatalf("volumes %+v; want data", vs)
	}
	fs := statFs(filepath.Join(dir, "data"), now)
	got := vs[0]
	for _, f := range []struct {
		name      string
		got, want *uint64
	}{
		{"capacityBytes", got.CapacityBytes, fs.CapacityBytes},
		{"inodes", got.Inodes, fs.Inodes},
	} {
		if f.got == nil || *f.got != *f.want {
			t.Errorf("%s = %v; want %d (the filesystem's)", f.name, f.got, *f.want)
		}
	}
	for name, v := range map[string]*uint64{"availableBytes": got.AvailableBytes, "inodesFree": got.InodesFree} {
		if v == nil || *v == 0 {
			t.Errorf("%s = %v; want the filesystem's", name, v)
		}
	}
	if got.UsedBytes == nil || *got.UsedBytes < 2000 || *got.UsedBytes >= *fs.UsedBytes {
		t.Errorf("usedBytes = %v; want the directory's usage (at least 2000), not the filesystem's", got.UsedBytes)
	}
}
