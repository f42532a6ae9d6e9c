package dockerfile

import (
	"regexp"
	"sync"

	"github.com/palisade-sec/palisade/internal/dockerfile"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
)

// sudoInRun: no RUN in any stage may call sudo. A build step runs as the
// stage's USER; needing sudo means the image ships sudo and a user allowed
// to use it.
func sudoInRun() *rule.Rule {
	return &rule.Rule{
		ID:          "dockerfile/sudo",
		Title:       "RUN uses sudo",
		Severity:    finding.SeverityMedium,
		Description: "sudo in a Dockerfile means the image contains sudo and a user who may become root with it, which turns any code execution as that user into root. It also behaves unpredictably without a terminal.",
		Remediation: "Run the privileged steps before switching user (USER root is the default during the build), then switch to the unprivileged USER at the end; do not install sudo.",
		RemediationYAML: "RUN apt-get update && apt-get install -y --no-install-recommends <pkg>=<version> \\\n" +
			" && rm -rf /var/lib/apt/lists/*\n" +
			"USER 10001:10001",
		References: []finding.Reference{
			cisDocker("4.1", "Ensure that a user for the container has been created"),
			nsaGuide("Use containers built to run applications as non-root users"),
			dockerDocs("USER", "https://docs.docker.com/build/building/best-practices/#user"),
		},
		Tags: tags,
		Dockerfile: func(_ *rule.Context, f *dockerfile.File) []rule.Violation {
			var out []rule.Violation
			for _, s := range f.Stages {
				for _, sc := range runScripts(s) {
					if sudoCall().MatchString(sc.text) {
						out = append(out, rule.Violation{Line: sc.in.StartLine, Message: "RUN calls sudo"})
					}
				}
			}
			return out
		},
	}
}

// sudoCall matches sudo as a command: at the start, or after a shell
// operator or an opening parenthesis, and followed by an argument.
var sudoCall = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?:^|[;&|(\n]|&&|\|\|)\s*sudo\s+\S`) })
