package history

import (
	"context"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes/fake"
)

func owner() Owner {
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ds", UID: "uid"}}
	return Owner{Meta: ds, GVK: appsv1.SchemeGroupVersion.WithKind("DaemonSet")}
}

func data(t *testing.T, image string) []byte {
	t.Helper()
	b, err := TemplateData(&corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func list(t *testing.T, c *fake.Clientset) []*appsv1.ControllerRevision {
	l, err := c.AppsV1().ControllerRevisions("ns").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*appsv1.ControllerRevision
	for i := range l.Items {
		out = append(out, &l.Items[i])
	}
	Sort(out)
	return out
}

func TestEnsure(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientset()
	o := owner()
	r1, cc, err := Ensure(ctx, c, o, nil, data(t, "a"), nil, nil)
	if err != nil || r1.Revision != 1 || cc != nil {
		t.Fatalf("first: rev %v, collisions %v, err %v", r1, cc, err)
	}
	if got := r1.Labels[appsv1.ControllerRevisionHashLabelKey]; r1.Name != "ds-"+got {
		t.Errorf("name %q; hash label %q", r1.Name, got)
	}
	again, _, _ := Ensure(ctx, c, o, nil, data(t, "a"), list(t, c), nil)
	if again.Name != r1.Name {
		t.Errorf("same data made a new revision %s", again.Name)
	}
	r2, _, _ := Ensure(ctx, c, o, nil, data(t, "b"), list(t, c), nil)
	if r2.Revision != 2 {
		t.Errorf("second revision numbered %d", r2.Revision)
	}
	back, _, _ := Ensure(ctx, c, o, nil, data(t, "a"), list(t, c), nil)
	if back.Name != r1.Name || back.Revision != 3 {
		t.Errorf("rollback: %s@%d; want %s@3", back.Name, back.Revision, r1.Name)
	}
	tmpl, err := Template(back)
	if err != nil || tmpl.Spec.Containers[0].Image != "a" {
		t.Errorf("Template: %v, %v", tmpl, err)
	}

	// A foreign revision under the name the data hashes to: collide.
	d := data(t, "c")
	clash := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: Name("ds", Hash(d, new(int32)))},
		Data: runtime.RawExtension{Raw: []byte(`{}`)}}
	if _, err := c.AppsV1().ControllerRevisions("ns").Create(ctx, clash, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r3, cc, err := Ensure(ctx, c, o, nil, d, list(t, c)[1:], nil)
	if err != nil || cc == nil || *cc != 1 || r3.Name == clash.Name {
		t.Errorf("collision: rev %v, count %v, err %v", r3.Name, cc, err)
	}
}

func TestTruncate(t *testing.T) {
	c := fake.NewClientset()
	var revs []*appsv1.ControllerRevision
	for i, n := range []string{"a", "b", "c", "d"} {
		r := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: n}, Revision: int64(i + 1)}
		if _, err := c.AppsV1().ControllerRevisions("ns").Create(context.Background(), r, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		revs = append(revs, r)
	}
	if err := Truncate(context.Background(), c, revs, sets.New("a", "d"), 1); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range list(t, c) {
		got = append(got, r.Name)
	}
	if want := "[a c d]"; fmt.Sprint(got) != want {
		t.Errorf("kept %v; want %s", got, want)
	}
}
