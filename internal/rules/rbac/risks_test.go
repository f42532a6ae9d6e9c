package rbac

import (
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/palisade-sec/palisade/internal/finding"
)

func pr(groups, resources, verbs []string, names ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: groups, Resources: resources, Verbs: verbs, ResourceNames: names}
}

func l(s ...string) []string { return s }

// riskList renders risks as sorted "ruleID field" lines.
func riskList(rs []Risk) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.RuleID+" "+r.Field)
		if r.What == "" || r.Severity == finding.SeverityUnknown {
			out = append(out, "(incomplete risk "+r.RuleID+")")
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestRoleRisks: each risky grant, how the authorizer would match it
// (wildcards, */subresource, resourceNames) and where it applies
// (cluster-scoped resources only count cluster-wide).
func TestRoleRisks(t *testing.T) {
	core, apps, rbacG := l(""), l("apps"), l(rbacv1.GroupName)
	tests := []struct {
		name      string
		rules     []rbacv1.PolicyRule
		namespace string
		want      []string
	}{
		{"read-only pods (docs: pod-reader)", []rbacv1.PolicyRule{pr(core, l("pods"), l("get", "watch", "list"))}, "default", nil},
		{"secret-reader (docs)", []rbacv1.PolicyRule{pr(core, l("secrets"), l("get", "watch", "list"))}, "", l("rbac/secrets-read rules[0].verbs")},
		{"named Secret only", []rbacv1.PolicyRule{pr(core, l("secrets"), l("get", "update"), "shop-tls")}, "shop", nil},
		{"secrets all verbs", []rbacv1.PolicyRule{pr(core, l("pods"), l("get")), pr(core, l("secrets"), l("*"))}, "shop",
			l("rbac/secrets-read rules[1].verbs", "rbac/secrets-write rules[1].verbs", "rbac/wildcard rules[1].verbs")},
		{"exec with get only (WebSockets)", []rbacv1.PolicyRule{pr(core, l("pods/exec"), l("get"))}, "shop", l("rbac/exec rules[0].verbs")},
		{"portforward on a named pod", []rbacv1.PolicyRule{pr(core, l("pods/portforward"), l("create"), "db-0")}, "shop", l("rbac/exec rules[0].verbs")},
		{"*/attach", []rbacv1.PolicyRule{pr(core, l("*/attach"), l("create"))}, "shop", l("rbac/exec rules[0].verbs")},
		{"exec in another group is not pods/exec", []rbacv1.PolicyRule{pr(l("example.com"), l("pods/exec"), l("create"))}, "shop", nil},
		{"pods/log is harmless", []rbacv1.PolicyRule{pr(core, l("pods/log", "pods/status"), l("get", "update"))}, "shop", nil},
		{"nodes/proxy with get", []rbacv1.PolicyRule{pr(core, l("nodes/metrics"), l("get")), pr(core, l("nodes/proxy"), l("get"))}, "",
			l("rbac/nodes-proxy rules[1].verbs")},
		{"nodes/proxy in a Role grants nothing", []rbacv1.PolicyRule{pr(core, l("nodes/proxy"), l("get"))}, "shop", nil},
		{"escalate on roles in a namespace", []rbacv1.PolicyRule{pr(rbacG, l("roles"), l("escalate"))}, "shop", l("rbac/escalation rules[0].verbs")},
		{"bind on clusterroles in a Role grants nothing", []rbacv1.PolicyRule{pr(rbacG, l("clusterroles"), l("bind"))}, "shop", nil},
		{"impersonate a named user", []rbacv1.PolicyRule{pr(core, l("users"), l("impersonate"), "jane")}, "", l("rbac/escalation rules[0].verbs")},
		{"impersonate uids", []rbacv1.PolicyRule{pr(l("authentication.k8s.io"), l("uids"), l("impersonate"))}, "", l("rbac/escalation rules[0].verbs")},
		{"token for a named service account", []rbacv1.PolicyRule{pr(core, l("serviceaccounts/token"), l("create"), "builder")}, "ci",
			l("rbac/serviceaccount-token rules[0].verbs")},
		{"webhooks read-only", []rbacv1.PolicyRule{pr(l("admissionregistration.k8s.io"), l("validatingwebhookconfigurations"), l("get", "list", "watch"))}, "", nil},
		{"admission policy bindings deleted", []rbacv1.PolicyRule{pr(l("admissionregistration.k8s.io"), l("validatingadmissionpolicybindings"), l("delete"))}, "",
			l("rbac/admission-webhooks rules[0].verbs")},
		{"CSR approval", []rbacv1.PolicyRule{pr(l("certificates.k8s.io"), l("certificatesigningrequests/approval"), l("patch"))}, "",
			l("rbac/csr-approval rules[0].verbs")},
		{"creating CSRs is not approving", []rbacv1.PolicyRule{pr(l("certificates.k8s.io"), l("certificatesigningrequests"), l("create", "get"))}, "", nil},
		{"rolebindings in a namespace", []rbacv1.PolicyRule{pr(rbacG, l("rolebindings"), l("create", "delete"))}, "shop", l("rbac/roles-write rules[0].verbs")},
		{"clusterroles from a Role grant nothing", []rbacv1.PolicyRule{pr(rbacG, l("clusterroles"), l("update"))}, "shop", nil},
		{"a CI deployer in its namespace", []rbacv1.PolicyRule{pr(apps, l("deployments"), l("get", "list", "update", "patch")),
			pr(core, l("configmaps", "services"), l("get", "create", "update"))}, "shop", l("rbac/create-workloads rules[0].verbs", "rbac/networking-write rules[1].verbs")},
		{"network policies and ingresses", []rbacv1.PolicyRule{pr(l("networking.k8s.io"), l("networkpolicies"), l("get", "list")),
			pr(l("networking.k8s.io"), l("ingresses"), l("delete"))}, "shop", l("rbac/networking-write rules[1].verbs")},
		{"reading services is not changing them", []rbacv1.PolicyRule{pr(core, l("services", "endpoints"), l("get", "list", "watch"))}, "shop", nil},
		{"pod logs deleted", []rbacv1.PolicyRule{pr(core, l("pods/log"), l("get", "delete"))}, "shop", l("rbac/delete-logs-or-events rules[0].verbs")},
		{"events deleted", []rbacv1.PolicyRule{pr(l("events.k8s.io"), l("events"), l("deletecollection"))}, "", l("rbac/delete-logs-or-events rules[0].verbs")},
		{"reading logs and events", []rbacv1.PolicyRule{pr(core, l("pods/log", "events"), l("get", "list", "watch"))}, "shop", nil},
		{"replication controllers", []rbacv1.PolicyRule{pr(core, l("replicationcontrollers"), l("create"))}, "shop", l("rbac/create-workloads rules[0].verbs")},
		{"scaling is not changing the template", []rbacv1.PolicyRule{pr(apps, l("deployments/scale"), l("update", "patch"))}, "shop", nil},
		{"configmaps in kube-system", []rbacv1.PolicyRule{pr(core, l("configmaps"), l("update"), "aws-auth")}, "kube-system",
			l("rbac/kube-system-configmaps rules[0].verbs")},
		{"configmaps cluster-wide", []rbacv1.PolicyRule{pr(core, l("configmaps"), l("patch"))}, "", l("rbac/kube-system-configmaps rules[0].verbs")},
		{"configmaps in an app namespace", []rbacv1.PolicyRule{pr(core, l("configmaps"), l("create", "update", "patch"))}, "shop", nil},
		{"wildcard resources in a group", []rbacv1.PolicyRule{pr(l("monitoring.coreos.com"), l("*"), l("get", "list"))}, "", l("rbac/wildcard rules[0].resources")},
		{"wildcard groups", []rbacv1.PolicyRule{pr(l("*"), l("ingresses"), l("get"))}, "", l("rbac/wildcard rules[0].apiGroups")},
		{"non-resource URLs", []rbacv1.PolicyRule{{NonResourceURLs: l("/healthz", "/metrics"), Verbs: l("get")}}, "", nil},
		{"everything (Argo CD's application controller)", []rbacv1.PolicyRule{pr(l("*"), l("*"), l("*")), {NonResourceURLs: l("*"), Verbs: l("*")}}, "", l(
			"rbac/admission-webhooks rules[0].verbs", "rbac/create-workloads rules[0].verbs", "rbac/csr-approval rules[0].verbs",
			"rbac/delete-logs-or-events rules[0].verbs", "rbac/networking-write rules[0].verbs", "rbac/escalation rules[0].verbs", "rbac/exec rules[0].verbs", "rbac/kube-system-configmaps rules[0].verbs",
			"rbac/nodes-proxy rules[0].verbs", "rbac/persistent-volumes-create rules[0].verbs", "rbac/roles-write rules[0].verbs", "rbac/secrets-read rules[0].verbs",
			"rbac/secrets-write rules[0].verbs", "rbac/serviceaccount-token rules[0].verbs", "rbac/wildcard rules[0].verbs")},
		{"persistent volumes cluster-wide", []rbacv1.PolicyRule{pr(core, l("persistentvolumes"), l("create", "get"))}, "", l("rbac/persistent-volumes-create rules[0].verbs")},
		{"persistent volumes read, claims created", []rbacv1.PolicyRule{pr(core, l("persistentvolumes"), l("get", "list")), pr(core, l("persistentvolumeclaims"), l("create"))}, "", nil},
		{"everything bound in a namespace", []rbacv1.PolicyRule{pr(l("*"), l("*"), l("*"))}, "shop", l(
			"rbac/create-workloads rules[0].verbs", "rbac/delete-logs-or-events rules[0].verbs", "rbac/networking-write rules[0].verbs", "rbac/escalation rules[0].verbs", "rbac/exec rules[0].verbs",
			"rbac/roles-write rules[0].verbs", "rbac/secrets-read rules[0].verbs", "rbac/secrets-write rules[0].verbs",
			"rbac/serviceaccount-token rules[0].verbs", "rbac/wildcard rules[0].verbs")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := append([]string(nil), tt.want...)
			sort.Strings(want)
			if got := riskList(RoleRisks(tt.rules, tt.namespace)); got != strings.Join(want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
}

// TestBindingRisks: what a binding grants by itself, per subject.
func TestBindingRisks(t *testing.T) {
	cr := func(name string) rbacv1.RoleRef {
		return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}
	}
	group := func(n string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: n}
	}
	user := func(n string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: n}
	}
	sa := func(ns, n string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: n}
	}
	tests := []struct {
		name      string
		ref       rbacv1.RoleRef
		subjects  []rbacv1.Subject
		namespace string
		want      []string
	}{
		{"kubectl create clusterrolebinding --clusterrole=cluster-admin --user=jane", cr("cluster-admin"), []rbacv1.Subject{user("jane")}, "",
			l("rbac/cluster-admin-binding subjects[0]")},
		{"built-in cluster-admin binding", cr("cluster-admin"), []rbacv1.Subject{group("system:masters")}, "", nil},
		{"cluster-admin to control-plane identities", cr("cluster-admin"), []rbacv1.Subject{user("system:kube-controller-manager"), sa("kube-system", "gc")}, "", nil},
		{"cluster-admin to a namespace's service accounts", cr("cluster-admin"), []rbacv1.Subject{group("system:serviceaccounts:ci")}, "",
			l("rbac/cluster-admin-binding subjects[0]")},
		{"cluster-admin in a RoleBinding", cr("cluster-admin"), []rbacv1.Subject{sa("", "deployer")}, "shop", l("rbac/cluster-admin-binding subjects[0]")},
		{"anonymous", rbacv1.RoleRef{Kind: "Role", Name: "pod-reader"}, []rbacv1.Subject{user("bob"), user("system:anonymous"), group("system:unauthenticated")}, "shop",
			l("rbac/anonymous-binding subjects[1]", "rbac/anonymous-binding subjects[2]")},
		{"built-in public info", cr("system:public-info-viewer"), []rbacv1.Subject{group("system:authenticated"), group("system:unauthenticated")}, "", nil},
		{"built-in discovery", cr("system:discovery"), []rbacv1.Subject{group("system:authenticated")}, "", nil},
		{"built-in trust bundle discovery", cr("system:cluster-trust-bundle-discovery"), []rbacv1.Subject{group("system:serviceaccounts")}, "", nil},
		{"everyone authenticated", cr("view"), []rbacv1.Subject{group("system:authenticated")}, "", l("rbac/authenticated-binding subjects[0]")},
		{"every service account", cr("secret-reader"), []rbacv1.Subject{group("system:serviceaccounts")}, "", l("rbac/authenticated-binding subjects[0]")},
		{"system:masters", cr("view"), []rbacv1.Subject{group("system:masters")}, "", l("rbac/system-masters-binding subjects[0]")},
		{"default service account", rbacv1.RoleRef{Kind: "Role", Name: "deployer"}, []rbacv1.Subject{sa("", "default")}, "shop",
			l("rbac/default-serviceaccount-permissions subjects[0]")},
		{"kube-system's default service account", cr("view"), []rbacv1.Subject{sa("kube-system", "default")}, "", nil},
		{"an ordinary binding", cr("view"), []rbacv1.Subject{group("developers"), sa("shop", "api")}, "shop", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := append([]string(nil), tt.want...)
			sort.Strings(want)
			if got := riskList(BindingRisks(tt.ref, tt.subjects, tt.namespace)); got != strings.Join(want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
}

func TestIsBuiltinRole(t *testing.T) {
	for _, tt := range []struct {
		kind, name string
		want       bool
	}{
		{"ClusterRole", "cluster-admin", true}, {"ClusterRole", "edit", true}, {"ClusterRole", "system:controller:job-controller", true},
		{"Role", "system::leader-locking-kube-scheduler", true}, {"Role", "edit", false}, {"ClusterRole", "ingress-nginx", false},
	} {
		if got := IsBuiltinRole(tt.kind, tt.name); got != tt.want {
			t.Errorf("IsBuiltinRole(%s, %s) = %v", tt.kind, tt.name, got)
		}
	}
}

// TestWildcardSeverity: rbac/wildcard weighs what the wildcard grants, at
// its most severe rule, through RoleRisks and through a binding.
func TestWildcardSeverity(t *testing.T) {
	core := l("")
	tests := []struct {
		name      string
		rules     []rbacv1.PolicyRule
		wantField string
		want      finding.Severity
	}{
		{"wildcard verbs on one resource", []rbacv1.PolicyRule{pr(core, l("configmaps"), l("*"))}, "rules[0].verbs", finding.SeverityMedium},
		{"read every resource of a group", []rbacv1.PolicyRule{pr(l("monitoring.coreos.com"), l("*"), l("get", "list"))}, "rules[0].resources", finding.SeverityMedium},
		{"wildcard groups, named resources", []rbacv1.PolicyRule{pr(l("*"), l("ingresses"), l("get"))}, "rules[0].apiGroups", finding.SeverityMedium},
		{"change every core resource", []rbacv1.PolicyRule{pr(core, l("*"), l("create", "delete"))}, "rules[0].resources", finding.SeverityHigh},
		{"every verb on every core resource", []rbacv1.PolicyRule{pr(core, l("*"), l("*"))}, "rules[0].verbs", finding.SeverityHigh},
		{"the worst rule is reported", []rbacv1.PolicyRule{pr(core, l("configmaps"), l("*")), pr(l("apps"), l("*"), l("patch"))}, "rules[1].resources", finding.SeverityHigh},
		{"everything everywhere", []rbacv1.PolicyRule{pr(core, l("pods"), l("*")), pr(l("*"), l("*"), l("*"))}, "rules[1].verbs", finding.SeverityCritical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *Risk
			risks := RoleRisks(tt.rules, "")
			for i := range risks {
				if risks[i].RuleID == "rbac/wildcard" {
					got = &risks[i]
				}
			}
			if got == nil {
				t.Fatalf("rbac/wildcard not found in %v", riskList(risks))
			}
			if got.Severity != tt.want || got.Field != tt.wantField {
				t.Errorf("got %s at %s, want %s at %s (%s)", got.Severity, got.Field, tt.want, tt.wantField, got.What)
			}
			bound := BoundRoleRisks(rbacv1.RoleRef{Kind: "ClusterRole", Name: "x"}, []rbacv1.Subject{{Kind: "User", Name: "jane"}}, "", tt.rules)
			for _, r := range bound {
				if r.RuleID == "rbac/wildcard" && r.Severity != tt.want {
					t.Errorf("through a binding: %s, want %s", r.Severity, tt.want)
				}
			}
		})
	}
}
