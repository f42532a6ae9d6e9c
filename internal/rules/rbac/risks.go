package rbac

import (
	"fmt"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	rbaceval "github.com/palisade-sec/palisade/internal/rbac"
)

// Risk is one risky grant: what a role's rules allow, or what a binding
// gives by itself (cluster-admin, a group everyone belongs to). It is the
// one definition of a risky grant that `rbac analyze`, `scan config`,
// `scan cluster` and the audit-log analyser share.
type Risk struct {
	// RuleID is the rule that reports the risk, such as "rbac/secrets-read".
	RuleID   string
	Severity finding.Severity
	// What says what is granted, for messages: "list secrets",
	// "cluster-admin to Group ops".
	What string
	// Field is the path of the field that grants it in the Role,
	// ClusterRole or binding: "rules[2].verbs", "subjects[0]", "roleRef".
	Field string
}

// grant is the definition of one risky grant: the rule's metadata and the
// check that finds it, either in a role's rules or in a binding.
type grant struct {
	id, title string
	severity  finding.Severity
	cis       string
	why, fix  string
	// yaml shows the fix; role grants share one that lists rules.
	yaml string
	// role finds the grant in a role's rules: the index of the first rule
	// that gives it and what it gives. namespace is the scope the rules
	// apply in: "" cluster-wide (a ClusterRole judged on its own or bound
	// by a ClusterRoleBinding), else the Role's or RoleBinding's namespace.
	role func(rules []rbacv1.PolicyRule, namespace string) (index int, field, what string)
	// binding finds the grant in a binding itself, per subject.
	binding func(ref rbacv1.RoleRef, subjects []rbacv1.Subject, namespace string) []Risk
	// severityOf, when set, is the severity of the rule role found,
	// replacing severity (which is then the least it reports).
	severityOf func(r rbacv1.PolicyRule) finding.Severity
}

// severityAt is the severity of a grant found at rules[index].
func (g *grant) severityAt(rules []rbacv1.PolicyRule, index int) finding.Severity {
	if g.severityOf == nil || index < 0 || index >= len(rules) {
		return g.severity
	}
	return max(g.severity, g.severityOf(rules[index]))
}

// access is a resource the risky verbs apply to; cluster marks
// cluster-scoped resources, which rules bound in a namespace never reach.
type access struct {
	req     rbaceval.Request
	cluster bool
}

// anyVerb stands for "every verb": exec, attach and port-forward are as
// dangerous through get (WebSockets) as through create, and the kubelet
// maps every HTTP method of nodes/proxy to a verb.
var anyVerb []string

var writeVerbs = []string{"create", "update", "patch"}

var (
	workloadResources = []access{
		{req: rbaceval.Request{Resource: "pods"}}, {req: rbaceval.Request{Resource: "replicationcontrollers"}},
		{req: rbaceval.Request{Group: "apps", Resource: "deployments"}}, {req: rbaceval.Request{Group: "apps", Resource: "daemonsets"}},
		{req: rbaceval.Request{Group: "apps", Resource: "statefulsets"}}, {req: rbaceval.Request{Group: "apps", Resource: "replicasets"}},
		{req: rbaceval.Request{Group: "batch", Resource: "jobs"}}, {req: rbaceval.Request{Group: "batch", Resource: "cronjobs"}},
	}
	execResources = []access{
		{req: rbaceval.Request{Resource: "pods", Subresource: "exec"}},
		{req: rbaceval.Request{Resource: "pods", Subresource: "attach"}},
		{req: rbaceval.Request{Resource: "pods", Subresource: "portforward"}},
	}
	rbacResources = []access{
		{req: rbaceval.Request{Group: rbacv1.GroupName, Resource: "roles"}},
		{req: rbaceval.Request{Group: rbacv1.GroupName, Resource: "rolebindings"}},
		{req: rbaceval.Request{Group: rbacv1.GroupName, Resource: "clusterroles"}, cluster: true},
		{req: rbaceval.Request{Group: rbacv1.GroupName, Resource: "clusterrolebindings"}, cluster: true},
	}
	networkingResources = []access{
		{req: rbaceval.Request{Resource: "services"}}, {req: rbaceval.Request{Resource: "endpoints"}},
		{req: rbaceval.Request{Group: "discovery.k8s.io", Resource: "endpointslices"}},
		{req: rbaceval.Request{Group: "networking.k8s.io", Resource: "networkpolicies"}},
		{req: rbaceval.Request{Group: "networking.k8s.io", Resource: "ingresses"}},
		{req: rbaceval.Request{Group: "gateway.networking.k8s.io", Resource: "httproutes"}},
		{req: rbaceval.Request{Group: "gateway.networking.k8s.io", Resource: "gateways"}},
	}
	admissionResources = func() []access {
		var out []access
		for _, r := range []string{"validatingwebhookconfigurations", "mutatingwebhookconfigurations",
			"validatingadmissionpolicies", "validatingadmissionpolicybindings",
			"mutatingadmissionpolicies", "mutatingadmissionpolicybindings"} {
			out = append(out, access{req: rbaceval.Request{Group: "admissionregistration.k8s.io", Resource: r}, cluster: true})
		}
		return out
	}()
)

