package manager

import (
	"strings"

	"github.com/skiff-sh/skiff/internal/controller/disruption"
	"github.com/skiff-sh/skiff/internal/controller/endpointslice"
	"github.com/skiff-sh/skiff/internal/controller/nodeipam"
	"github.com/skiff-sh/skiff/internal/controller/nodelifecycle"
	"github.com/skiff-sh/skiff/internal/controller/podgc"
)

// Constructors of the service-discovery, node and disruption controllers;
// their entries are in the list in controllers.go.

func newEndpoints(c *Context) (Controller, error) {
	core := c.Informers.Core().V1()
	return endpointslice.NewEndpoints(endpointslice.EndpointsConfig{
		Client: c.Client, Services: core.Services(), Pods: core.Pods(), Endpoints: core.Endpoints(),
		Clock: c.Clock, Logger: c.Logger, MaxRetryDelay: c.Options.MaxRetryDelay,
	}), nil
}

func newEndpointSlice(c *Context) (Controller, error) {
	core := c.Informers.Core().V1()
	return endpointslice.NewSlices(endpointslice.SliceConfig{
		Client: c.Client, Services: core.Services(), Pods: core.Pods(), Nodes: core.Nodes(),
		EndpointSlices: c.Informers.Discovery().V1().EndpointSlices(),
		Clock:          c.Clock, Logger: c.Logger, MaxRetryDelay: c.Options.MaxRetryDelay,
	}), nil
}

func newEndpointSliceMirroring(c *Context) (Controller, error) {
	core := c.Informers.Core().V1()
	return endpointslice.NewMirroring(endpointslice.MirroringConfig{
		Client: c.Client, Services: core.Services(), Endpoints: core.Endpoints(),
		EndpointSlices: c.Informers.Discovery().V1().EndpointSlices(),
		Clock:          c.Clock, Logger: c.Logger, MaxRetryDelay: c.Options.MaxRetryDelay,
	}), nil
}

func newNodeLifecycle(c *Context) (Controller, error) {
	core := c.Informers.Core().V1()
	return nodelifecycle.New(nodelifecycle.Config{
		Client: c.Client, Nodes: core.Nodes(), Pods: core.Pods(),
		Leases:      c.Informers.Coordination().V1().Leases(),
		GracePeriod: c.Options.NodeMonitorGracePeriod,
		Clock:       c.Clock, Logger: c.Logger, MaxRetryDelay: c.Options.MaxRetryDelay,
	}), nil
}

func newPodGC(c *Context) (Controller, error) {
	core := c.Informers.Core().V1()
	return podgc.New(podgc.Config{
		Client: c.Client, Pods: core.Pods(), Nodes: core.Nodes(),
		Threshold: c.Options.TerminatedPodGCThreshold,
		Clock:     c.Clock, Logger: c.Logger,
	}), nil
}

func newNodeIPAM(c *Context) (Controller, error) {
	var cidrs []string
	for _, s := range strings.Split(c.Options.ClusterCIDR, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cidrs = append(cidrs, s)
		}
	}
	return nodeipam.New(nodeipam.Config{
		Client: c.Client, Nodes: c.Informers.Core().V1().Nodes(), ClusterCIDRs: cidrs,
		Clock: c.Clock, Logger: c.Logger, MaxRetryDelay: c.Options.MaxRetryDelay,
	})
}

func newDisruption(c *Context) (Controller, error) {
	core, apps := c.Informers.Core().V1(), c.Informers.Apps().V1()
	return disruption.New(disruption.Config{
		Client: c.Client, PDBs: c.Informers.Policy().V1().PodDisruptionBudgets(), Pods: core.Pods(),
		ReplicationControllers: core.ReplicationControllers(), ReplicaSets: apps.ReplicaSets(),
		Deployments: apps.Deployments(), StatefulSets: apps.StatefulSets(),
		Clock: c.Clock, Logger: c.Logger, MaxRetryDelay: c.Options.MaxRetryDelay,
	}), nil
}
