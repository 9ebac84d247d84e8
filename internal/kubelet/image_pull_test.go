package kubelet

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// unpullable is an image service without images whose pulls fail.
type unpullable struct {
	runtimeapi.ImageServiceClient
	pulls int
}

func (f *unpullable) ImageStatus(context.Context, *runtimeapi.ImageStatusRequest, ...grpc.CallOption) (*runtimeapi.ImageStatusResponse, error) {
	return &runtimeapi.ImageStatusResponse{}, nil
}

func (f *unpullable) PullImage(context.Context, *runtimeapi.PullImageRequest, ...grpc.CallOption) (*runtimeapi.PullImageResponse, error) {
	f.pulls++
	return nil, errors.New("no such host")
}

// TestEnsureImagePullBackOff follows a failing pull through upstream's
// states: ErrImagePull, ImagePullBackOff (its message wrapping the pull
// error) until the back-off since the failed pull has passed, a new pull,
// and a doubled back-off.
func TestEnsureImagePullBackOff(t *testing.T) {
	images := &unpullable{}
	k, clk := newTestKubelet(t, &fakeRuntime{}, images, EvictionConfig{})
	events := record.NewFakeRecorder(100)
	k.recorder = events
	w := newPodWorker(k, "u", "ns", "p")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"}}
	c := &corev1.Container{Name: "c", Image: "registry.invalid/x:1", ImagePullPolicy: corev1.PullIfNotPresent}
	const backOff = `Back-off pulling image "registry.invalid/x:1": ErrImagePull: no such host`
	steps := []struct {
		name       string
		advance    time.Duration // before this step
		wantPulls  int
		wantReason string
		wantMsg    string
		wantRetry  time.Duration
		wantEvents []string
	}{
		{"first pull fails", 0, 1, "ErrImagePull", "no such host", 10 * time.Second, []string{
			`Normal Pulling Pulling image "registry.invalid/x:1"`,
			`Warning Failed Failed to pull image "registry.invalid/x:1": no such host`,
			"Warning Failed Error: ErrImagePull",
		}},
		{"held back", time.Second, 1, "ImagePullBackOff", backOff, 9 * time.Second, []string{
			`Normal BackOff Back-off pulling image "registry.invalid/x:1"`,
			"Warning Failed Error: ImagePullBackOff",
		}},
		{"still held back", 8 * time.Second, 1, "ImagePullBackOff", backOff, time.Second, []string{
			`Normal BackOff Back-off pulling image "registry.invalid/x:1"`,
			"Warning Failed Error: ImagePullBackOff",
		}},
		{"pulled again after the back-off", time.Second, 2, "ErrImagePull", "no such host", 20 * time.Second, []string{
			`Normal Pulling Pulling image "registry.invalid/x:1"`,
			`Warning Failed Failed to pull image "registry.invalid/x:1": no such host`,
			"Warning Failed Error: ErrImagePull",
		}},
		{"held back for twice as long", 15 * time.Second, 2, "ImagePullBackOff", backOff, 5 * time.Second, []string{
			`Normal BackOff Back-off pulling image "registry.invalid/x:1"`,
			"Warning Failed Error: ImagePullBackOff",
		}},
	}
	for _, s := range steps {
		clk.Step(s.advance)
		ref, retry := w.ensureImage(context.Background(), pod, c)
		wt := w.waiting[c.Name]
		if ref != "" || retry != s.wantRetry || images.pulls != s.wantPulls || wt.Reason != s.wantReason || wt.Message != s.wantMsg {
			t.Fatalf("%s: ref %q, retry %s, pulls %d, waiting %s %q; want \"\", %s, %d, %s %q",
				s.name, ref, retry, images.pulls, wt.Reason, wt.Message, s.wantRetry, s.wantPulls, s.wantReason, s.wantMsg)
		}
		var got []string
		for len(events.Events) > 0 {
			got = append(got, <-events.Events)
		}
		if !slices.Equal(got, s.wantEvents) {
			t.Fatalf("%s: events %q; want %q", s.name, got, s.wantEvents)
		}
	}
}
