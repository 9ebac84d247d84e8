package manager

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/auth/rbac/aggregation"
	"github.com/skiff-sh/skiff/internal/controller/clusterdns"
	"github.com/skiff-sh/skiff/internal/controller/cronjob"
	"github.com/skiff-sh/skiff/internal/controller/daemonset"
	"github.com/skiff-sh/skiff/internal/controller/deployment"
	"github.com/skiff-sh/skiff/internal/controller/garbagecollector"
	"github.com/skiff-sh/skiff/internal/controller/job"
	"github.com/skiff-sh/skiff/internal/controller/namespace"
	"github.com/skiff-sh/skiff/internal/controller/replicaset"
	"github.com/skiff-sh/skiff/internal/controller/resourcequota"
	"github.com/skiff-sh/skiff/internal/controller/rootcacert"
	"github.com/skiff-sh/skiff/internal/controller/serviceaccount"
	"github.com/skiff-sh/skiff/internal/controller/servicelb"
	"github.com/skiff-sh/skiff/internal/controller/statefulset"
	"github.com/skiff-sh/skiff/internal/controller/ttlafterfinished"
)

// controllers is every controller the manager runs, in start order. Add
// new controllers here, one line each.
var controllers = []Entry{
	{Name: "namespace", New: newNamespace},
	{Name: "garbagecollector", New: newGarbageCollector},
	{Name: "serviceaccount", New: newServiceAccount},
	{Name: "root-ca-cert-publisher", New: newRootCACertPublisher},
	{Name: "resourcequota", New: newResourceQuota},
	{Name: "clusterrole-aggregation", New: newClusterRoleAggregation},
	{Name: "endpoints", New: newEndpoints},
	{Name: "endpointslice", New: newEndpointSlice},
	{Name: "endpointslice-mirroring", New: newEndpointSliceMirroring},
	{Name: "cluster-dns-endpoints", New: newClusterDNSEndpoints},
	{Name: "service-lb", New: newServiceLB},
	{Name: "node-lifecycle", New: newNodeLifecycle},
	{Name: "pod-garbage-collector", New: newPodGC},
	{Name: "node-ipam", New: newNodeIPAM},
	{Name: "disruption", New: newDisruption},
	{Name: "statefulset", New: newStatefulSet},
	{Name: "daemonset", New: newDaemonSet},
	{Name: "job", New: newJob},
	{Name: "cronjob", New: newCronJob},
	{Name: "ttl-after-finished", New: newTTLAfterFinished},
	{Name: "replicaset", New: newReplicaSet},
	{Name: "replicationcontroller", New: newReplicationController},
	{Name: "deployment", New: newDeployment},
}

func newNamespace(c *Context) (Controller, error) {
	return namespace.New(namespace.Config{
		Client:     c.Client,
		Metadata:   c.Metadata,
		Namespaces: c.Informers.Core().V1().Namespaces(),
		Discover: func() ([]*metav1.APIResourceList, error) {
			return discovery.ServerPreferredNamespacedResources(c.Discovery)
		},
		Clock:         c.Clock,
		Logger:        c.Logger,
		MaxRetryDelay: c.Options.MaxRetryDelay,
	}), nil
}

func newGarbageCollector(c *Context) (Controller, error) {
	return garbagecollector.New(garbagecollector.Config{
		Metadata: c.Metadata,
		Discover: func() ([]*metav1.APIResourceList, error) {
			return discovery.ServerPreferredResources(c.Discovery)
		},
		Mapper:            c.Mapper,
		Clock:             c.Clock,
		Logger:            c.Logger,
		RediscoveryPeriod: c.Options.RediscoveryPeriod,
		MaxRetryDelay:     c.Options.MaxRetryDelay,
	}), nil
}

func newServiceAccount(c *Context) (Controller, error) {
	return serviceaccount.New(serviceaccount.Config{
		Client:          c.Client,
		Namespaces:      c.Informers.Core().V1().Namespaces(),
		ServiceAccounts: c.Informers.Core().V1().ServiceAccounts(),
		Clock:           c.Clock,
		Logger:          c.Logger,
		MaxRetryDelay:   c.Options.MaxRetryDelay,
	}), nil
}

func newRootCACertPublisher(c *Context) (Controller, error) {
	return rootcacert.New(rootcacert.Config{
		Client:        c.Client,
		Namespaces:    c.Informers.Core().V1().Namespaces(),
		ConfigMaps:    c.Informers.Core().V1().ConfigMaps(),
		RootCA:        c.RootCACert,
		Clock:         c.Clock,
		Logger:        c.Logger,
		MaxRetryDelay: c.Options.MaxRetryDelay,
	})
}

func newResourceQuota(c *Context) (Controller, error) {
	core := c.Informers.Core().V1()
	return resourcequota.New(resourcequota.Config{
		Client: c.Client,
		Quotas: core.ResourceQuotas(),
		Sources: map[schema.GroupResource]cache.SharedIndexInformer{
			{Resource: "pods"}:                   core.Pods().Informer(),
			{Resource: "services"}:               core.Services().Informer(),
			{Resource: "persistentvolumeclaims"}: core.PersistentVolumeClaims().Informer(),
			{Resource: "configmaps"}:             core.ConfigMaps().Informer(),
			{Resource: "secrets"}:                core.Secrets().Informer(),
			{Resource: "replicationcontrollers"}: core.ReplicationControllers().Informer(),
			{Resource: "resourcequotas"}:         core.ResourceQuotas().Informer(),
		},
		Metadata:      c.Metadata,
		Mapper:        c.Mapper,
		Clock:         c.Clock,
		Logger:        c.Logger,
		MaxRetryDelay: c.Options.MaxRetryDelay,
	}), nil
}

