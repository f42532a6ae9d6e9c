// Package dockerfile holds the rules that check Dockerfiles: how the base
// image is referenced, which user the image runs as, what the build
// downloads and runs, which secrets it bakes into layers and what it leaves
// behind. One rule per file; each file opens with the rule's contract.
//
// Deliberately not checked:
//   - a missing HEALTHCHECK: Kubernetes ignores it (probes do that job), so
//     for the images this tool sees it would be noise;
//   - "apt-get upgrade" and friends: upgrading in the build is a legitimate
//     way to get fixes the base image lacks; reproducibility comes from
//     pinning the base by digest (dockerfile/base-image-not-pinned).
//
// Rules judge what they can know statically: a FROM whose image comes from
// an ARG without a default is skipped, not guessed.
package dockerfile

import (
	"strconv"
	"strings"

	"github.com/palisade-sec/palisade/internal/dockerfile"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
)

// Rules returns the Dockerfile rules.
func Rules() []*rule.Rule {
	return []*rule.Rule{
		baseImageNotPinned(),
		baseImageLatest(),
		runsAsRoot(),
		addRemoteURL(),
		pipeToShell(),
		secretInEnvArg(),
		packageCache(),
		sudoInRun(),
	}
}

var tags = []string{rule.TagDockerfile, rule.TagHardening}

func cisDocker(section, title string) finding.Reference {
	return finding.Reference{Title: "CIS Docker Benchmark " + section + ": " + title}
}

func nsaGuide(section string) finding.Reference {
	return finding.Reference{
		Title: "NSA/CISA Kubernetes Hardening Guide: " + section,
		URL:   "https://media.defense.gov/2022/Aug/29/2003066362/-1/-1/0/CTR_KUBERNETES_HARDENING_GUIDANCE_1.2_20220829.PDF",
	}
}

func dockerDocs(title, url string) finding.Reference {
	return finding.Reference{Title: "Docker documentation: " + title, URL: url}
}

// stageLabel names a stage in messages: its alias, or its position.
func stageLabel(s *dockerfile.Stage) string {
	if s.Name != "" {
		return "stage \"" + s.Name + "\""
	}
	return "stage " + strconv.Itoa(s.Index)
}

// script is the shell text one RUN executes, with the instruction it
// belongs to.
type script struct {
	in   *dockerfile.Instruction
	text string
}

// runScripts returns the shell text of every RUN in a stage, including RUNs
// registered with ONBUILD (they run in every build that starts FROM this
// image). The text joins the command line and the bodies of its heredocs;
// continuation lines inside heredocs are joined too, so a pattern split
// over lines is still one command.
func runScripts(s *dockerfile.Stage) []script {
	var out []script
	for i := range s.Instructions {
		in := &s.Instructions[i]
		if in.Command == "onbuild" && in.OnBuild != nil {
			in = in.OnBuild
		}
		if in.Command != "run" {
			continue
		}
		parts := append([]string{strings.Join(in.Args, " ")}, in.Heredocs...)
		text := strings.Join(parts, "\n")
		text = strings.ReplaceAll(text, "\\\r\n", " ")
		text = strings.ReplaceAll(text, "\\\n", " ")
		out = append(out, script{in: in, text: text})
	}
	return out
}

// imageStages returns the stages whose layers end up in the final image:
// the final stage and the stages it builds FROM, transitively. Files an
// earlier stage leaves behind are only shipped if copied, which the rules
// that care about image contents therefore ignore.
func imageStages(f *dockerfile.File) []*dockerfile.Stage {
	var out []*dockerfile.Stage
	seen := map[int]bool{}
	for s := f.Final(); s != nil && !seen[s.Index]; s = f.BaseStage(s) {
		seen[s.Index] = true
		out = append(out, s)
	}
	return out
}

// splitRef splits an image reference into name, tag and digest. The tag
// follows the last ":" after the last "/" (a ":" before it is a registry
// port); the digest follows "@".
func splitRef(ref string) (name, tag, digest string) {
	name = ref
	if i := strings.Index(name, "@"); i >= 0 {
		name, digest = name[:i], name[i+1:]
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i+1:]
	}
	return name, tag, digest
}

// imageBase is a stage's base image reference, resolved from global ARG
// defaults, when it is an image (not scratch, not an earlier stage) whose
// name is known without a build.
func imageBase(f *dockerfile.File, s *dockerfile.Stage) (string, bool) {
	if f.BaseStage(s) != nil {
		return "", false
	}
	ref, known := f.ResolveBaseImage(s)
	if !known || strings.EqualFold(ref, "scratch") {
		return "", false
	}
	return ref, true
}
