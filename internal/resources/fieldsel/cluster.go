package fieldsel

import (
	"fmt"

	certificatesv1 "k8s.io/api/certificates/v1"
	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The selectable fields of the cluster-infrastructure kinds that have
// any beyond metadata: ResourceSlice (node, driver, pool) and
// ClusterTrustBundle (signer).
func init() {
	conversions[schema.GroupKind{Group: "resource.k8s.io", Kind: "ResourceSlice"}] = accept(func(label string) string {
		return fmt.Sprintf("field label not supported for resource.k8s.io/v1, Kind=ResourceSlice: %s", label)
	}, nil, metaName, resourcev1.ResourceSliceSelectorNodeName, resourcev1.ResourceSliceSelectorDriver, resourcev1.ResourceSliceSelectorPoolName)
	conversions[schema.GroupKind{Group: "certificates.k8s.io", Kind: "ClusterTrustBundle"}] = accept(notSupported, nil, metaName, "spec.signerName")
}

// clusterFields adds the fields of the kinds above to set.
func clusterFields(set fields.Set, obj runtime.Object) {
	switch o := obj.(type) {
	case *resourcev1.ResourceSlice:
		node := ""
		if o.Spec.NodeName != nil {
			node = *o.Spec.NodeName
		}
		set[resourcev1.ResourceSliceSelectorNodeName] = node
		set[resourcev1.ResourceSliceSelectorDriver] = o.Spec.Driver
		set[resourcev1.ResourceSliceSelectorPoolName] = o.Spec.Pool.Name
	case *certificatesv1.ClusterTrustBundle:
		set["spec.signerName"] = o.Spec.SignerName
	}
}
