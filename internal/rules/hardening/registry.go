package hardening

import (
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// registryNotAllowed: when an allow-list is configured (--allowed-registries
// or the policy file), every image must come from a listed registry or
// repository prefix. Without an allow-list the rule reports nothing.
func registryNotAllowed() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/registry-not-allowed",
		Title:           "Image from a registry outside the allow-list",
		Severity:        finding.SeverityHigh,
		Description:     "Images from registries nobody vets can carry malware or be swapped by their owner; an allow-list keeps workloads to registries whose images are scanned and signed.",
		Remediation:     "Mirror the image into an allowed registry, or add its registry to the allow-list after review.",
		RemediationYAML: "image: registry.example.com/mirror/nginx:1.27.3@sha256:<digest>",
		References:      []finding.Reference{nsaGuide("Supply chain / image integrity"), cis("5.5.1")},
		Tags:            tags,
		Workload: func(c *rule.Context, w *workload.Workload) []rule.Violation {
			allowed := c.Settings.AllowedRegistries
			if len(allowed) == 0 {
				return nil
			}
			var out []rule.Violation
			for _, ctr := range w.Containers() {
				ref, err := c.Image(ctr.Image)
				if err == nil && ref.MatchesAny(allowed) {
					continue
				}
				reg := "?"
				if err == nil {
					reg = ref.Registry
				}
				out = append(out, rule.Violation{
					Message:   fmt.Sprintf("container %q image %q comes from %s, which is not in the allow-list (%s)", ctr.Name, ctr.Image, reg, strings.Join(allowed, ", ")),
					Field:     w.Field(ctr.Path + ".image"),
					Container: ctr.Name,
				})
			}
			return out
		},
	}
}
