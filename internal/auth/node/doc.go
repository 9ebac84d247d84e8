// Package node is the Node authorizer: it lets a node agent, identified as
// user "system:node:NAME" in group "system:nodes", do what running its own
// pods needs and no more, as upstream's Node authorization mode does.
//
// Reads of secrets, configmaps, persistent volume claims, persistent
// volumes, volume attachments, service account tokens and pods are allowed
// only for objects related to a pod bound to the node (spec.nodeName).
// Reads of Node objects are allowed only for the node's own; leases only in
// kube-node-lease under the node's name. Writes a node needs (its Node and
// status, pod status, mirror pods, evictions, events) are allowed for any
// object: the NodeRestriction admission plugin narrows them to the node's
// own. Everything else is judged against the system:node rules
// (rbac.NodeRules).
//
// Relations are computed on each request from a Graph, which the API
// server backs with its watch cache (pods indexed by spec.nodeName). The
// Authorizer holds no state of its own and is safe for concurrent use.
//
// The authorizer never denies: for requests it does not allow, and for
// every non-node user, it returns auth.NoOpinion with a reason, so it runs
// first in the chain, ahead of RBAC.
package node