// grants is the catalogue of risky grants, in report order.
var grants = []grant{
	{id: "rbac/secrets-read", title: "Can read Secrets", severity: finding.SeverityHigh, cis: "5.1.2",
		why: "Reading Secrets yields every credential they hold (tokens, passwords, keys); it is the most valuable permission after cluster-admin.",
		fix: "Grant get on named Secrets (resourceNames) instead of list/watch, or mount the Secret into the one workload that needs it.",
		// Grants limited to named Secrets are the recommended fix, not a risk.
		role: allows([]access{{req: rbaceval.Request{Resource: "secrets"}}}, []string{"get", "list", "watch"}, true)},
	{id: "rbac/secrets-write", title: "Can create or change Secrets", severity: finding.SeverityHigh, cis: "5.1.2",
		why:  "Whoever can create Secrets can create a service-account token Secret for any service account in scope and read the token the control plane writes into it; changing Secrets replaces credentials and certificates other workloads trust.",
		fix:  "Let only the controller that owns a Secret write it; grant update on named Secrets (resourceNames) where a workload must rotate its own.",
		role: allows([]access{{req: rbaceval.Request{Resource: "secrets"}}}, writeVerbs, true)},
	{id: "rbac/exec", title: "Can exec, attach or port-forward into pods", severity: finding.SeverityHigh, cis: "5.1.x",
		why:  "pods/exec and pods/attach run commands inside running containers; port-forward tunnels past NetworkPolicies. Any verb is enough: kubectl uses get over WebSockets as well as create.",
		fix:  "Keep exec/attach/portforward to break-glass roles with audited use.",
		role: allows(execResources, anyVerb, false)},
	{id: "rbac/escalation", title: "Can escalate, bind or impersonate", severity: finding.SeverityCritical, cis: "5.1.8",
		why: "escalate and bind let a subject grant itself any permission through roles; impersonate lets it act as any user, group or service account.",
		fix: "Remove escalate, bind and impersonate from roles outside the control plane.",
		role: firstOf(
			allows([]access{{req: rbaceval.Request{Group: rbacv1.GroupName, Resource: "roles"}}, {req: rbaceval.Request{Group: rbacv1.GroupName, Resource: "clusterroles"}, cluster: true}},
				[]string{"escalate", "bind"}, false),
			allows([]access{{req: rbaceval.Request{Resource: "users"}, cluster: true}, {req: rbaceval.Request{Resource: "groups"}, cluster: true},
				{req: rbaceval.Request{Resource: "serviceaccounts"}}, {req: rbaceval.Request{Group: "authentication.k8s.io", Resource: "uids"}, cluster: true},
				{req: rbaceval.Request{Group: "authentication.k8s.io", Resource: "userextras", Subresource: "scopes"}, cluster: true}},
				[]string{"impersonate"}, false))},
	{id: "rbac/serviceaccount-token", title: "Can mint service-account tokens", severity: finding.SeverityHigh, cis: "5.1.x",
		why:  "create on serviceaccounts/token issues a token for any service account in scope, and with it that account's permissions.",
		fix:  "Restrict serviceaccounts/token to the components that must mint tokens.",
		role: allows([]access{{req: rbaceval.Request{Resource: "serviceaccounts", Subresource: "token"}}}, []string{"create"}, false)},
	{id: "rbac/nodes-proxy", title: "Can use nodes/proxy", severity: finding.SeverityCritical, cis: "5.1.x",
		why:  "nodes/proxy reaches the kubelet API, which runs commands in any pod on the node without exec audit events; the kubelet maps every HTTP method to a verb, so get is enough.",
		fix:  "Remove nodes/proxy; monitoring can read metrics through the metrics endpoints (nodes/metrics) instead.",
		role: allows([]access{{req: rbaceval.Request{Resource: "nodes", Subresource: "proxy"}, cluster: true}}, anyVerb, false)},
	{id: "rbac/admission-webhooks", title: "Can change admission webhooks or policies", severity: finding.SeverityHigh, cis: "5.1.x",
		why:  "Changing or deleting admission webhooks and policies switches off Palisade and every other guard rail.",
		fix:  "Keep write access to admissionregistration.k8s.io to cluster operators.",
		role: allows(admissionResources, []string{"create", "update", "patch", "delete", "deletecollection"}, false)},
	{id: "rbac/csr-approval", title: "Can approve certificate signing requests", severity: finding.SeverityHigh, cis: "5.1.x",
		why: "Approving CSRs issues client certificates, which can name any user or group and cannot be revoked before they expire.",
		fix: "Keep CSR approval to the controller-manager and reviewed automation.",
		role: allows([]access{{req: rbaceval.Request{Group: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: "approval"}, cluster: true}},
			[]string{"update", "patch"}, false)},
	{id: "rbac/persistent-volumes-create", title: "Can create PersistentVolumes", severity: finding.SeverityHigh, cis: "5.1.9",
		why:  "A PersistentVolume can be a hostPath on the node: whoever creates one, and a claim bound to it, mounts any directory of the node (its root, the kubelet's credentials, the container runtime's socket) into a pod, which is a node escape that no Pod Security level sees, because the pod only names a claim.",
		fix:  "Let only the storage provisioners and cluster operators create PersistentVolumes; applications claim storage through a StorageClass with PersistentVolumeClaims.",
		role: allows([]access{{req: rbaceval.Request{Resource: "persistentvolumes"}, cluster: true}}, []string{"create"}, false)},
	{id: "rbac/roles-write", title: "Can create or change roles and bindings", severity: finding.SeverityMedium, cis: "5.1.x",
		why:  "Whoever writes roles and bindings can hand the permissions they hold to any identity, including ones outside the cluster, and keep access after their own is removed; with escalate or bind it is every permission. Reported MEDIUM, not CRITICAL as Trivy's KSV050 (\"equivalent to cluster-admin\"): the API server's escalation prevention lets a role or binding grant only what its writer already holds, so it spreads and keeps access rather than raising it; rbac/escalation reports escalate and bind (CRITICAL), and rbac/wildcard a \"*\" that holds them.",
		fix:  "Keep RBAC changes to cluster operators and the GitOps controller that applies reviewed changes.",
		role: allows(rbacResources, writeVerbs, false)},
	{id: "rbac/create-workloads", title: "Can create or change pods or workloads", severity: finding.SeverityMedium, cis: "5.1.4",
		why:  "Whoever can create pods, or change a workload's pod template, can run any image with any service account of the namespace, and so use its permissions and mounted Secrets; in kube-system that is cluster takeover.",
		fix:  "Let CI/CD service accounts create workloads only in their application namespaces; never in kube-system.",
		role: allows(workloadResources, writeVerbs, false)},
	{id: "rbac/kube-system-configmaps", title: "Can change ConfigMaps in kube-system", severity: finding.SeverityHigh, cis: "5.1.x",
		why: "kube-system ConfigMaps configure the cluster itself: aws-auth maps IAM identities to groups such as system:masters, coredns decides where names resolve, kube-proxy how traffic is routed.",
		fix: "Grant ConfigMap writes in application namespaces only; keep kube-system to cluster operators.",
		role: func(rules []rbacv1.PolicyRule, namespace string) (int, string, string) {
			if namespace != "" && namespace != "kube-system" {
				return -1, "", ""
			}
			i, field, what := allows([]access{{req: rbaceval.Request{Resource: "configmaps"}}}, writeVerbs, false)(rules, namespace)
			if i >= 0 && namespace == "" {
				what += " in every namespace, kube-system included"
			}
			return i, field, what
		}},
	{id: "rbac/networking-write", title: "Can change Services, Ingresses or NetworkPolicies", severity: finding.SeverityMedium, cis: "5.1.x",
		why:  "Whoever changes Services, Endpoints, Ingresses or NetworkPolicies decides where traffic goes and who may send it: they can redirect a Service to their own pod, publish an internal application, or delete the policy that isolates it.",
		fix:  "Keep networking changes to the GitOps controller and platform operators; grant read access to the rest.",
		role: allows(networkingResources, []string{"create", "update", "patch", "delete", "deletecollection"}, false)},
	{id: "rbac/delete-logs-or-events", title: "Can delete pod logs or events", severity: finding.SeverityMedium, cis: "5.1.x",
		why:  "Deleting Events or pod logs removes the record of what happened in the cluster: an intruder with this permission covers their tracks.",
		fix:  "Let Events expire on their own; keep delete on events and pods/log to no one but the control plane.",
		role: allows([]access{{req: rbaceval.Request{Resource: "pods", Subresource: "log"}}, {req: rbaceval.Request{Resource: "events"}}, {req: rbaceval.Request{Group: "events.k8s.io", Resource: "events"}}}, []string{"delete", "deletecollection"}, false)},
	{id: "rbac/wildcard", title: "Role uses wildcards", severity: finding.SeverityMedium, cis: "5.1.3",
		why: "A \"*\" in verbs, resources or API groups grants everything that exists now and every resource added later. Reported MEDIUM; HIGH when a rule changes every resource of its groups (\"*\" resources with \"*\" or write verbs), CRITICAL when it allows every verb on every resource of every group, which is cluster-admin in all but name.",
		fix: "List the verbs, resources and groups needed explicitly.",
		// The most severe wildcard rule is reported, the first of equals.
		role: func(rules []rbacv1.PolicyRule, _ string) (int, string, string) {
			at, best := -1, finding.SeverityUnknown
			for i, r := range rules {
				if wildcardField(r) != "" && wildcardSeverity(r) > best {
					at, best = i, wildcardSeverity(r)
				}
			}
			if at < 0 {
				return -1, "", ""
			}
			f := wildcardField(rules[at])
			return at, fmt.Sprintf("rules[%d].%s", at, f), `"*" in ` + f + wildcardWhat[best]
		},
		severityOf: wildcardSeverity},
	{id: "rbac/cluster-admin-binding", title: "cluster-admin bound to a non-system subject", severity: finding.SeverityCritical, cis: "5.1.1",
		why:  "cluster-admin is unrestricted control of the cluster; bound to people or workloads it turns one stolen credential into a full compromise.",
		fix:  "Bind narrower roles; keep cluster-admin for break-glass access through a reviewed process.",
		yaml: "roleRef:\n  kind: ClusterRole\n  name: edit   # or a custom role with only what is needed",
		binding: func(ref rbacv1.RoleRef, subjects []rbacv1.Subject, namespace string) []Risk {
			if ref.Kind != "ClusterRole" || ref.Name != "cluster-admin" {
				return nil
			}
			return perSubject(subjects, func(s rbacv1.Subject) string {
				if isSystem(s, namespace) {
					return ""
				}
				return "cluster-admin to " + subjectName(s, namespace)
			})
		}},
	{id: "rbac/anonymous-binding", title: "Role bound to anonymous users", severity: finding.SeverityCritical, cis: "5.1.x",
		why:     "system:anonymous and system:unauthenticated are every request without credentials: whatever they are bound to, anyone who reaches the API server can do.",
		fix:     "Remove the subject; bind the role to the identities that need it. Keep anonymous access to the built-in health and discovery endpoints only.",
		yaml:    "subjects:\n- kind: Group\n  name: my-team   # the identities that need the role",
		binding: broadGroupBinding("system:anonymous", "system:unauthenticated")},
	{id: "rbac/authenticated-binding", title: "Role bound to every authenticated identity", severity: finding.SeverityHigh, cis: "5.1.x",
		why:     "system:authenticated holds every identity the API server accepts, and system:serviceaccounts every pod's service account: one compromised workload or leaked token anywhere gets the role.",
		fix:     "Bind the role to the users, groups or service accounts that need it.",
		yaml:    "subjects:\n- kind: Group\n  name: my-team   # the identities that need the role",
		binding: broadGroupBinding("system:authenticated", "system:serviceaccounts")},
	{id: "rbac/system-masters-binding", title: "Role bound to system:masters", severity: finding.SeverityMedium, cis: "5.1.x",
		why:  "Members of system:masters bypass RBAC altogether, so a binding to it grants nothing; it shows that credentials in that group are in use or expected, and certificates naming it cannot be revoked.",
		fix:  "Give administrators identities in an ordinary group bound to the roles they need; keep system:masters to break-glass certificates.",
		yaml: "subjects:\n- kind: Group\n  name: cluster-operators",
		binding: func(ref rbacv1.RoleRef, subjects []rbacv1.Subject, namespace string) []Risk {
			if ref.Kind == "ClusterRole" && ref.Name == "cluster-admin" {
				return nil // the built-in cluster-admin binding
			}
			return perSubject(subjects, func(s rbacv1.Subject) string {
				if s.Kind == rbacv1.GroupKind && s.Name == "system:masters" {
					return roleLabel(ref) + " to Group system:masters"
				}
				return ""
			})
		}},
	{id: "rbac/default-serviceaccount-permissions", title: "Default service account granted permissions", severity: finding.SeverityMedium, cis: "5.1.5",
		why:  "Every pod that names no service account runs as \"default\"; permissions granted to it reach all of them.",
		fix:  "Grant permissions to a dedicated service account and set serviceAccountName on the workloads that need them.",
		yaml: "subjects:\n- kind: ServiceAccount\n  name: my-app\n  namespace: my-app",
		binding: func(ref rbacv1.RoleRef, subjects []rbacv1.Subject, namespace string) []Risk {
			return perSubject(subjects, func(s rbacv1.Subject) string {
				ns := s.Namespace
				if ns == "" {
					ns = namespace
				}
				if s.Kind == rbacv1.ServiceAccountKind && s.Name == "default" && ns != "kube-system" {
					return fmt.Sprintf("%s to the default service account of namespace %q", roleLabel(ref), ns)
				}
				return ""
			})
		}},
}

