package rbac

import "github.com/palisade-sec/palisade/internal/finding"

// Frameworks maps each rule of this package to the frameworks' controls
// (see finding.Frameworks); rules.Builtin merges it into the rules.
func Frameworks() map[string]finding.Frameworks {
	rbac := []string{"authz.rbac"}
	return map[string]finding.Frameworks{
		"rbac/admission-webhooks":                 {CIS: []string{"5.1.12"}, NSA: rbac, MITRE: []string{"T1562.001"}},
		"rbac/anonymous-binding":                  {NSA: []string{"authz.authentication", "authz.rbac"}, MITRE: []string{"T1078.001"}},
		"rbac/authenticated-binding":              {NSA: rbac, MITRE: []string{"T1078"}},
		"rbac/cluster-admin-binding":              {CIS: []string{"5.1.1"}, NSA: rbac, MITRE: []string{"T1078"}},
		"rbac/create-workloads":                   {CIS: []string{"5.1.4"}, NSA: rbac, MITRE: []string{"T1610"}},
		"rbac/csr-approval":                       {CIS: []string{"5.1.11"}, NSA: rbac, MITRE: []string{"T1098"}},
		"rbac/default-serviceaccount-permissions": {CIS: []string{"5.1.5"}, NSA: rbac, MITRE: []string{"T1078.001"}},
		"rbac/escalation":                         {CIS: []string{"5.1.8"}, NSA: rbac, MITRE: []string{"T1098.006"}},
		"rbac/exec":                               {NSA: rbac, MITRE: []string{"T1609"}},
		"rbac/kube-system-configmaps":             {NSA: rbac, MITRE: []string{"T1098"}},
		"rbac/nodes-proxy":                        {CIS: []string{"5.1.10"}, NSA: rbac, MITRE: []string{"T1609"}},
		"rbac/persistent-volumes-create":          {CIS: []string{"5.1.9"}, NSA: rbac, MITRE: []string{"T1611"}},
		"rbac/roles-write":                        {CIS: []string{"5.1.8"}, NSA: rbac, MITRE: []string{"T1098.006"}},
		"rbac/secrets-read":                       {CIS: []string{"5.1.2"}, NSA: rbac, MITRE: []string{"T1552.007"}},
		"rbac/secrets-write":                      {CIS: []string{"5.1.2"}, NSA: rbac},
		"rbac/serviceaccount-token":               {CIS: []string{"5.1.13"}, NSA: rbac, MITRE: []string{"T1528"}},
		"rbac/system-masters-binding":             {CIS: []string{"5.1.7"}, NSA: rbac, MITRE: []string{"T1078"}},
		"rbac/wildcard":                           {CIS: []string{"5.1.3"}, NSA: rbac},
		"rbac/networking-write":                   {NSA: []string{"authz.rbac", "network.policies"}, MITRE: []string{"T1557", "T1562.001"}},
		"rbac/delete-logs-or-events":              {NSA: []string{"authz.rbac", "logging.audit"}, MITRE: []string{"T1070"}},
	}
}
