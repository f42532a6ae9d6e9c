package dockerfile

import (
	"fmt"

	"github.com/palisade-sec/palisade/internal/dockerfile"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/secret"
)

// secretInEnvArg: no ENV or ARG (global, in any stage, or registered with
// ONBUILD) may set a credential as a literal value. What counts is
// secret.ScanKeyValue: a secret-looking name with a literal, non-placeholder
// value, or a value that is recognisably a credential whatever its name.
// Messages name the variable and show the masked value only.
func secretInEnvArg() *rule.Rule {
	return &rule.Rule{
		ID:          "dockerfile/secret-in-env-arg",
		Title:       "Secret in ENV or ARG",
		Severity:    finding.SeverityHigh,
		Description: "ENV values are stored in the image configuration and ARG values in the build history, so anyone who can pull the image can read them; the literal is also in the Dockerfile in source control. Rotating the secret is then the only fix.",
		Remediation: "Pass build-time secrets with a secret mount (RUN --mount=type=secret) so they never reach a layer, and give run-time secrets to the container from a Kubernetes Secret or a secret manager. Rotate any secret that was committed.",
		RemediationYAML: "# docker build --secret id=npm_token,env=NPM_TOKEN .\n" +
			"RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN \\\n" +
			"    npm ci --omit=dev",
		References: []finding.Reference{
			cisDocker("4.10", "Ensure secrets are not stored in Dockerfiles"),
			nsaGuide("Secrets"),
			dockerDocs("Build secrets", "https://docs.docker.com/build/building/secrets/"),
		},
		Tags: tags,
		Dockerfile: func(_ *rule.Context, f *dockerfile.File) []rule.Violation {
			var out []rule.Violation
			check := func(in *dockerfile.Instruction) {
				if in.Command == "onbuild" && in.OnBuild != nil {
					in = in.OnBuild
				}
				if in.Command != "env" && in.Command != "arg" {
					return
				}
				for _, kv := range in.KeyValues {
					if !kv.HasValue {
						continue
					}
					if m, ok := secret.ScanKeyValue(kv.Key, kv.Value); ok {
						out = append(out, rule.Violation{Line: in.StartLine,
							Message: fmt.Sprintf("%s %s holds a literal secret: %s %q", upper(in.Command), kv.Key, m.Description, m.Masked)})
					}
				}
			}
			for i := range f.Args {
				check(&f.Args[i])
			}
			for _, s := range f.Stages {
				for i := range s.Instructions {
					check(&s.Instructions[i])
				}
			}
			return out
		},
	}
}

func upper(command string) string {
	if command == "env" {
		return "ENV"
	}
	return "ARG"
}
