package rbac

import (
	"sort"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// MemorySource is a RuleSource held in memory, for tests and for tools
// that evaluate a fixed policy. The zero value is empty and ready to use.
// Objects are copied on the way in; Get and List return the stored
// objects, which callers must not modify.
type MemorySource struct {
	mu sync.RWMutex // guards the maps below
	// keys are "namespace/name" for namespaced objects, "name" otherwise.
	roles               map[string]*rbacv1.Role
	clusterRoles        map[string]*rbacv1.ClusterRole
	roleBindings        map[string]*rbacv1.RoleBinding
	clusterRoleBindings map[string]*rbacv1.ClusterRoleBinding
}

var _ RuleSource = (*MemorySource)(nil)

// Add stores copies of objs, replacing objects of the same kind and name.
// Each obj is a *rbacv1.Role, ClusterRole, RoleBinding or
// ClusterRoleBinding (pointer or value); other types are ignored.
func (m *MemorySource) Add(objs ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.roles == nil {
		m.roles = map[string]*rbacv1.Role{}
		m.clusterRoles = map[string]*rbacv1.ClusterRole{}
		m.roleBindings = map[string]*rbacv1.RoleBinding{}
		m.clusterRoleBindings = map[string]*rbacv1.ClusterRoleBinding{}
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *rbacv1.Role:
			m.roles[o.Namespace+"/"+o.Name] = o.DeepCopy()
		case rbacv1.Role:
			m.roles[o.Namespace+"/"+o.Name] = o.DeepCopy()
		case *rbacv1.ClusterRole:
			m.clusterRoles[o.Name] = o.DeepCopy()
		case rbacv1.ClusterRole:
			m.clusterRoles[o.Name] = o.DeepCopy()
		case *rbacv1.RoleBinding:
			m.roleBindings[o.Namespace+"/"+o.Name] = o.DeepCopy()
		case rbacv1.RoleBinding:
			m.roleBindings[o.Namespace+"/"+o.Name] = o.DeepCopy()
		case *rbacv1.ClusterRoleBinding:
			m.clusterRoleBindings[o.Name] = o.DeepCopy()
		case rbacv1.ClusterRoleBinding:
			m.clusterRoleBindings[o.Name] = o.DeepCopy()
		}
	}
}

// GetRole implements RuleSource.
func (m *MemorySource) GetRole(namespace, name string) (*rbacv1.Role, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if r, ok := m.roles[namespace+"/"+name]; ok {
		return r, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Group: rbacv1.GroupName, Resource: "role"}, name)
}

// GetClusterRole implements RuleSource.
func (m *MemorySource) GetClusterRole(name string) (*rbacv1.ClusterRole, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if r, ok := m.clusterRoles[name]; ok {
		return r, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Group: rbacv1.GroupName, Resource: "clusterrole"}, name)
}

// ListRoleBindings implements RuleSource; bindings come sorted by name.
func (m *MemorySource) ListRoleBindings(namespace string) ([]*rbacv1.RoleBinding, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []*rbacv1.RoleBinding
	for _, b := range m.roleBindings {
		if b.Namespace == namespace {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ListClusterRoleBindings implements RuleSource; bindings come sorted by
// name.
func (m *MemorySource) ListClusterRoleBindings() ([]*rbacv1.ClusterRoleBinding, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*rbacv1.ClusterRoleBinding, 0, len(m.clusterRoleBindings))
	for _, b := range m.clusterRoleBindings {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ListClusterRoles returns the stored cluster roles sorted by name, for
// AggregateRules.
func (m *MemorySource) ListClusterRoles() []*rbacv1.ClusterRole {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*rbacv1.ClusterRole, 0, len(m.clusterRoles))
	for _, r := range m.clusterRoles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
