package rbac

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

//go:embed builtin-roles.yaml
var builtinRolesYAML string

// parsedBuiltinRoles decodes the shipped roles once per process, on first
// use: every RBAC rule of a scan builds a Model, and decoding the YAML
// for each of them was a serial ~20 ms of a 10,000-workload scan. The
// result is shared and must not be modified; builtinClusterRoles hands
// out copies.
var parsedBuiltinRoles = sync.OnceValue(func() []*rbacv1.ClusterRole {
	var out []*rbacv1.ClusterRole
	for i, doc := range strings.Split(builtinRolesYAML, "\n---\n") {
		var cr rbacv1.ClusterRole
		if err := yaml.UnmarshalStrict([]byte(doc), &cr); err != nil {
			// The file is embedded and tested: this is a build defect.
			panic(fmt.Sprintf("builtin-roles.yaml document %d: %v", i, err))
		}
		out = append(out, &cr)
	}
	return out
})

// builtinClusterRoles returns the shipped roles; each call returns new
// objects, so no caller can change another's.
func builtinClusterRoles() []*rbacv1.ClusterRole {
	shared := parsedBuiltinRoles()
	out := make([]*rbacv1.ClusterRole, len(shared))
	for i, cr := range shared {
		out[i] = cr.DeepCopy()
	}
	return out
}

// BuiltinClusterRoleRules returns the rules of a ClusterRole every
// cluster ships (cluster-admin, admin, edit, view) as the aggregation
// controller writes them, for judging a binding whose role is not in the
// input; ok is false for any other name.
func BuiltinClusterRoleRules(name string) (rules []rbacv1.PolicyRule, ok bool) {
	m := &Model{roles: map[string]*rbacv1.Role{}, clusterRoles: map[string]*rbacv1.ClusterRole{}}
	m.addBuiltins()
	m.aggregate()
	if !builtinNames[name] {
		return nil, false
	}
	return m.clusterRoles[name].Rules, true
}

var builtinNames = map[string]bool{"cluster-admin": true, "admin": true, "edit": true, "view": true}

// IsShippedClusterRole reports the ClusterRoles besides the "system:" ones
// that every cluster ships: cluster-admin, admin, edit and view.
func IsShippedClusterRole(name string) bool { return builtinNames[name] }

// addBuiltins adds the shipped ClusterRoles the model lacks.
func (m *Model) addBuiltins() {
	if _, ok := m.clusterRoles["cluster-admin"]; !ok {
		m.clusterRoles["cluster-admin"] = &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "cluster-admin"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}},
				{NonResourceURLs: []string{"*"}, Verbs: []string{"*"}}}}
	}
	for _, cr := range builtinClusterRoles() {
		if _, ok := m.clusterRoles[cr.Name]; !ok {
			m.clusterRoles[cr.Name] = cr
		}
	}
}
