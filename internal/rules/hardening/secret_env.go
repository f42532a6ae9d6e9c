package hardening

import (
	"fmt"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/secret"
	"github.com/palisade-sec/palisade/internal/workload"
)

// secretInEnv: no container may carry a credential as a literal env value
// (private keys, cloud keys, tokens, passwords). The value is never shown,
// only its masked form.
func secretInEnv() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/secret-in-env",
		Title:           "Credential in a literal environment variable",
		Severity:        finding.SeverityHigh,
		Description:     "A credential written into the manifest is stored in Git, in etcd without Secret encryption, and in every tool that reads the object; anyone who can read the workload can read the credential.",
		Remediation:     "Move the value into a Secret (ideally from an external secret store) and reference it with valueFrom.secretKeyRef.",
		RemediationYAML: "env:\n- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef:\n      name: db\n      key: password",
		References:      []finding.Reference{cis("5.4.1"), nsaGuide("Secrets")},
		Tags:            tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for _, c := range w.Containers() {
				for i, env := range c.Env {
					if env.ValueFrom != nil || env.Value == "" {
						continue
					}
					m, found := secret.ScanKeyValue(env.Name, env.Value)
					if !found {
						continue
					}
					out = append(out, rule.Violation{
						Message:   fmt.Sprintf("container %q env %s holds a literal %s (%s)", c.Name, env.Name, m.Description, m.Masked),
						Field:     w.Field(fmt.Sprintf("%s.env[%d].value", c.Path, i)),
						Container: c.Name,
					})
				}
			}
			return out
		},
	}
}
