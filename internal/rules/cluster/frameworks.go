package cluster

import "github.com/palisade-sec/palisade/internal/finding"

// Frameworks maps each rule of this package to the frameworks' controls
// (see finding.Frameworks); rules.Builtin merges it into the rules.
func Frameworks() map[string]finding.Frameworks {
	return map[string]finding.Frameworks{
		"cluster/dangling-role-binding":       {NSA: []string{"authz.rbac"}},
		"cluster/default-sa-automount":        {CIS: []string{"5.1.5", "5.1.6"}, NSA: []string{"pod-security.sa-tokens"}, MITRE: []string{"T1528"}},
		"cluster/namespace-no-network-policy": {CIS: []string{"5.3.2"}, NSA: []string{"network.policies"}, MITRE: []string{"T1046"}},
		"cluster/namespace-no-pss-enforce":    {CIS: []string{"5.2.1"}, NSA: []string{"pod-security.enforcement"}, MITRE: []string{"T1610", "T1611"}},
		"cluster/namespace-no-limitrange":     {NSA: []string{"network.resource-policies"}, MITRE: []string{"T1496", "T1499"}},
		"cluster/namespace-no-resourcequota":  {NSA: []string{"network.resource-policies"}, MITRE: []string{"T1496", "T1499"}},
	}
}
