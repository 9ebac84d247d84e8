// Package tables renders served objects as the rows of a metav1.Table, the
// form the API server answers with when a client (kubectl get) asks for
// application/json;as=Table;g=meta.k8s.io;v=v1.
//
// Columns gives a kind's column definitions and Cells (or Row) one object's
// cells in the same order. The columns and the cell formatting follow what a
// Kubernetes API server sends, so that kubectl prints the same text against
// Skiff as against Kubernetes:
//
//   - every column, including the -o wide ones (Priority 1), is always
//     present: kubectl hides priority columns itself, exactly as it does with
//     an upstream server, which also always renders the wide form;
//   - ages are duration.HumanDuration of now minus the timestamp, "<unknown>"
//     for a zero timestamp;
//   - integer cells are int64, booleans bool, everything else string.
//
// Kinds without a dedicated printer get upstream's default table: Name and
// Created At (type "date", the creation time in RFC 3339, UTC).
//
// The package holds no state and starts nothing; every function is safe for
// concurrent use. Callers own the returned slices. The clock is injected: all
// ages are computed against the now argument, never time.Now.
package tables
