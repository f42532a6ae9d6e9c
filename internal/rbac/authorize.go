// Package rbac evaluates Kubernetes RBAC the way the API server's RBAC
// authorizer does, from Roles, ClusterRoles and their bindings read from
// manifests or a live cluster: who can do what, and which grants are
// risky. It never calls the API server; tests check it against the real
// server's SubjectAccessReview answers.
package rbac

import (
	"fmt"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/palisade-sec/palisade/internal/workload"
)

// Request is one access to check, like a SubjectAccessReview's
// resourceAttributes.
type Request struct {
	Verb        string
	Group       string
	Resource    string
	Subresource string
	Namespace   string // "" for cluster-scoped resources or all namespaces
	Name        string
}

// Subject is an identity with its groups, as the authenticator sees it.
type Subject struct {
	User   string
	Groups []string
}

// ServiceAccountSubject is the identity of a service account token.
func ServiceAccountSubject(namespace, name string) Subject {
	return Subject{User: "system:serviceaccount:" + namespace + ":" + name,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}}
}

// Grant explains why a subject may do something: the binding and role.
type Grant struct {
	// Subject is the binding's subject that matched (User, Group or ServiceAccount).
	Subject rbacv1.Subject `json:"subject"`
	// Binding is "ClusterRoleBinding/name" or "RoleBinding/namespace/name".
	Binding string `json:"binding"`
	// Role is "ClusterRole/name" or "Role/namespace/name".
	Role string `json:"role"`
	// Rule is the index of the matching rule in the role.
	Rule int `json:"rule"`
}

// Model is the RBAC state to evaluate. Build it with NewModel.
type Model struct {
	roles               map[string]*rbacv1.Role // namespace/name
	clusterRoles        map[string]*rbacv1.ClusterRole
	roleBindings        []*rbacv1.RoleBinding
	clusterRoleBindings []*rbacv1.ClusterRoleBinding
	// unaggregated names the aggregated ClusterRoles (from manifests)
	// whose rules are unknown, with why: no ClusterRole in the input
	// matches their aggregationRule, or a selector is not valid. The
	// controller would fill them from roles defined elsewhere.
	unaggregated map[string]string
}

// NewModel indexes the inventory's RBAC objects. With manifests true (the
// objects come from files, not a live cluster), the ClusterRoles every
// cluster ships and manifests bind but never contain (cluster-admin,
// admin, edit, view and the roles aggregated into them) are added where
// the input lacks them, and ClusterRoles with an aggregationRule get the
// rules of the roles their selectors match, as the aggregation controller
// would write them.
func NewModel(r workload.RBAC, manifests bool) *Model {
	m := &Model{roles: map[string]*rbacv1.Role{}, clusterRoles: map[string]*rbacv1.ClusterRole{},
		roleBindings: r.RoleBindings, clusterRoleBindings: r.ClusterRoleBindings}
	for _, role := range r.Roles {
		m.roles[role.Namespace+"/"+role.Name] = role
	}
	for _, cr := range r.ClusterRoles {
		m.clusterRoles[cr.Name] = cr
	}
	if manifests {
		m.addBuiltins()
		m.aggregate()
	}
	return m
}

// aggregate sets each aggregated ClusterRole's rules to those of the
// roles its selectors match, in name order, as the aggregation controller
// does. Aggregated roles may select aggregated roles (admin selects edit,
// which selects view), so passes repeat until nothing changes; each pass
// can only complete one more link of a chain, so there are at most as
// many passes as roles.
func (m *Model) aggregate() {
	names := make([]string, 0, len(m.clusterRoles))
	for n := range m.clusterRoles {
		names = append(names, n)
	}
	sort.Strings(names)
	selectors := map[string][]labels.Selector{}
	for _, n := range names {
		cr := m.clusterRoles[n]
		if cr.AggregationRule == nil {
			continue
		}
		selectors[n] = nil
		for i, sel := range cr.AggregationRule.ClusterRoleSelectors {
			s, err := metav1.LabelSelectorAsSelector(&sel)
			if err != nil {
				m.markUnaggregated(n, fmt.Sprintf("aggregationRule.clusterRoleSelectors[%d]: %v", i, err))
				continue
			}
			selectors[n] = append(selectors[n], s)
		}
		// Never modify the input's objects.
		m.clusterRoles[n] = cr.DeepCopy()
	}
	// A selector that matches no ClusterRole of the input leaves the
	// role's rules to roles the input does not hold: what it grants is
	// unknown, not nothing.
	for _, n := range names {
		sels, ok := selectors[n]
		if !ok {
			continue
		}
		matched := false
		for _, sel := range sels {
			for _, other := range names {
				if other != n && sel.Matches(labels.Set(m.clusterRoles[other].Labels)) {
					matched = true
				}
			}
		}
		if !matched && m.unaggregated[n] == "" {
			m.markUnaggregated(n, "no ClusterRole in the input matches its aggregationRule")
		}
	}
	for pass := 0; pass <= len(names); pass++ {
		changed := false
		for _, n := range names {
			sels, ok := selectors[n]
			if !ok {
				continue
			}
			var rules []rbacv1.PolicyRule
			seen := map[string]bool{}
			for _, sel := range sels {
				for _, other := range names {
					if other == n || !sel.Matches(labels.Set(m.clusterRoles[other].Labels)) {
						continue
					}
					// Like the controller, each distinct rule once: roles
					// that select each other stay bounded.
					for _, r := range m.clusterRoles[other].Rules {
						if k := ruleKey(r); !seen[k] {
							seen[k] = true
							rules = append(rules, r)
						}
					}
				}
			}
			if len(rules) != len(m.clusterRoles[n].Rules) {
				m.clusterRoles[n].Rules, changed = rules, true
			}
		}
		if !changed {
			return
		}
	}
}

