package dockerfile

import (
	"regexp"
	"sync"

	"github.com/palisade-sec/palisade/internal/dockerfile"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
)

// pipeToShell: no RUN (or ONBUILD RUN, or RUN heredoc) may execute a
// script straight from the network: "curl ... | sh", "wget -O- ... |
// bash", "sh -c "$(curl ...)"" or "bash <(curl ...)". The interpreter may
// be a shell, python, perl, ruby or node, possibly behind sudo or env.
// Checked in every stage: a builder stage that runs remote code can plant
// anything in the artifacts it hands over.
func pipeToShell() *rule.Rule {
	return &rule.Rule{
		ID:          "dockerfile/pipe-to-shell",
		Title:       "RUN pipes a download into a shell",
		Severity:    finding.SeverityHigh,
		Description: "Piping a download into an interpreter runs code nobody reviewed, with the build's privileges, and whatever the server sends next time is what the next build runs. A truncated download can even run half a script.",
		Remediation: "Download the script or release to a file, verify its SHA-256 (or signature) against a value committed in the Dockerfile, then run it; better, install a pinned package.",
		RemediationYAML: "ARG INSTALLER_SHA256=<sha256>\n" +
			"RUN curl -fsSLo /tmp/install.sh https://example.com/install-1.2.3.sh \\\n" +
			" && echo \"${INSTALLER_SHA256}  /tmp/install.sh\" | sha256sum -c - \\\n" +
			" && sh /tmp/install.sh && rm /tmp/install.sh",
		References: []finding.Reference{
			cisDocker("4.11", "Ensure only verified packages are installed"),
			nsaGuide("Supply chain / image integrity"),
			dockerDocs("Building best practices", "https://docs.docker.com/build/building/best-practices/"),
		},
		Tags: tags,
		Dockerfile: func(_ *rule.Context, f *dockerfile.File) []rule.Violation {
			var out []rule.Violation
			for _, s := range f.Stages {
				for _, sc := range runScripts(s) {
					for _, re := range pipeToShellPatterns() {
						if re.MatchString(sc.text) {
							out = append(out, rule.Violation{Line: sc.in.StartLine,
								Message: "RUN executes a script downloaded with curl or wget without verifying it"})
							break
						}
					}
				}
			}
			return out
		},
	}
}

const (
	fetcher     = `\b(?:curl|wget)\b`
	interpreter = `(?:[\w./-]*/)?(?:(?:ba|da|z|k|a)?sh|python[0-9.]*|perl|ruby|node)\b`
	// prefix is what may stand between a pipe and the interpreter:
	// sudo with options, env, and VAR=value assignments.
	prefix = `(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+)?(?:\w+=\S*\s+)*`
)

var pipeToShellPatterns = sync.OnceValue(func() []*regexp.Regexp {
	return []*regexp.Regexp{
		// curl ... | sh  (the download and the pipe in one command)
		regexp.MustCompile(fetcher + `[^|;&\n]*\|\s*` + prefix + interpreter),
		// sh -c "$(curl ...)"  and  sh -c "`curl ...`"
		regexp.MustCompile(interpreter + `\s+(?:-\S+\s+)*-c\s+["']?(?:\$\(|` + "`" + `)\s*` + fetcher),
		// bash <(curl ...)
		regexp.MustCompile(interpreter + `\s+(?:-\S+\s+)*<\(\s*` + fetcher),
	}
})
