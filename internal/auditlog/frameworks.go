package auditlog

import (
	"github.com/palisade-sec/palisade/internal/finding"
	rbacrules "github.com/palisade-sec/palisade/internal/rules/rbac"
)

// detectionFrameworks maps each built-in detection to MITRE ATT&CK and the
// NSA/CISA guide (see finding.Frameworks); Builtin applies it.
func detectionFrameworks() map[string]finding.Frameworks {
	nsa := []string{"logging.threat-detection"}
	m := func(t ...string) finding.Frameworks { return finding.Frameworks{NSA: nsa, MITRE: t} }
	out := map[string]finding.Frameworks{
		"audit/secret-read":                  m("T1552.007"),
		"audit/secret-list-all-namespaces":   m("T1552.007", "T1613"),
		"audit/ephemeral-container":          m("T1609", "T1610"),
		"audit/anonymous-allowed":            m("T1078.001"),
		"audit/admission-webhook-changed":    m("T1562.001"),
		"audit/token-for-other-sa":           m("T1528"),
		"audit/node-proxy":                   m("T1609"),
		"audit/csr-approved":                 m("T1098"),
		"audit/nodeport-service":             m("T1133"),
		"audit/configmap-credentials":        m("T1552"),
		"audit/impersonation":                m("T1078"),
		"audit/kube-system-workload-by-user": m("T1610"),
		"audit/audit-policy-evasion":         m("T1070"),
		"audit/privileged-pod":               m("T1610", "T1611"),
		"audit/hostnetwork-pod":              m("T1610", "T1611"),
		"audit/hostpid-pod":                  m("T1610", "T1611"),
		"audit/hostpath-pod":                 m("T1610", "T1611"),
		"audit/pod-exec":                     m("T1609"),
		"audit/pod-attach":                   m("T1609"),
		"audit/pod-portforward":              m("T1609"),
	}
	// The RBAC detections report, as written, what the rbac rules report
	// as granted: the same mappings, plus threat detection.
	for ruleID, f := range rbacrules.Frameworks() {
		out[RBACDetectionID(ruleID)] = f.Merge(finding.Frameworks{NSA: nsa})
	}
	return out
}

// withFrameworks sets each detection's mapping from the table.
func withFrameworks(ds []*Detection) []*Detection {
	t := detectionFrameworks()
	for _, d := range ds {
		d.Frameworks = d.Frameworks.Merge(t[d.ID])
	}
	return ds
}