// wildcardField names the first field of a policy rule that holds "*",
// or "".
func wildcardField(r rbacv1.PolicyRule) string {
	for _, f := range []struct {
		name string
		list []string
	}{{"verbs", r.Verbs}, {"resources", r.Resources}, {"apiGroups", r.APIGroups}} {
		if contains(f.list, "*") {
			return f.name
		}
	}
	return ""
}

// wildcardSeverity is how much a policy rule's wildcards grant: every
// verb on every resource of every group is cluster-admin (CRITICAL, as
// Trivy's KSV044 and Kubescape's C-0187 weigh it); changing every
// resource of its groups is HIGH (KSV046, KSV115); any other wildcard
// MEDIUM.
func wildcardSeverity(r rbacv1.PolicyRule) finding.Severity {
	allVerbs, allResources := contains(r.Verbs, "*"), contains(r.Resources, "*")
	switch {
	case allVerbs && allResources && contains(r.APIGroups, "*"):
		return finding.SeverityCritical
	case allResources && (allVerbs || containsAny(r.Verbs, "create", "update", "patch", "delete", "deletecollection")):
		return finding.SeverityHigh
	}
	return finding.SeverityMedium
}

var wildcardWhat = map[finding.Severity]string{
	finding.SeverityHigh:     " (changes every resource of its API groups)",
	finding.SeverityCritical: " (every verb on every resource: cluster-admin in all but name)",
}

