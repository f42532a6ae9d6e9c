// Package rbac holds the RBAC risk rules: grants that let their holders read
// credentials, run code in other workloads, or raise their own privileges.
// Each rule looks at every (binding, subject) pair and reports the binding,
// naming the subject, the role and what it allows.
package rbac

import (
	"fmt"
	"sort"
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

// grantCheck decides whether a role's rules give a risky capability and
// says which.
type grantCheck func(rules []rbacv1.PolicyRule, scope string) string

// Rules returns the RBAC risk rules.
func Rules() []*rule.Rule {
	return []*rule.Rule{
		grantRule("rbac/secrets-read", "Can read Secrets", finding.SeverityHigh, "5.1.2",
			"Reading Secrets yields every credential they hold (tokens, passwords, keys); it is the most valuable permission after cluster-admin.",
			"Grant get on named Secrets (resourceNames) instead of list/watch, or mount the Secret into the one workload that needs it.",
			allows(rbaceval.Request{Group: "", Resource: "secrets"}, "get", "list", "watch")),
		grantRule("rbac/create-workloads", "Can create pods or workloads", finding.SeverityMedium, "5.1.4",
			"Whoever can create pods can run any image with any service account of the namespace, and so use its permissions and mounted Secrets; in kube-system that is cluster takeover.",
			"Let CI/CD service accounts create workloads only in their application namespaces; never in kube-system.",
			func(rules []rbacv1.PolicyRule, scope string) string {
				for _, r := range []rbaceval.Request{{Resource: "pods"}, {Group: "apps", Resource: "deployments"}, {Group: "apps", Resource: "daemonsets"},
					{Group: "apps", Resource: "statefulsets"}, {Group: "batch", Resource: "jobs"}, {Group: "batch", Resource: "cronjobs"}} {
					if allowsReq(rules, r, "create") {
						if scope == "" || scope == "kube-system" {
							where := "in every namespace, kube-system included"
							if scope == "kube-system" {
								where = "in kube-system"
							}
							return "create " + resourceName(r) + " " + where
						}
					}
				}
				return ""
			}),
		grantRule("rbac/exec", "Can exec, attach or port-forward into pods", finding.SeverityHigh, "5.1.x",
			"pods/exec and pods/attach run commands inside running containers; port-forward tunnels past NetworkPolicies.",
			"Keep exec/attach/portforward to break-glass roles with audited use.",
			func(rules []rbacv1.PolicyRule, _ string) string {
				for _, sub := range []string{"exec", "attach", "portforward"} {
					if allowsReq(rules, rbaceval.Request{Resource: "pods", Subresource: sub}, "create", "get") {
						return "pods/" + sub
					}
				}
				return ""
			}),
		grantRule("rbac/escalation", "Can escalate, bind or impersonate", finding.SeverityCritical, "5.1.8",
			"escalate and bind let a subject grant itself any permission through roles; impersonate lets it act as any user, group or service account.",
			"Remove escalate, bind and impersonate from roles outside the control plane.",
			func(rules []rbacv1.PolicyRule, _ string) string {
				for _, c := range []struct {
					req  rbaceval.Request
					verb string
				}{
					{rbaceval.Request{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, "escalate"},
					{rbaceval.Request{Group: "rbac.authorization.k8s.io", Resource: "roles"}, "escalate"},
					{rbaceval.Request{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, "bind"},
					{rbaceval.Request{Group: "rbac.authorization.k8s.io", Resource: "roles"}, "bind"},
					{rbaceval.Request{Resource: "users"}, "impersonate"},
					{rbaceval.Request{Resource: "groups"}, "impersonate"},
					{rbaceval.Request{Resource: "serviceaccounts"}, "impersonate"},
				} {
					if allowsReq(rules, c.req, c.verb) {
						return c.verb + " on " + resourceName(c.req)
					}
				}
				return ""
			}),
		grantRule("rbac/serviceaccount-token", "Can mint service-account tokens", finding.SeverityHigh, "5.1.x",
			"create on serviceaccounts/token issues a token for any service account in scope, and with it that account's permissions.",
			"Restrict serviceaccounts/token to the components that must mint tokens.",
			allows(rbaceval.Request{Resource: "serviceaccounts", Subresource: "token"}, "create")),
		grantRule("rbac/nodes-proxy", "Can use nodes/proxy", finding.SeverityCritical, "5.1.x",
			"nodes/proxy reaches the kubelet API, which runs commands in any pod on the node without exec audit events.",
			"Remove nodes/proxy; monitoring can read metrics through the metrics endpoints instead.",
			allows(rbaceval.Request{Resource: "nodes", Subresource: "proxy"}, "get", "create")),
		grantRule("rbac/admission-webhooks", "Can change admission webhooks or policies", finding.SeverityHigh, "5.1.x",
			"Changing or deleting admission webhooks and policies switches off Palisade and every other guard rail.",
			"Keep write access to admissionregistration.k8s.io to cluster operators.",
			func(rules []rbacv1.PolicyRule, _ string) string {
				for _, res := range []string{"validatingwebhookconfigurations", "mutatingwebhookconfigurations", "validatingadmissionpolicies", "validatingadmissionpolicybindings"} {
					if allowsReq(rules, rbaceval.Request{Group: "admissionregistration.k8s.io", Resource: res}, "create", "update", "patch", "delete") {
						return "write " + res
					}
				}
				return ""
			}),
		grantRule("rbac/csr-approval", "Can approve certificate signing requests", finding.SeverityHigh, "5.1.x",
			"Approving CSRs issues client certificates, which can name any user or group and cannot be revoked before they expire.",
			"Keep CSR approval to the controller-manager and reviewed automation.",
			allows(rbaceval.Request{Group: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: "approval"}, "update", "patch")),
		grantRule("rbac/wildcard", "Role uses wildcards", finding.SeverityMedium, "5.1.3",
			"A \"*\" in verbs, resources or API groups grants everything that exists now and every resource added later.",
			"List the verbs, resources and groups needed explicitly.",
			func(rules []rbacv1.PolicyRule, _ string) string {
				for _, r := range rules {
					for field, list := range map[string][]string{"verbs": r.Verbs, "resources": r.Resources, "apiGroups": r.APIGroups} {
						if contains(list, "*") {
							return `"*" in ` + field
						}
					}
				}
				return ""
			}),
		{
			ID: "rbac/cluster-admin-binding", Title: "cluster-admin bound to a non-system subject", Severity: finding.SeverityCritical,
			Description:     "cluster-admin is unrestricted control of the cluster; bound to people or workloads it turns one stolen credential into a full compromise.",
			Remediation:     "Bind narrower roles; keep cluster-admin for break-glass access through a reviewed process.",
			RemediationYAML: "roleRef:\n  kind: ClusterRole\n  name: edit   # or a custom role with only what is needed",
			References:      []finding.Reference{refRBAC, {Title: "CIS Kubernetes Benchmark 5.1.1"}},
			Tags:            tags,
			Inventory: func(c *rule.Context) []rule.Violation {
				var out []rule.Violation
				for _, b := range bindings(c.Inventory) {
					if b.roleRef.Kind != "ClusterRole" || b.roleRef.Name != "cluster-admin" {
						continue
					}
					for _, s := range b.subjects {
						if !isSystem(s, b.namespace) {
							out = append(out, rule.Violation{Object: b.object, Field: "subjects",
								Message: fmt.Sprintf("%s binds cluster-admin to %s", b.ref(), subjectName(s, b.namespace))})
						}
					}
				}
				return out
			},
		},
		{
			ID: "rbac/default-serviceaccount-permissions", Title: "Default service account granted permissions", Severity: finding.SeverityMedium,
			Description:     "Every pod that names no service account runs as \"default\"; permissions granted to it reach all of them.",
			Remediation:     "Grant permissions to a dedicated service account and set serviceAccountName on the workloads that need them.",
			RemediationYAML: "subjects:\n- kind: ServiceAccount\n  name: my-app\n  namespace: my-app",
			References:      []finding.Reference{refRBAC, {Title: "CIS Kubernetes Benchmark 5.1.5"}},
			Tags:            tags,
			Inventory: func(c *rule.Context) []rule.Violation {
				var out []rule.Violation
				for _, b := range bindings(c.Inventory) {
					for _, s := range b.subjects {
						ns := s.Namespace
						if ns == "" {
							ns = b.namespace
						}
						if s.Kind == rbacv1.ServiceAccountKind && s.Name == "default" && ns != "kube-system" {
							out = append(out, rule.Violation{Object: b.object, Field: "subjects",
								Message: fmt.Sprintf("%s grants %s to the default service account of namespace %q", b.ref(), b.roleRefName(), ns)})
						}
					}
				}
				return out
			},
		},
	}
}

// binding is a RoleBinding or ClusterRoleBinding, normalised.
type binding struct {
	kind, namespace, name string
	roleRef               rbacv1.RoleRef
	subjects              []rbacv1.Subject
	object                *workload.Object
}

func (b binding) ref() string {
	if b.namespace == "" {
		return b.kind + " " + b.name
	}
	return b.kind + " " + b.namespace + "/" + b.name
}

func (b binding) roleRefName() string { return b.roleRef.Kind + " " + b.roleRef.Name }

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

// grantRule reports each non-system subject of each binding whose role
// passes check.
func grantRule(id, title string, sev finding.Severity, cis, why, fix string, check grantCheck) *rule.Rule {
	return &rule.Rule{
		ID: id, Title: title, Severity: sev, Description: why, Remediation: fix,
		RemediationYAML: "rules:\n- apiGroups: [\"\"]\n  resources: [\"configmaps\"]\n  verbs: [\"get\"]   # only what is needed",
		References:      []finding.Reference{refRBAC, {Title: "CIS Kubernetes Benchmark " + cis}},
		Tags:            tags,
		Inventory: func(c *rule.Context) []rule.Violation {
			// Manifest semantics (aggregation, built-in cluster-admin) also
			// fit a live cluster, whose roles are already aggregated.
			model := rbaceval.NewModel(c.Inventory.RBAC, true)
			var out []rule.Violation
			for _, b := range bindings(c.Inventory) {
				if b.roleRef.Kind == "ClusterRole" && b.roleRef.Name == "cluster-admin" {
					continue // everything: rbac/cluster-admin-binding reports it once
				}
				rules, ok := model.RoleRules(b.roleRef, b.namespace)
				if !ok {
					continue
				}
				what := check(rules, b.namespace)
				if what == "" {
					continue
				}
				var who []string
				for _, s := range b.subjects {
					if !isSystem(s, b.namespace) {
						who = append(who, subjectName(s, b.namespace))
					}
				}
				if len(who) == 0 {
					continue
				}
				sort.Strings(who)
				out = append(out, rule.Violation{Object: b.object, Field: "roleRef",
					Message: fmt.Sprintf("%s gives %s %s through %s", b.ref(), strings.Join(who, ", "), what, b.roleRefName())})
			}
			return out
		},
	}
}

func allows(req rbaceval.Request, verbs ...string) grantCheck {
	return func(rules []rbacv1.PolicyRule, _ string) string {
		for _, v := range verbs {
			r := req
			r.Verb = v
			for _, rule := range rules {
				if rbaceval.RuleAllows(rule, r) {
					return v + " " + resourceName(req)
				}
			}
		}
		return ""
	}
}

func allowsReq(rules []rbacv1.PolicyRule, req rbaceval.Request, verbs ...string) bool {
	return allows(req, verbs...)(rules, "") != ""
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
