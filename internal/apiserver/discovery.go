package apiserver

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/resources"
)

// discovery holds the discovery documents, encoded once at start.
type discovery struct {
	// docs maps a path (/api, /apis/apps/v1 ...) to its legacy document.
	docs map[string][]byte
	// aggregated maps "/api" and "/apis" to the aggregated documents by
	// discovery version (v2, v2beta1).
	aggregated map[string]map[string][]byte
	paths      []string
}

func newDiscovery(infos []resources.Info) *discovery {
	d := &discovery{docs: map[string][]byte{}, aggregated: map[string]map[string][]byte{}}
	// Group versions in first-seen order; the first version of a group is
	// its preferred one.
	type gv struct{ group, version string }
	var order []gv
	byGV := map[gv][]resources.Info{}
	for _, info := range infos {
		k := gv{info.GVK.Group, info.GVK.Version}
		if _, ok := byGV[k]; !ok {
			order = append(order, k)
		}
		byGV[k] = append(byGV[k], info)
	}
	var groups []metav1.APIGroup
	groupIndex := map[string]int{}
	coreAgg := apidiscoveryv2.APIGroupDiscoveryList{}
	groupsAgg := apidiscoveryv2.APIGroupDiscoveryList{}
	aggIndex := map[string]int{}
	for _, k := range order {
		gvString := k.version
		path := "/api/" + k.version
		if k.group != "" {
			gvString = k.group + "/" + k.version
			path = "/apis/" + gvString
		}
		d.paths = append(d.paths, path)
		list := metav1.APIResourceList{GroupVersion: gvString}
		list.Kind, list.APIVersion = "APIResourceList", "v1"
		aggVersion := apidiscoveryv2.APIVersionDiscovery{Version: k.version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
		for _, info := range byGV[k] {
			list.APIResources = append(list.APIResources, legacyResources(info)...)
			aggVersion.Resources = append(aggVersion.Resources, aggregatedResource(info))
		}
		d.docs[path] = mustJSON(list)
		if k.group == "" {
			coreAgg.Items = append(coreAgg.Items, apidiscoveryv2.APIGroupDiscovery{Versions: []apidiscoveryv2.APIVersionDiscovery{aggVersion}})
			continue
		}
		i, ok := groupIndex[k.group]
		if !ok {
			i = len(groups)
			groupIndex[k.group] = i
			groups = append(groups, metav1.APIGroup{Name: k.group, PreferredVersion: metav1.GroupVersionForDiscovery{GroupVersion: gvString, Version: k.version}})
			aggIndex[k.group] = len(groupsAgg.Items)
			groupsAgg.Items = append(groupsAgg.Items, apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: k.group}})
		}
		groups[i].Versions = append(groups[i].Versions, metav1.GroupVersionForDiscovery{GroupVersion: gvString, Version: k.version})
		ag := &groupsAgg.Items[aggIndex[k.group]]
		ag.Versions = append(ag.Versions, aggVersion)
	}
	for _, g := range groups {
		doc := g
		doc.Kind, doc.APIVersion = "APIGroup", "v1"
		d.docs["/apis/"+g.Name] = mustJSON(doc)
		d.paths = append(d.paths, "/apis/"+g.Name)
	}
	versions := metav1.APIVersions{Versions: []string{"v1"}, ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0"}}}
	versions.Kind = "APIVersions"
	d.docs["/api"] = mustJSON(versions)
	groupList := metav1.APIGroupList{Groups: groups}
	groupList.Kind, groupList.APIVersion = "APIGroupList", "v1"
	d.docs["/apis"] = mustJSON(groupList)
	for path, list := range map[string]apidiscoveryv2.APIGroupDiscoveryList{"/api": coreAgg, "/apis": groupsAgg} {
		d.aggregated[path] = map[string][]byte{}
		for _, v := range []string{"v2", "v2beta1"} {
			list.Kind, list.APIVersion = "APIGroupDiscoveryList", "apidiscovery.k8s.io/"+v
			d.aggregated[path][v] = mustJSON(list)
		}
	}
	d.paths = append(d.paths, "/api", "/apis", "/healthz", "/livez", "/readyz", "/version", "/openapi/v2", "/openapi/v3")
	sort.Strings(d.paths)
	return d
}