func containsAny(list []string, want ...string) bool {
	for _, w := range want {
		if contains(list, w) {
			return true
		}
	}
	return false
}

// RoleRisks returns the risky grants of a role's rules, at most one per
// rule ID (the first rule that gives it). namespace is where the rules
// apply: a Role's or RoleBinding's namespace, or "" for a ClusterRole
// judged on its own or bound cluster-wide. In a namespace, grants on
// cluster-scoped resources (nodes/proxy, ClusterRoles, webhooks, CSRs,
// impersonating users and groups) are not risks: a RoleBinding cannot
// give them.
func RoleRisks(rules []rbacv1.PolicyRule, namespace string) []Risk {
	var out []Risk
	for i := range grants {
		g := &grants[i]
		if g.role == nil {
			continue
		}
		if idx, field, what := g.role(rules, namespace); idx >= 0 {
			out = append(out, Risk{RuleID: g.id, Severity: g.severityAt(rules, idx), What: what, Field: field})
		}
	}
	return out
}

// BindingRisks returns what a RoleBinding (namespace set) or
// ClusterRoleBinding (namespace "") grants by itself, whatever its role's
// rules: cluster-admin to a non-system subject, a role to anonymous users,
// to every authenticated identity or to system:masters, or to a
// namespace's default service account; one Risk per subject. The built-in
// discovery bindings (system:discovery, system:basic-user,
// system:public-info-viewer, system:service-account-issuer-discovery,
// system:cluster-trust-bundle-discovery) are not risks. What the role's rules give is RoleRisks's to judge.
func BindingRisks(roleRef rbacv1.RoleRef, subjects []rbacv1.Subject, namespace string) []Risk {
	var out []Risk
	for i := range grants {
		g := &grants[i]
		if g.binding == nil {
			continue
		}
		for _, r := range g.binding(roleRef, subjects, namespace) {
			r.RuleID, r.Severity = g.id, g.severity
			out = append(out, r)
		}
	}
	return out
}

