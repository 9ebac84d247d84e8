package admission

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodSecurity(t *testing.T) {
	ns := func(name string, labels map[string]string) corev1.Namespace {
		return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	}
	store := &fakeStore{namespaces: []corev1.Namespace{
		ns("open", nil),
		ns("strict", map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}),
		ns("warned", map[string]string{"pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/audit": "baseline"}),
	}}
	p := NewPodSecurity(store, PodSecurityConfig{})
	privileged := func(name, namespace string) *corev1.Pod {
		yes := true
		pod := newPod(name)
		pod.Namespace = namespace
		pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &yes}
		return pod
	}
	const restrictedDetail = `privileged (container "c" must not set securityContext.privileged=true), ` +
		`allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ` +
		`unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ` +
		`runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ` +
		`seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`
	deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "strict"}}
	deploy.Spec.Template.Spec = privileged("", "").Spec

	tests := []struct {
		name      string
		req       *Request
		wantErr   string
		wantWarn  string
		wantAudit string
	}{
		{name: "privileged namespace", req: podCreate(privileged("p", "open"))},
		{name: "enforce restricted", req: request(Create, "", "pods", "", "strict", "p", privileged("p", "strict"), nil),
			wantErr: `pods "p" is forbidden: violates PodSecurity "restricted:latest": ` + restrictedDetail},
		{name: "warn and audit", req: request(Create, "", "pods", "", "warned", "p", privileged("p", "warned"), nil),
			wantWarn:  `would violate PodSecurity "restricted:latest": ` + restrictedDetail,
			wantAudit: `would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`},
		{name: "workloads only warn", req: request(Create, "apps", "deployments", "", "strict", "d", deploy, nil),
			wantWarn: `would violate PodSecurity "restricted:latest": ` + restrictedDetail},
		{name: "status ignored", req: request(Update, "", "pods", "status", "strict", "p", privileged("p", "strict"), privileged("p", "strict"))},
		{name: "bad namespace label", req: request(Create, "", "namespaces", "", "", "x", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "strictest"}}}, nil),
			wantErr: `Namespace "x" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strictest": must be one of privileged, baseline, restricted`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Validate(context.Background(), tt.req)
			got := errString(err)
			if (tt.wantErr == "") != (got == "") || !strings.HasPrefix(got, tt.wantErr) {
				t.Fatalf("got %q; want %q", got, tt.wantErr)
			}
			warn := strings.Join(tt.req.Warnings, "\n")
			if warn != tt.wantWarn {
				t.Errorf("warnings = %q; want %q", warn, tt.wantWarn)
			}
			if got := tt.req.AuditAnnotations[PodSecurityAuditViolationsAnnotation]; got != tt.wantAudit {
				t.Errorf("audit = %q; want %q", got, tt.wantAudit)
			}
		})
	}
}
