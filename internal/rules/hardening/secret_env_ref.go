package hardening

import (
	"fmt"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// secretEnvRef: containers should read Secrets as mounted files, not as
// environment variables (secretKeyRef, or envFrom a Secret): CIS 5.4.1,
// kube-linter read-secret-from-env-var, Kubescape C-0207. Environment
// variables are inherited by every child process, printed by crash
// handlers and debug endpoints, and visible in /proc/<pid>/environ; a
// mounted file is not, and follows rotation.
func secretEnvRef() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/secret-env-ref",
		Title:           "Secret read through an environment variable",
		Severity:        finding.SeverityLow,
		Description:     "A Secret passed as an environment variable is copied into every child process, leaks through crash dumps, debug pages and logging of the environment, and does not change when the Secret is rotated. Mounted as a file it stays in one place, readable only by the container's user, and is updated in place.",
		Remediation:     "Mount the Secret as a volume and have the application read the file.",
		RemediationYAML: "volumeMounts:\n- name: db\n  mountPath: /var/run/secrets/db\n  readOnly: true\n# volumes:\n# - name: db\n#   secret:\n#     secretName: db",
		References: []finding.Reference{
			{Title: "Kubernetes: Using Secrets as files from a Pod", URL: "https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-files-from-a-pod"},
			cis("5.4.1"),
		},
		Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for _, c := range w.Containers() {
				for i, e := range c.Env {
					if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
						out = append(out, rule.Violation{Container: c.Name, Field: w.Field(fmt.Sprintf("%s.env[%d].valueFrom.secretKeyRef", c.Path, i)),
							Message: fmt.Sprintf("container %q reads Secret %s into env %s", c.Name, e.ValueFrom.SecretKeyRef.Name, e.Name)})
					}
				}
				for i, e := range c.EnvFrom {
					if e.SecretRef != nil {
						out = append(out, rule.Violation{Container: c.Name, Field: w.Field(fmt.Sprintf("%s.envFrom[%d].secretRef", c.Path, i)),
							Message: fmt.Sprintf("container %q loads every key of Secret %s into its environment", c.Name, e.SecretRef.Name)})
					}
				}
			}
			return out
		},
	}
}
