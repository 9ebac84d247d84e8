package manager

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/auth/rbac/aggregation"
	"github.com/skiff-sh/skiff/internal/controller/certificates"
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
// new controllers here, one line each. The service accounts are
// upstream's: cluster-dns-endpoints writes EndpointSlices for a Service
// as endpointslice does, and service-lb writes Service status as
// upstream's service controller does, so each uses that controller's.
var controllers = []Entry{
	{Name: "namespace", ServiceAccount: "namespace-controller", New: newNamespace},
	{Name: "garbagecollector", ServiceAccount: "generic-garbage-collector", New: newGarbageCollector},
	{Name: "serviceaccount", ServiceAccount: "service-account-controller", New: newServiceAccount},
	{Name: "root-ca-cert-publisher", ServiceAccount: "root-ca-cert-publisher", New: newRootCACertPublisher},
	{Name: "resourcequota", ServiceAccount: "resourcequota-controller", New: newResourceQuota},
	{Name: "clusterrole-aggregation", ServiceAccount: "clusterrole-aggregation-controller", New: newClusterRoleAggregation},
	{Name: "endpoints", ServiceAccount: "endpoint-controller", New: newEndpoints},
	{Name: "endpointslice", ServiceAccount: "endpointslice-controller", New: newEndpointSlice},
	{Name: "endpointslice-mirroring", ServiceAccount: "endpointslicemirroring-controller", New: newEndpointSliceMirroring},
	{Name: "cluster-dns-endpoints", ServiceAccount: "endpointslice-controller", New: newClusterDNSEndpoints},
	{Name: "service-lb", ServiceAccount: "service-controller", New: newServiceLB},
	{Name: "node-lifecycle", ServiceAccount: "node-controller", New: newNodeLifecycle},
	{Name: "pod-garbage-collector", ServiceAccount: "pod-garbage-collector", New: newPodGC},
	{Name: "node-ipam", ServiceAccount: "node-controller", New: newNodeIPAM},
	{Name: "disruption", ServiceAccount: "disruption-controller", New: newDisruption},
	{Name: "statefulset", ServiceAccount: "statefulset-controller", New: newStatefulSet},
	{Name: "daemonset", ServiceAccount: "daemon-set-controller", New: newDaemonSet},
	{Name: "job", ServiceAccount: "job-controller", New: newJob},
	{Name: "cronjob", ServiceAccount: "cronjob-controller", New: newCronJob},
	{Name: "ttl-after-finished", ServiceAccount: "ttl-after-finished-controller", New: newTTLAfterFinished},
	{Name: "replicaset", ServiceAccount: "replicaset-controller", New: newReplicaSet},
	{Name: "replicationcontroller", ServiceAccount: "replication-controller", New: newReplicationController},
	{Name: "deployment", ServiceAccount: "deployment-controller", New: newDeployment},
	{Name: "csrapproving", ServiceAccount: "certificate-controller", New: newCSRApproving},
	{Name: "csrsigning", ServiceAccount: "certificate-controller", New: newCSRSigning},
	{Name: "csrcleaner", ServiceAccount: "certificate-controller", New: newCSRCleaner},
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

func newCSRApproving(c *Context) (Controller, error) {
	return certificates.NewApprover(certificates.ApproverConfig{
		Client: c.Client, CSRs: c.Informers.Certificates().V1().CertificateSigningRequests(),
		Nodes: c.Informers.Core().V1().Nodes(),
		Clock: c.Clock, Logger: c.Logger, MaxRetryDelay: c.Options.MaxRetryDelay,
	}), nil
}

func newCSRSigning(c *Context) (Controller, error) {
	if c.Options.SigningCA.Cert == nil || c.Options.SigningCA.Key == nil {
		// As upstream without --cluster-signing-cert-file: nothing signs.
		c.Logger.Warn("csrsigning is off: no signing CA")
		return idle{}, nil
	}
	return certificates.NewSigner(certificates.SignerConfig{
		Client: c.Client, CSRs: c.Informers.Certificates().V1().CertificateSigningRequests(),
		CA:    c.Options.SigningCA,
		Clock: c.Clock, Logger: c.Logger, MaxRetryDelay: c.Options.MaxRetryDelay,
	}), nil
}

func newCSRCleaner(c *Context) (Controller, error) {
	return certificates.NewCleaner(certificates.CleanerConfig{
		Client: c.Client, CSRs: c.Informers.Certificates().V1().CertificateSigningRequests(),
		Clock: c.Clock, Logger: c.Logger,
	}), nil
}

// idle stands in for a controller that is off for want of configuration.
type idle struct{}

func (idle) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