func newClusterRoleAggregation(c *Context) (Controller, error) {
	return aggregation.New(c.Client, c.Informers.Rbac().V1().ClusterRoles(), c.Logger), nil
}

func newReplicaSet(c *Context) (Controller, error) {
	return replicaset.New(replicaset.Config{
		Client:        c.Client,
		Pods:          c.Informers.Core().V1().Pods(),
		ReplicaSets:   c.Informers.Apps().V1().ReplicaSets(),
		Clock:         c.Clock,
		Logger:        c.Logger,
		MaxRetryDelay: c.Options.MaxRetryDelay,
	})
}

func newReplicationController(c *Context) (Controller, error) {
	return replicaset.New(replicaset.Config{
		Client:                 c.Client,
		Pods:                   c.Informers.Core().V1().Pods(),
		ReplicationControllers: c.Informers.Core().V1().ReplicationControllers(),
		Clock:                  c.Clock,
		Logger:                 c.Logger,
		MaxRetryDelay:          c.Options.MaxRetryDelay,
	})
}

func newJob(c *Context) (Controller, error) {
	return job.New(job.Config{
		Client:        c.Client,
		Jobs:          c.Informers.Batch().V1().Jobs(),
		Pods:          c.Informers.Core().V1().Pods(),
		Clock:         c.Clock,
		Logger:        c.Logger,
		MaxRetryDelay: c.Options.MaxRetryDelay,
	}), nil
}

func newCronJob(c *Context) (Controller, error) {
	return cronjob.New(cronjob.Config{
		Client:        c.Client,
		CronJobs:      c.Informers.Batch().V1().CronJobs(),
		Jobs:          c.Informers.Batch().V1().Jobs(),
		Clock:         c.Clock,
		Logger:        c.Logger,
		MaxRetryDelay: c.Options.MaxRetryDelay,
	}), nil
}

func newTTLAfterFinished(c *Context) (Controller, error) {
	return ttlafterfinished.New(ttlafterfinished.Config{
		Client:        c.Client,
		Jobs:          c.Informers.Batch().V1().Jobs(),
		Clock:         c.Clock,
		Logger:        c.Logger,
		MaxRetryDelay: c.Options.MaxRetryDelay,
	}), nil
}

func newStatefulSet(c *Context) (Controller, error) {
	return statefulset.New(statefulset.Config{
		Client:        c.Client,
		StatefulSets:  c.Informers.Apps().V1().StatefulSets(),
		Pods:          c.Informers.Core().V1().Pods(),
		Claims:        c.Informers.Core().V1().PersistentVolumeClaims(),
		Revisions:     c.Informers.Apps().V1().ControllerRevisions(),
		Clock:         c.Clock,
		Logger:        c.Logger,
		MaxRetryDelay: c.Options.MaxRetryDelay,
	}), nil
}

func newDaemonSet(c *Context) (Controller, error) {
	return daemonset.New(daemonset.Config{
		Client:        c.Client,
		DaemonSets:    c.Informers.Apps().V1().DaemonSets(),
		Pods:          c.Informers.Core().V1().Pods(),
		Nodes:         c.Informers.Core().V1().Nodes(),
		Revisions:     c.Informers.Apps().V1().ControllerRevisions(),
		Clock:         c.Clock,
		Logger:        c.Logger,
		MaxRetryDelay: c.Options.MaxRetryDelay,
	}), nil
}

func newDeployment(c *Context) (Controller, error) {
	return deployment.New(deployment.Config{
		Client:        c.Client,
		Deployments:   c.Informers.Apps().V1().Deployments(),
		ReplicaSets:   c.Informers.Apps().V1().ReplicaSets(),
		Pods:          c.Informers.Core().V1().Pods(),
		Clock:         c.Clock,
		Logger:        c.Logger,
		MaxRetryDelay: c.Options.MaxRetryDelay,
	}), nil
}

func newClusterDNSEndpoints(c *Context) (Controller, error) {
	return clusterdns.New(clusterdns.Config{
		Client:         c.Client,
		Services:       c.Informers.Core().V1().Services(),
		Nodes:          c.Informers.Core().V1().Nodes(),
		EndpointSlices: c.Informers.Discovery().V1().EndpointSlices(),
		Clock:          c.Clock,
		Logger:         c.Logger,
		MaxRetryDelay:  c.Options.MaxRetryDelay,
	}), nil
}

func newServiceLB(c *Context) (Controller, error) {
	return servicelb.New(servicelb.Config{
		Client:        c.Client,
		Services:      c.Informers.Core().V1().Services(),
		Nodes:         c.Informers.Core().V1().Nodes(),
		Clock:         c.Clock,
		Logger:        c.Logger,
		MaxRetryDelay: c.Options.MaxRetryDelay,
	}), nil
}
