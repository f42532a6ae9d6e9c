package hardening

import (
	"strconv"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// readOnlyRootFS: every container must set
// securityContext.readOnlyRootFilesystem: true. Immutable containers cannot
// be modified at run time: an attacker cannot drop tools or persist.
func readOnlyRootFS() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/read-only-root-fs",
		Title:           "Root file system is writable",
		Severity:        finding.SeverityMedium,
		Description:     "A writable root file system lets an attacker change binaries and drop tools inside the running container; immutable containers keep what runs identical to what was built and scanned.",
		Remediation:     "Set readOnlyRootFilesystem: true and mount an emptyDir where the application must write (for example /tmp).",
		RemediationYAML: "securityContext:\n  readOnlyRootFilesystem: true\nvolumeMounts:\n- name: tmp\n  mountPath: /tmp\n# volumes:\n# - name: tmp\n#   emptyDir: {}",
		References:      []finding.Reference{nsaGuide("Use immutable containers"), cis("5.6.x (general policies)")},
		Tags:            tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for _, c := range w.Containers() {
				if sc := c.SecurityContext; sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
					continue
				}
				out = append(out, rule.Violation{
					Message:   "container " + strconv.Quote(c.Name) + " does not set securityContext.readOnlyRootFilesystem: true",
					Field:     w.Field(c.Path + ".securityContext.readOnlyRootFilesystem"),
					Container: c.Name,
				})
			}
			return out
		},
	}
}