// BoundRoleRisks returns the risky grants a binding gives its non-system
// subjects through its role's rules: RoleRisks of rules in the binding's
// namespace, with What naming who receives what through which role
// ("Group developers create pods/exec through Role debugger") and Field
// "roleRef". A binding to cluster-admin, or only to system subjects,
// gives nothing here: BindingRisks reports cluster-admin once.
func BoundRoleRisks(roleRef rbacv1.RoleRef, subjects []rbacv1.Subject, namespace string, rules []rbacv1.PolicyRule) []Risk {
	if roleRef.Kind == "ClusterRole" && roleRef.Name == "cluster-admin" {
		return nil
	}
	var who []string
	for _, s := range subjects {
		if !isSystem(s, namespace) {
			who = append(who, subjectName(s, namespace))
		}
	}
	if len(who) == 0 {
		return nil
	}
	sort.Strings(who)
	risks := RoleRisks(rules, namespace)
	for i := range risks {
		risks[i].What = fmt.Sprintf("%s %s through %s %s", strings.Join(who, ", "), risks[i].What, roleRef.Kind, roleRef.Name)
		risks[i].Field = "roleRef"
	}
	return risks
}

// IsBuiltinRole reports the roles Kubernetes itself ships and reconciles
// (cluster-admin, admin, edit, view and every "system:" role, a prefix the
// Kubernetes documentation reserves for the control plane). They are
// judged only through the bindings that give them to someone: reporting
// their contents would be the same noise on every cluster.
func IsBuiltinRole(kind, name string) bool {
	if strings.HasPrefix(name, "system:") {
		return true
	}
	return kind == "ClusterRole" && rbaceval.IsShippedClusterRole(name)
}

