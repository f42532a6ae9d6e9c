package dockerfile

import (
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/dockerfile"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
)

// runsAsRoot: the image the Dockerfile produces (its final stage) must end
// with a USER that is not root. The last USER wins; a final stage without
// USER inherits the one of the stage it builds FROM, and from an image
// (or scratch) it runs as root unless the image sets a user, which a
// static scan cannot see. Images whose reference says "nonroot" (the
// distroless and Chainguard convention) are trusted to set one. Earlier
// stages may use root: they are not shipped. A USER given by a variable is judged by the value a build
// with the defaults gives it (ARG defaults, ENV); one whose value only
// exists at build time is not judged.
func runsAsRoot() *rule.Rule {
	return &rule.Rule{
		ID:          "dockerfile/runs-as-root",
		Title:       "Image runs as root",
		Severity:    finding.SeverityHigh,
		Description: "A process running as UID 0 in the container is root on the files it can reach and is one kernel or runtime flaw away from root on the node. Setting a non-root user in the image makes the safe choice the default, and a numeric UID lets Kubernetes verify runAsNonRoot.",
		Remediation: "Create or choose an unprivileged user and end the final stage with USER <uid>:<gid>, using numbers so that runAsNonRoot can be enforced.",
		RemediationYAML: "FROM alpine:3.20@sha256:<digest>\n" +
			"RUN addgroup -S -g 10001 app && adduser -S -u 10001 -G app app\n" +
			"USER 10001:10001",
		References: []finding.Reference{
			cisDocker("4.1", "Ensure that a user for the container has been created"),
			nsaGuide("Use containers built to run applications as non-root users"),
			dockerDocs("USER", "https://docs.docker.com/reference/dockerfile/#user"),
		},
		Tags: tags,
		Dockerfile: func(_ *rule.Context, f *dockerfile.File) []rule.Violation {
			final := f.Final()
			if final == nil {
				return nil
			}
			for _, s := range imageStages(f) {
				if i := lastUser(s); i >= 0 {
					user := &s.Instructions[i]
					name := user.Args[0]
					value, known := f.ExpandInStage(s, i, name)
					if !known || !isRoot(value) {
						return nil
					}
					msg := fmt.Sprintf("the image runs as root: the last USER is %q", name)
					if value != name {
						msg = fmt.Sprintf("the image runs as root: the last USER is %q, which a build with the default arguments makes %q", name, value)
					}
					return []rule.Violation{{Line: user.StartLine, Message: msg}}
				}
				if ref, ok := f.ResolveBaseImage(s); f.BaseStage(s) == nil && (!ok || strings.Contains(strings.ToLower(ref), "nonroot")) {
					return nil
				}
			}
			return []rule.Violation{{Line: final.Line,
				Message: fmt.Sprintf("the final %s sets no USER, so the image runs as its base image's user, root unless the base sets another", stageLabel(final))}}
		},
	}
}

// lastUser is the index of the stage's last USER instruction with an
// argument, or -1.
func lastUser(s *dockerfile.Stage) int {
	for i := len(s.Instructions) - 1; i >= 0; i-- {
		if in := &s.Instructions[i]; in.Command == "user" && len(in.Args) > 0 {
			return i
		}
	}
	return -1
}

// isRoot reports whether a USER value names root: "root", "0", or either
// with any group.
func isRoot(user string) bool {
	name, _, _ := strings.Cut(user, ":")
	return name == "root" || strings.Trim(name, "0") == "" && name != ""
}
