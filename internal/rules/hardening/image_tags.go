package hardening

import (
	"fmt"
	"strconv"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/imageref"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// imageNotPinned: every container image must be referenced by digest
// (image@sha256:...). A tag can be moved to other content at any time.
func imageNotPinned() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/image-not-pinned",
		Title:           "Image not pinned by digest",
		Severity:        finding.SeverityMedium,
		Description:     "A tag is a mutable pointer: whoever controls the registry can change what it points to, and two nodes can run different code under the same tag. A digest names exactly the content that was scanned and approved.",
		Remediation:     "Reference the image by digest (resolve it with 'crane digest' or your registry); keep the tag for readers.",
		RemediationYAML: "image: registry.example.com/app:1.4.2@sha256:<digest>",
		References:      []finding.Reference{nsaGuide("Supply chain / image integrity"), cis("5.5.1")},
		Tags:            tags,
		Workload: imageCheck(func(c workload.Container, ref imageref.Ref) string {
			if ref.Pinned() {
				return ""
			}
			return "container " + strconv.Quote(c.Name) + " image " + strconv.Quote(c.Image) + " is not pinned by digest"
		}),
	}
}

// latestTag: no container image may use ":latest" or omit the tag (which
// pulls latest). An image pinned by digest passes whatever its tag: the
// runtime pulls the digest and ignores the tag beside it.
func latestTag() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/latest-tag",
		Title:           "Image uses latest or no tag",
		Severity:        finding.SeverityMedium,
		Description:     "\"latest\" (or no tag) changes with every push: deployments are not reproducible, rollbacks do not roll back, and a compromised push reaches every restart.",
		Remediation:     "Use an explicit version tag, ideally with a digest.",
		RemediationYAML: "image: nginx:1.27.3@sha256:<digest>",
		References:      []finding.Reference{nsaGuide("Supply chain / image integrity")},
		Tags:            tags,
		Workload: imageCheck(func(c workload.Container, ref imageref.Ref) string {
			switch {
			case !ref.Latest() || ref.Pinned():
				return ""
			case ref.Tag == "":
				return "container " + strconv.Quote(c.Name) + " image " + strconv.Quote(c.Image) + " has no tag, so it runs whatever \"latest\" is"
			}
			return "container " + strconv.Quote(c.Name) + " image " + strconv.Quote(c.Image) + " uses the mutable \"latest\" tag"
		}),
	}
}

// imageCheck applies a per-image check to every container; unparsable
// images are reported by the first rule only once, as the message says.
func imageCheck(check func(workload.Container, imageref.Ref) string) func(*rule.Context, *workload.Workload) []rule.Violation {
	return func(ctx *rule.Context, w *workload.Workload) []rule.Violation {
		var out []rule.Violation
		for _, c := range w.Containers() {
			ref, err := ctx.Image(c.Image)
			var msg string
			if err != nil {
				msg = fmt.Sprintf("container %q: invalid image reference: %v", c.Name, err)
			} else {
				msg = check(c, ref)
			}
			if msg != "" {
				out = append(out, rule.Violation{Message: msg, Field: w.Field(c.Path + ".image"), Container: c.Name})
			}
		}
		return out
	}
}
