package storage

import (
	"fmt"
	"net/http"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestEtcdErrorTooLarge(t *testing.T) {
	cases := []struct {
		name  string
		err   error
		large bool
	}{
		{"etcd request too large", rpctypes.ErrRequestTooLarge, true},
		{"etcd gRPC request too large", rpctypes.ErrGRPCRequestTooLarge, true},
		{"client send limit", status.Error(codes.ResourceExhausted, "grpc: trying to send message larger than max (2097300 vs. 2097152)"), true},
		{"server receive limit, wrapped", fmt.Errorf("put: %w", status.Error(codes.ResourceExhausted, "grpc: received message larger than max (3000000 vs. 2097152)")), true},
		{"no space", rpctypes.ErrNoSpace, false},
		{"throttled", status.Error(codes.ResourceExhausted, "etcdserver: too many requests"), false},
		{"unavailable", status.Error(codes.Unavailable, "connection refused"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := etcdError(tc.err)
			if got := apierrors.IsRequestEntityTooLargeError(err); got != tc.large {
				t.Fatalf("etcdError(%v) = %v; want too large %v", tc.err, err, tc.large)
			}
			if !tc.large {
				return
			}
			st := err.(apierrors.APIStatus).Status()
			if st.Code != http.StatusRequestEntityTooLarge || st.Message != "etcdserver: request is too large" {
				t.Errorf("status %d %q; want 413 %q", st.Code, st.Message, "etcdserver: request is too large")
			}
		})
	}
}
