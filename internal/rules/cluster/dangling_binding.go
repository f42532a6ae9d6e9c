package cluster

import (
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	rbacrules "github.com/palisade-sec/palisade/internal/rules/rbac"
)

// DanglingBindingID is the rule that reports bindings whose role does not
// exist.
const DanglingBindingID = "cluster/dangling-role-binding"

// danglingBinding: a RoleBinding or ClusterRoleBinding whose roleRef names
// a Role or ClusterRole that is not in the cluster. The contract is a
// whole cluster's view: it runs in 'scan cluster' only (a manifest
// directory often binds roles defined elsewhere), never judges the roles
// every cluster ships (cluster-admin, admin, edit, view, "system:*"), and
// says nothing about a kind the read could not list (the report is then
// partial and names what is missing).
func danglingBinding() *rule.Rule {
	return &rule.Rule{
		ID:       DanglingBindingID,
		Title:    "Binding refers to a role that does not exist",
		Severity: finding.SeverityLow,
		Description: "A RoleBinding or ClusterRoleBinding whose roleRef names a Role or ClusterRole the cluster does not have grants nothing today, " +
			"but its subjects receive whatever a role of that name will allow as soon as someone creates one, without anyone reviewing the binding again; " +
			"it is usually left over from an uninstalled application. Runs in 'scan cluster' only, where every role is read: a manifest directory often binds roles defined elsewhere. " +
			"The roles every cluster ships (cluster-admin, admin, edit, view and every \"system:\" role) are never reported, and nothing is reported for a kind the scan could not list (the report is then partial). " +
			"Polaris' *PodExecAttach binding checks fail such bindings too.",
		Remediation:     "Delete the binding, or create the role it was meant to bind with only the permissions its subjects need.",
		RemediationYAML: "kubectl delete rolebinding my-binding -n my-app   # or: kubectl delete clusterrolebinding my-binding",
		References: []finding.Reference{
			{Title: "Kubernetes: Using RBAC authorization, RoleBinding and ClusterRoleBinding", URL: "https://kubernetes.io/docs/reference/access-authn-authz/rbac/#rolebinding-and-clusterrolebinding"},
			{Title: "Polaris: security checks (clusterrolebindingPodExecAttach, rolebindingRolePodExecAttach, rolebindingClusterRolePodExecAttach)", URL: "https://polaris.docs.fairwinds.com/checks/security/"},
		},
		Tags:      tags,
		Inventory: danglingBindings,
	}
}

func danglingBindings(c *rule.Context) []rule.Violation {
	inv := c.Inventory
	roles := map[string]bool{}        // namespace/name
	clusterRoles := map[string]bool{} // name
	for _, r := range inv.RBAC.Roles {
		roles[r.Namespace+"/"+r.Name] = true
	}
	for _, r := range inv.RBAC.ClusterRoles {
		clusterRoles[r.Name] = true
	}
	var out []rule.Violation
	for _, o := range inv.Objects {
		var kind, ns, name string
		var ref rbacv1.RoleRef
		switch v := o.Typed.(type) {
		case *rbacv1.RoleBinding:
			kind, ns, name, ref = "RoleBinding", o.Ref.Namespace, v.Name, v.RoleRef
		case *rbacv1.ClusterRoleBinding:
			kind, name, ref = "ClusterRoleBinding", v.Name, v.RoleRef
		default:
			continue
		}
		if ref.Name == "" || rbacrules.IsBuiltinRole(ref.Kind, ref.Name) || inv.Unlisted[ref.Kind] {
			continue
		}
		var where string
		switch {
		case ref.Kind == "ClusterRole" && !clusterRoles[ref.Name]:
			where = "ClusterRole " + ref.Name
		case ref.Kind == "Role" && ns != "" && !roles[ns+"/"+ref.Name]:
			where = "Role " + ns + "/" + ref.Name
		default:
			continue
		}
		binding := kind + " " + name
		if ns != "" {
			binding = kind + " " + ns + "/" + name
		}
		out = append(out, rule.Violation{Object: o, Field: "roleRef.name",
			Message: fmt.Sprintf("%s refers to %s, which is not in the cluster: whoever creates it grants its permissions to the binding's subjects", binding, where)})
	}
	return out
}