// discoveryRoles are the built-in roles bound to broad groups by default:
// API discovery, self-review and public information only.
// (Kubernetes v1.37 bootstrap policy's cluster-role-bindings.)
var discoveryRoles = map[string]bool{"system:discovery": true, "system:basic-user": true,
	"system:public-info-viewer": true, "system:service-account-issuer-discovery": true,
	"system:cluster-trust-bundle-discovery": true}

func broadGroupBinding(groups ...string) func(rbacv1.RoleRef, []rbacv1.Subject, string) []Risk {
	return func(ref rbacv1.RoleRef, subjects []rbacv1.Subject, namespace string) []Risk {
		if ref.Kind == "ClusterRole" && discoveryRoles[ref.Name] {
			return nil
		}
		return perSubject(subjects, func(s rbacv1.Subject) string {
			if (s.Kind == rbacv1.GroupKind || s.Kind == rbacv1.UserKind) && contains(groups, s.Name) {
				return roleLabel(ref) + " to " + s.Kind + " " + s.Name
			}
			return ""
		})
	}
}

// roleLabel names a binding's role; a patch that changes only subjects
// does not say which role it binds.
func roleLabel(ref rbacv1.RoleRef) string {
	if ref.Name == "" {
		return "its role"
	}
	return ref.Kind + " " + ref.Name
}