func (m *Model) markUnaggregated(name, why string) {
	if m.unaggregated == nil {
		m.unaggregated = map[string]string{}
	}
	if m.unaggregated[name] == "" {
		m.unaggregated[name] = why
	}
}

func ruleKey(r rbacv1.PolicyRule) string {
	return fmt.Sprintf("%q %q %q %q %q", r.Verbs, r.APIGroups, r.Resources, r.ResourceNames, r.NonResourceURLs)
}

// superuserGroup bypasses authorization altogether.
const superuserGroup = "system:masters"

// Allowed reports whether the subject may make the request, and the first
// grant that allows it. Members of system:masters are always allowed
// (Grant.Binding "system:masters").
func (m *Model) Allowed(s Subject, req Request) (bool, *Grant) {
	for _, g := range s.Groups {
		if g == superuserGroup {
			return true, &Grant{Subject: rbacv1.Subject{Kind: rbacv1.GroupKind, Name: superuserGroup}, Binding: superuserGroup}
		}
	}
	for _, b := range m.clusterRoleBindings {
		if subj, ok := matchSubjects(b.Subjects, s, ""); ok {
			if i := m.ruleIndex(b.RoleRef, "", req); i >= 0 {
				return true, &Grant{Subject: subj, Binding: "ClusterRoleBinding/" + b.Name, Role: roleName(b.RoleRef, ""), Rule: i}
			}
		}
	}
	if req.Namespace == "" {
		return false, nil
	}
	for _, b := range m.roleBindings {
		if b.Namespace != req.Namespace {
			continue
		}
		if subj, ok := matchSubjects(b.Subjects, s, b.Namespace); ok {
			if i := m.ruleIndex(b.RoleRef, b.Namespace, req); i >= 0 {
				return true, &Grant{Subject: subj, Binding: "RoleBinding/" + b.Namespace + "/" + b.Name, Role: roleName(b.RoleRef, b.Namespace), Rule: i}
			}
		}
	}
	return false, nil
}

func roleName(ref rbacv1.RoleRef, ns string) string {
	if ref.Kind == "Role" {
		return "Role/" + ns + "/" + ref.Name
	}
	return "ClusterRole/" + ref.Name
}

// RoleRules returns the rules a binding's roleRef points to; ok is false
// when the role does not exist (a dangling binding grants nothing).
func (m *Model) RoleRules(ref rbacv1.RoleRef, ns string) (rules []rbacv1.PolicyRule, ok bool) {
	switch ref.Kind {
	case "ClusterRole":
		if cr, ok := m.clusterRoles[ref.Name]; ok {
			return cr.Rules, true
		}
	case "Role":
		if r, ok := m.roles[ns+"/"+ref.Name]; ok {
			return r.Rules, true
		}
	}
	return nil, false
}

// Unresolved lists the bindings whose role the model does not hold, as
// "RoleBinding ns/name → Role ns/role" (sorted), and, from manifests, the
// bindings to an aggregated ClusterRole whose rules are unknown
// ("ClusterRoleBinding name → ClusterRole role (aggregated: why)"). Such
// a binding's subjects may hold grants the input does not show, so an
// answer about them is incomplete; on a live cluster the authorizer
// grants nothing through a binding to a missing role.
func (m *Model) Unresolved() []string {
	var out []string
	for _, b := range m.roleBindings {
		role := b.RoleRef.Name
		if b.RoleRef.Kind == "Role" {
			role = b.Namespace + "/" + role
		}
		if why, ok := m.unresolvedWhy(b.RoleRef, b.Namespace); !ok {
			out = append(out, fmt.Sprintf("RoleBinding %s/%s → %s %s%s", b.Namespace, b.Name, b.RoleRef.Kind, role, why))
		}
	}
	for _, b := range m.clusterRoleBindings {
		if why, ok := m.unresolvedWhy(b.RoleRef, ""); !ok {
			out = append(out, fmt.Sprintf("ClusterRoleBinding %s → %s %s%s", b.Name, b.RoleRef.Kind, b.RoleRef.Name, why))
		}
	}
	sort.Strings(out)
	return out
}

