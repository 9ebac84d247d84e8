// Package audit records what the API server is asked to do, in upstream's
// audit log format: a policy (--audit-policy-file, audit.k8s.io/v1 Policy)
// picks a level per request, and events (audit.k8s.io/v1 Event) are
// written as JSON lines to --audit-log-path.
//
// # Use
//
//	policy, _ := audit.LoadPolicy(path)
//	out, _ := audit.OpenLog(logPath)          // "-" is stdout
//	w := audit.NewWriter(out, 0, logger)
//	go w.Run(ctx)                             // returns after a final flush
//	a := audit.New(policy, w, audit.Options{})
//
// Then, for every request, right after authentication:
//
//	w, r, ar := a.Begin(w, r, attrs)          // attrs.User = authenticated user
//	defer func() {
//		if v := recover(); v != nil { ar.Panic(v); panic(v) }
//		ar.End()
//	}()
//
// or wrap a handler with WithAudit, which does the same. Handlers further
// down add annotations with AddAnnotation(r.Context(), k, v), the
// impersonated user with SetImpersonatedUser and a created object's name
// and uid with SetObjectMeta.
//
// # What is recorded
//
// The first matching rule sets the level (no match: None, nothing is
// recorded). Metadata events carry who, what, when, the object reference,
// the response code and, for errors, the Status. Request adds the request
// body as read by the handler (JSON, or YAML converted to JSON; protobuf
// bodies are left out); RequestResponse adds the response body. Bodies over
// Options.MaxBodyBytes are left out and the event annotated
// audit.skiff.sh/truncated. Stages are RequestReceived, ResponseStarted
// (long-running requests only: watches, exec, attach, logs, port-forward,
// proxy), ResponseComplete and Panic, minus the policy's omitStages.
//
// # Concurrency and what it starts
//
// Auditor, Request and Writer are safe for concurrent use. Only
// Writer.Run starts work: one goroutine (the caller's) writing events until
// its context ends. Writer.Process never blocks: a full queue drops events
// (counted by Dropped and logged), trading completeness for never stalling
// requests. Log rotation (--audit-log-maxsize and friends) is not done
// here; use logrotate with copytruncate or a "-" path and a collector.
package audit
