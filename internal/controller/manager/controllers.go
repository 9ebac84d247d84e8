package manager

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"

	"github.com/skiff-sh/skiff/internal/controller/garbagecollector"
	"github.com/skiff-sh/skiff/internal/controller/namespace"
)

// controllers is every controller the manager runs, in start order. Add
// new controllers here, one line each.
var controllers = []Entry{
	{Name: "namespace", New: newNamespace},
	{Name: "garbagecollector", New: newGarbageCollector},
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