// perSubject makes one Risk per subject for which what says something; the
// caller fills in the rule.
func perSubject(subjects []rbacv1.Subject, what func(rbacv1.Subject) string) []Risk {
	var out []Risk
	for i, s := range subjects {
		if w := what(s); w != "" {
			out = append(out, Risk{What: w, Field: fmt.Sprintf("subjects[%d]", i)})
		}
	}
	return out
}

// allows finds the first policy rule that gives one of verbs (anyVerb:
// any verb at all) on one of the resources. With named, rules limited to
// resourceNames count as safe; otherwise they count like unlimited ones (a
// named pod to exec into or a named user to impersonate is still the
// risk). Cluster-scoped resources only count cluster-wide.
func allows(resources []access, verbs []string, named bool) func([]rbacv1.PolicyRule, string) (int, string, string) {
	return func(rules []rbacv1.PolicyRule, namespace string) (int, string, string) {
		for i, r := range rules {
			if named && len(r.ResourceNames) > 0 {
				continue
			}
			r.ResourceNames = nil
			try := verbs
			if try == nil {
				try = r.Verbs
			}
			for _, a := range resources {
				if a.cluster && namespace != "" {
					continue
				}
				for _, v := range try {
					req := a.req
					req.Verb = v
					if rbaceval.RuleAllows(r, req) {
						return i, fmt.Sprintf("rules[%d].verbs", i), v + " " + resourceName(a.req)
					}
				}
			}
		}
		return -1, "", ""
	}
}

// firstOf is the first of checks that finds something, by rule order.
func firstOf(checks ...func([]rbacv1.PolicyRule, string) (int, string, string)) func([]rbacv1.PolicyRule, string) (int, string, string) {
	return func(rules []rbacv1.PolicyRule, namespace string) (int, string, string) {
		best, field, what := -1, "", ""
		for _, c := range checks {
			if i, f, w := c(rules, namespace); i >= 0 && (best < 0 || i < best) {
				best, field, what = i, f, w
			}
		}
		return best, field, what
	}
}
