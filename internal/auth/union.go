package auth

import (
	"context"
	"strings"
)

// Union asks each authorizer in turn: the first Allow or Deny decides;
// when all have no opinion the request is denied with their reasons.
type Union []Authorizer

var _ Authorizer = Union(nil)

// Authorize implements Authorizer.
func (u Union) Authorize(ctx context.Context, a Attributes) (Decision, string, error) {
	var reasons []string
	var firstErr error
	for _, z := range u {
		d, reason, err := z.Authorize(ctx, a)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if d != NoOpinion {
			return d, reason, err
		}
		if reason != "" {
			reasons = append(reasons, reason)
		}
	}
	return NoOpinion, strings.Join(reasons, ", "), firstErr
}

// Privileged allows every request of the system:masters group, as
// upstream's first authorizer does; it has no opinion on anyone else.
type Privileged struct{}

// Authorize implements Authorizer.
func (Privileged) Authorize(_ context.Context, a Attributes) (Decision, string, error) {
	if a.User != nil {
		for _, g := range a.User.Groups {
			if g == SystemPrivileged {
				return Allow, "", nil
			}
		}
	}
	return NoOpinion, "", nil
}
