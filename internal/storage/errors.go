package storage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Upstream messages, kept verbatim because clients match on them.
const (
	msgInconsistentContinue = "The provided continue parameter is too old to display a consistent list result. " +
		"You can start a new list without the continue parameter, or use the continue token in this response to " +
		"retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - " +
		"objects that were created, modified, or deleted between the time the first chunk was returned and now may " +
		"show up in the list."
	msgListTooOld = "The resourceVersion for the provided list is too old."
)

// tooLargeResourceVersion is the 504 returned when the cache does not reach
// a requested revision in time; clients retry after a second.
func tooLargeResourceVersion(want, cur uint64) error {
	return tooLargeResourceVersionRetry(want, cur, 1)
}

// tooLargeResourceVersionRetry is tooLargeResourceVersion with the
// Retry-After upstream gives in each case: 0 when etcd itself refuses a
// future revision (a list continued with a token from the future).
func tooLargeResourceVersionRetry(want, cur uint64, retrySeconds int) error {
	err := apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d, current: %d", want, cur), retrySeconds)
	err.ErrStatus.Details.Causes = []metav1.StatusCause{{
		Type:    metav1.CauseTypeResourceVersionTooLarge,
		Message: "Too large resource version",
	}}
	return err
}

// tooOldResourceVersion is the 410 returned when a watch starts before the
// oldest event the cache still holds.
func tooOldResourceVersion(want, oldest uint64) error {
	return apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", want, oldest))
}

// requestTooLarge is returned by writes of an object larger than etcd
// takes: 413 RequestEntityTooLarge with etcd's message, which is the one
// upstream's clients see. The API server catches it
// (apierrors.IsRequestEntityTooLargeError) to retry without managedFields,
// as upstream does.
func requestTooLarge() error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusRequestEntityTooLarge,
		Reason:  metav1.StatusReasonRequestEntityTooLarge,
		Message: rpctypes.ErrRequestTooLarge.Error(),
	}}
}

// isTooLarge reports an etcd refusal of a request for its size: etcd's
// own (over --max-request-bytes) or gRPC's on either side (over the
// message limit), as upstream's API server recognises them.
func isTooLarge(err error) bool {
	if errors.Is(err, rpctypes.ErrRequestTooLarge) || errors.Is(err, rpctypes.ErrGRPCRequestTooLarge) {
		return true
	}
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return false
	}
	st := se.GRPCStatus()
	if st.Code() == codes.InvalidArgument && st.Message() == rpctypes.ErrRequestTooLarge.Error() {
		return true
	}
	return st.Code() == codes.ResourceExhausted &&
		(strings.Contains(st.Message(), "trying to send message larger than max") || strings.Contains(st.Message(), "received message larger than max"))
}

// etcdError turns a client error into an API error.
func etcdError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return apierrors.NewTimeoutError(fmt.Sprintf("etcd request: %v", err), 1)
	case errors.Is(err, rpctypes.ErrCompacted):
		return apierrors.NewResourceExpired(msgListTooOld)
	case isTooLarge(err):
		return requestTooLarge()
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return err
	}
	return apierrors.NewInternalError(fmt.Errorf("etcd: %w", err))
}
