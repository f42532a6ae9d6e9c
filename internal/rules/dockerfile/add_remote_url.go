package dockerfile

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/palisade-sec/palisade/internal/dockerfile"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
)

// addRemoteURL: ADD must not fetch from the network unverified. An ADD of
// an http(s) or git source is accepted with --checksum, and a git source
// also when its ref is a full commit hash; otherwise it is reported, in
// every stage (what a builder stage downloads can end up in the binary).
func addRemoteURL() *rule.Rule {
	return &rule.Rule{
		ID:          "dockerfile/add-remote-url",
		Title:       "ADD downloads a remote file without verifying it",
		Severity:    finding.SeverityMedium,
		Description: "ADD <url> fetches whatever the server returns at build time: a compromised or hijacked host, or a changed release asset, enters the image with nothing to notice it. ADD also silently unpacks local archives, which makes it harder to review than COPY.",
		Remediation: "Give ADD a --checksum (or a git source pinned to a commit hash), or download with curl and check the SHA-256 before using the file; use COPY for local files.",
		RemediationYAML: "ADD --checksum=sha256:<sha256> https://example.com/tool-1.2.3.tar.gz /tmp/\n" +
			"# or\n" +
			"RUN curl -fsSLo /tmp/tool.tgz https://example.com/tool-1.2.3.tar.gz \\\n" +
			" && echo \"<sha256>  /tmp/tool.tgz\" | sha256sum -c -",
		References: []finding.Reference{
			cisDocker("4.9", "Ensure that COPY is used instead of ADD in Dockerfiles"),
			nsaGuide("Supply chain / image integrity"),
			dockerDocs("ADD --checksum", "https://docs.docker.com/reference/dockerfile/#add---checksum"),
		},
		Tags: tags,
		Dockerfile: func(_ *rule.Context, f *dockerfile.File) []rule.Violation {
			var out []rule.Violation
			for _, s := range f.Stages {
				for i := range s.Instructions {
					in := &s.Instructions[i]
					if in.Command == "onbuild" && in.OnBuild != nil {
						in = in.OnBuild
					}
					if in.Command != "add" || len(in.Args) < 2 {
						continue
					}
					if _, ok := in.Flag("checksum"); ok {
						continue
					}
					for _, src := range in.Args[:len(in.Args)-1] {
						if remote, pinned := remoteSource(src); remote && !pinned {
							out = append(out, rule.Violation{Line: in.StartLine,
								Message: fmt.Sprintf("ADD fetches %q without --checksum", src)})
						}
					}
				}
			}
			return out
		},
	}
}

var commitHash = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`) })

// remoteSource reports whether an ADD source is fetched from the network
// and, for git sources, whether its ref ("#<ref>[:subdir]") is a commit.
func remoteSource(src string) (remote, pinned bool) {
	lower := strings.ToLower(src)
	isGit := strings.HasPrefix(lower, "git@") || strings.HasPrefix(lower, "git://") ||
		strings.HasPrefix(lower, "ssh://") || strings.Contains(strings.SplitN(lower, "#", 2)[0], ".git")
	if !isGit && !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		return false, false
	}
	if isGit {
		if _, fragment, ok := strings.Cut(src, "#"); ok {
			ref, _, _ := strings.Cut(fragment, ":")
			return true, commitHash().MatchString(ref)
		}
	}
	return true, false
}
