package apiserver

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/exec"
)

func TestCommandStatus(t *testing.T) {
	exit3 := exec.CodeExitError{Err: errors.New("command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3"), Code: 3}
	tests := []struct {
		name   string
		err    error
		status string
		reason metav1.StatusReason
		cause  string // the ExitCode cause's message, if any
	}{
		{"success", nil, metav1.StatusSuccess, "", ""},
		{"exit code", exit3, metav1.StatusFailure, "NonZeroExitCode", "3"},
		{"wrapped exit code", fmt.Errorf("streaming: %w", exit3), metav1.StatusFailure, "NonZeroExitCode", "3"},
		{"other error", errors.New("container not found"), metav1.StatusFailure, metav1.StatusReasonInternalError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := commandStatus(tt.err)
			if st.Status != tt.status || st.Reason != tt.reason {
				t.Fatalf("status %q reason %q; want %q %q", st.Status, st.Reason, tt.status, tt.reason)
			}
			var cause string
			if st.Details != nil {
				for _, c := range st.Details.Causes {
					if c.Type == "ExitCode" {
						cause = c.Message
					}
				}
			}
			if cause != tt.cause {
				t.Errorf("ExitCode cause %q; want %q", cause, tt.cause)
			}
			if tt.reason == metav1.StatusReasonInternalError && (st.Code != http.StatusInternalServerError || st.Message != tt.err.Error()) {
				t.Errorf("code %d message %q", st.Code, st.Message)
			}
		})
	}
}

func TestTranslatable(t *testing.T) {
	ws := func(protocols string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "https://x/api/v1/namespaces/ns/pods/p/exec", nil)
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Sec-WebSocket-Protocol", protocols)
		return r
	}
	spdy, _ := http.NewRequest(http.MethodPost, "https://x/api/v1/namespaces/ns/pods/p/exec", nil)
	spdy.Header.Set("Connection", "Upgrade")
	spdy.Header.Set("Upgrade", "SPDY/3.1")
	tests := []struct {
		name        string
		r           *http.Request
		subresource string
		want        bool
	}{
		{"exec v5", ws("v5.channel.k8s.io"), "exec", true},
		{"attach v4 among others", ws("base64.channel.k8s.io, v4.channel.k8s.io"), "attach", true},
		{"exec v1 only: proxied", ws("channel.k8s.io"), "exec", false},
		{"port-forward tunnel", ws("SPDY/3.1+portforward.k8s.io"), "portforward", true},
		{"port-forward with channel protocol: proxied", ws("v4.channel.k8s.io"), "portforward", false},
		{"exec with the tunnel protocol: proxied", ws("SPDY/3.1+portforward.k8s.io"), "exec", false},
		{"SPDY: proxied", spdy, "exec", false},
	}
	for _, tt := range tests {
		if got := translatable(tt.r, tt.subresource); got != tt.want {
			t.Errorf("%s: translatable = %v; want %v", tt.name, got, tt.want)
		}
	}
}