func verbsFor(sub string) []string {
	switch sub {
	case "":
		return []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	case "finalize":
		return []string{"update"}
	case "binding", "eviction", "token":
		return []string{"create"}
	case "log":
		return []string{"get"}
	case "exec", "attach", "portforward":
		return []string{"create", "get"}
	case "proxy":
		return []string{"create", "delete", "get", "patch", "update"}
	}
	return []string{"get", "patch", "update"}
}

// resourceVerbs are the verbs of a resource itself; reviews are only
// created, and a resource may name its own.
func resourceVerbs(info resources.Info) []string {
	if info.Verbs != nil {
		return info.Verbs
	}
	if info.Virtual {
		return []string{"create"}
	}
	return verbsFor("")
}

func subresourceKind(info resources.Info, sub string) metav1.GroupVersionKind {
	switch sub {
	case "scale":
		return metav1.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}
	case "binding":
		return metav1.GroupVersionKind{Version: "v1", Kind: "Binding"}
	case "eviction":
		return metav1.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}
	case "token":
		return metav1.GroupVersionKind{Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest"}
	case "exec":
		return metav1.GroupVersionKind{Version: "v1", Kind: "PodExecOptions"}
	case "attach":
		return metav1.GroupVersionKind{Version: "v1", Kind: "PodAttachOptions"}
	case "portforward":
		return metav1.GroupVersionKind{Version: "v1", Kind: "PodPortForwardOptions"}
	case "proxy":
		// PodProxyOptions, ServiceProxyOptions, NodeProxyOptions.
		return metav1.GroupVersionKind{Version: "v1", Kind: info.GVK.Kind + "ProxyOptions"}
	}
	return metav1.GroupVersionKind(info.GVK)
}

func legacyResources(info resources.Info) []metav1.APIResource {
	out := []metav1.APIResource{{
		Name: info.Resource, SingularName: info.Singular, Namespaced: info.Namespaced, Kind: info.GVK.Kind,
		Verbs: resourceVerbs(info), ShortNames: info.ShortNames, Categories: info.Categories,
	}}
	for _, sub := range info.Subresources {
		k := subresourceKind(info, sub)
		out = append(out, metav1.APIResource{
			Name: info.Resource + "/" + sub, Namespaced: info.Namespaced, Group: k.Group, Version: k.Version, Kind: k.Kind,
			Verbs: verbsFor(sub),
		})
	}
	return out
}

func aggregatedResource(info resources.Info) apidiscoveryv2.APIResourceDiscovery {
	scope := apidiscoveryv2.ScopeCluster
	if info.Namespaced {
		scope = apidiscoveryv2.ScopeNamespace
	}
	kind := metav1.GroupVersionKind(info.GVK)
	r := apidiscoveryv2.APIResourceDiscovery{
		Resource: info.Resource, ResponseKind: &kind, Scope: scope, SingularResource: info.Singular,
		Verbs: resourceVerbs(info), ShortNames: info.ShortNames, Categories: info.Categories,
	}
	for _, sub := range info.Subresources {
		k := subresourceKind(info, sub)
		r.Subresources = append(r.Subresources, apidiscoveryv2.APISubresourceDiscovery{Subresource: sub, ResponseKind: &k, Verbs: verbsFor(sub)})
	}
	return r
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}

func (d *discovery) rootPaths() []string { return d.paths }

// serve answers discovery requests; it reports false for other paths.
func (d *discovery) serve(w http.ResponseWriter, r *http.Request) bool {
	path := strings.TrimSuffix(r.URL.Path, "/")
	doc, ok := d.docs[path]
	if !ok {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, r, methodNotAllowed())
		return true
	}
	if agg, ok := d.aggregated[path]; ok {
		out, err := negotiate(r, asDiscovery)
		if err == nil && out.as == asDiscovery && out.info.MediaType == mediaJSON {
			w.Header().Set("Content-Type", out.contentType())
			w.Header().Set("Vary", "Accept")
			_, _ = w.Write(agg[out.version])
			return true
		}
	}
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Set("Vary", "Accept")
	_, _ = w.Write(doc)
	return true
}
