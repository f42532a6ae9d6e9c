// Package rbac holds the RBAC risk rules: grants that let their holders read
// credentials, run code in other workloads, or raise their own privileges.
// RoleRisks and BindingRisks are the one definition of a risky grant; the
// rules report each Role and ClusterRole that gives one at the rule that
// gives it (bound or not), each binding that hands it to a non-system
// subject, and bindings that are risky by themselves (cluster-admin,
// anonymous or all authenticated users). The audit-log analyser judges
// roles and bindings written through the API with the same functions.
package rbac

import (
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	rbaceval "github.com/palisade-sec/palisade/internal/rbac"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// TagRBAC selects these rules.
const TagRBAC = "rbac"

var tags = []string{TagRBAC}

var refRBAC = finding.Reference{Title: "Kubernetes: RBAC good practices", URL: "https://kubernetes.io/docs/concepts/security/rbac-good-practices/"}

// Rules returns the RBAC risk rules, one per risky grant (see RoleRisks
// and BindingRisks).
func Rules() []*rule.Rule {
	out := make([]*rule.Rule, 0, len(grants))
	for i := range grants {
		g := &grants[i]
		r := &rule.Rule{
			ID: g.id, Title: g.title, Severity: g.severity, Description: g.why, Remediation: g.fix,
			RemediationYAML: g.yaml,
			References:      []finding.Reference{refRBAC, {Title: "CIS Kubernetes Benchmark " + g.cis}},
			Tags:            tags,
		}
		if r.RemediationYAML == "" {
			r.RemediationYAML = "rules:\n- apiGroups: [\"\"]\n  resources: [\"configmaps\"]\n  verbs: [\"get\"]   # only what is needed"
		}
		if g.role != nil {
			r.Inventory = roleGrantCheck(g)
		} else {
			r.Inventory = bindingGrantCheck(g)
		}
		out = append(out, r)
	}
	return out
}

// roleGrantCheck reports each non-built-in Role and ClusterRole whose
// rules give the grant, at the rule that gives it, whether or not a
// binding is in the input (a chart's ClusterRole is often bound
// elsewhere); and each binding that gives the grant to a non-system
// subject, naming who receives it.
func roleGrantCheck(g *grant) func(c *rule.Context) []rule.Violation {
	return func(c *rule.Context) []rule.Violation {
		var out []rule.Violation
		for _, o := range c.Inventory.Objects {
			var kind string
			var rules []rbacv1.PolicyRule
			switch v := o.Typed.(type) {
			case *rbacv1.Role:
				kind, rules = "Role", v.Rules
			case *rbacv1.ClusterRole:
				kind, rules = "ClusterRole", v.Rules
			default:
				continue
			}
			if IsBuiltinRole(kind, o.Ref.Name) {
				continue
			}
			if i, field, what := g.role(rules, o.Ref.Namespace); i >= 0 {
				out = append(out, rule.Violation{Object: o, Field: field, Severity: g.severityAt(rules, i),
					Message: fmt.Sprintf("%s allows %s", objectName(kind, o.Ref.Namespace, o.Ref.Name), what)})
			}
		}
		// Manifest semantics (aggregation, the shipped roles where the
		// input lacks them) also fit a live cluster, whose roles are
		// already aggregated and shipped.
		model := rbaceval.NewModel(c.Inventory.RBAC, true)
		for _, b := range bindings(c.Inventory) {
			rules, ok := model.RoleRules(b.roleRef, b.namespace)
			if !ok {
				continue
			}
			for _, r := range BoundRoleRisks(b.roleRef, b.subjects, b.namespace, rules) {
				if r.RuleID == g.id {
					out = append(out, rule.Violation{Object: b.object, Field: r.Field, Severity: r.Severity, Message: b.ref() + " gives " + r.What})
				}
			}
		}
		return out
	}
}

// bindingGrantCheck reports each subject of each binding that the grant
// finds risky by itself.
func bindingGrantCheck(g *grant) func(c *rule.Context) []rule.Violation {
	return func(c *rule.Context) []rule.Violation {
		var out []rule.Violation
		for _, b := range bindings(c.Inventory) {
			for _, r := range g.binding(b.roleRef, b.subjects, b.namespace) {
				out = append(out, rule.Violation{Object: b.object, Field: r.Field, Message: fmt.Sprintf("%s binds %s", b.ref(), r.What)})
			}
		}
		return out
	}
}

func objectName(kind, namespace, name string) string {
	if namespace == "" {
		return kind + " " + name
	}
	return kind + " " + namespace + "/" + name
}

// binding is a RoleBinding or ClusterRoleBinding, normalised.
type binding struct {
	kind, namespace, name string
	roleRef               rbacv1.RoleRef
	subjects              []rbacv1.Subject
	object                *workload.Object
}

func (b binding) ref() string { return objectName(b.kind, b.namespace, b.name) }

func bindings(inv *workload.Inventory) []binding {
	var out []binding
	for _, o := range inv.Objects {
		switch v := o.Typed.(type) {
		case *rbacv1.ClusterRoleBinding:
			out = append(out, binding{kind: "ClusterRoleBinding", name: v.Name, roleRef: v.RoleRef, subjects: v.Subjects, object: o})
		case *rbacv1.RoleBinding:
			out = append(out, binding{kind: "RoleBinding", namespace: o.Ref.Namespace, name: v.Name, roleRef: v.RoleRef, subjects: v.Subjects, object: o})
		}
	}
	return out
}

func resourceName(r rbaceval.Request) string {
	s := r.Resource
	if r.Subresource != "" {
		s += "/" + r.Subresource
	}
	if r.Group != "" {
		s += "." + r.Group
	}
	return s
}

// isSystem reports control-plane subjects: system users and groups (but
// not the broad groups every identity belongs to) and kube-system service
// accounts.
func isSystem(s rbacv1.Subject, bindingNS string) bool {
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		return ns == "kube-system"
	default:
		switch s.Name {
		case "system:authenticated", "system:unauthenticated", "system:anonymous", "system:serviceaccounts":
			return false
		}
		if strings.HasPrefix(s.Name, "system:serviceaccounts:") {
			return false
		}
		return strings.HasPrefix(s.Name, "system:")
	}
}

func subjectName(s rbacv1.Subject, bindingNS string) string {
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		return "ServiceAccount " + ns + "/" + s.Name
	default:
		return s.Kind + " " + s.Name
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