// unresolvedWhy reports whether the role a binding refers to is known
// (ok) and, for an aggregated ClusterRole whose rules are not, the suffix
// Unresolved prints after it.
func (m *Model) unresolvedWhy(ref rbacv1.RoleRef, ns string) (why string, ok bool) {
	if _, ok := m.RoleRules(ref, ns); !ok {
		return "", false
	}
	if ref.Kind == "ClusterRole" {
		if why := m.unaggregated[ref.Name]; why != "" {
			return " (aggregated: " + why + ")", false
		}
	}
	return "", true
}

func (m *Model) ruleIndex(ref rbacv1.RoleRef, ns string, req Request) int {
	rules, _ := m.RoleRules(ref, ns)
	for i, r := range rules {
		if RuleAllows(r, req) {
			return i
		}
	}
	return -1
}

// matchSubjects finds the binding subject that names s. A ServiceAccount
// subject without a namespace takes the binding's namespace.
func matchSubjects(subjects []rbacv1.Subject, s Subject, bindingNS string) (rbacv1.Subject, bool) {
	for _, subj := range subjects {
		switch subj.Kind {
		case rbacv1.UserKind:
			if subj.Name == s.User {
				return subj, true
			}
		case rbacv1.GroupKind:
			for _, g := range s.Groups {
				if g == subj.Name {
					return subj, true
				}
			}
		case rbacv1.ServiceAccountKind:
			ns := subj.Namespace
			if ns == "" {
				ns = bindingNS
			}
			if ns != "" && s.User == "system:serviceaccount:"+ns+":"+subj.Name {
				return subj, true
			}
		}
	}
	return rbacv1.Subject{}, false
}

// RuleAllows reports whether one policy rule allows a resource request,
// with the authorizer's matching: "*" wildcards for groups, resources and
// verbs, "resource/subresource" and "*/subresource" forms, and
// resourceNames that only match requests naming one of them.
func RuleAllows(r rbacv1.PolicyRule, req Request) bool {
	return hasOrStar(r.Verbs, req.Verb) &&
		hasOrStar(r.APIGroups, req.Group) &&
		resourceMatches(r.Resources, req.Resource, req.Subresource) &&
		(len(r.ResourceNames) == 0 || (req.Name != "" && contains(r.ResourceNames, req.Name)))
}

func resourceMatches(resources []string, resource, sub string) bool {
	combined := resource
	if sub != "" {
		combined = resource + "/" + sub
	}
	for _, r := range resources {
		switch {
		case r == "*" || r == combined:
			return true
		case sub != "" && r == "*/"+sub:
			return true
		}
	}
	return false
}

func hasOrStar(list []string, v string) bool {
	for _, x := range list {
		if x == "*" || x == v {
			return true
		}
	}
	return false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// WhoCan lists every binding subject that may make the request, with the
// grant, sorted; system:masters is listed first, as it always may.
func (m *Model) WhoCan(req Request) []Grant {
	out := []Grant{{Subject: rbacv1.Subject{Kind: rbacv1.GroupKind, Name: superuserGroup}, Binding: superuserGroup}}
	seen := map[string]bool{}
	add := func(subj rbacv1.Subject, binding, role string, rule int) {
		key := subj.Kind + "/" + subj.Namespace + "/" + subj.Name
		if seen[key] {
			return
		}
		seen[key] = true
		out = append(out, Grant{Subject: subj, Binding: binding, Role: role, Rule: rule})
	}
	for _, b := range m.clusterRoleBindings {
		if i := m.ruleIndex(b.RoleRef, "", req); i >= 0 {
			for _, s := range b.Subjects {
				add(s, "ClusterRoleBinding/"+b.Name, roleName(b.RoleRef, ""), i)
			}
		}
	}
	if req.Namespace != "" {
		for _, b := range m.roleBindings {
			if b.Namespace != req.Namespace {
				continue
			}
			if i := m.ruleIndex(b.RoleRef, b.Namespace, req); i >= 0 {
				for _, s := range b.Subjects {
					if s.Kind == rbacv1.ServiceAccountKind && s.Namespace == "" {
						s.Namespace = b.Namespace
					}
					add(s, "RoleBinding/"+b.Namespace+"/"+b.Name, roleName(b.RoleRef, b.Namespace), i)
				}
			}
		}
	}
	sort.SliceStable(out[1:], func(i, j int) bool {
		a, b := out[1+i].Subject, out[1+j].Subject
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out
}

// ParseResource splits "deployments.apps/scale" into group, resource and
// subresource, as kubectl spells resources.
func ParseResource(s string) (group, resource, sub string) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s, sub = s[:i], s[i+1:]
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return s[i+1:], s[:i], sub
	}
	return "", s, sub
}
