package configscan

import (
	"github.com/palisade-sec/palisade/internal/dockerfile"
	"github.com/palisade-sec/palisade/internal/workload"
)

// inputs counts what each analyser of a scan examined (finding.Report
// Inputs): a compliance control whose checks had nothing to examine is
// not applicable, never passed. workloads counts the workloads decoded
// apart from the inventory (scan config's batches).
func inputs(inv *workload.Inventory, workloads int, dfs []*dockerfile.File) map[string]int {
	r := inv.RBAC
	return map[string]int{
		"workload":   len(inv.Objects) + workloads,
		"rbac":       len(r.Roles) + len(r.ClusterRoles) + len(r.RoleBindings) + len(r.ClusterRoleBindings),
		"dockerfile": len(dfs),
		"cluster":    len(inv.Namespaces) + len(inv.ServiceAccounts),
	}
}
