package reliability

import (
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// frozenRegistry is the Kubernetes project's former image registry, frozen
// in April 2023 (Kubescape C-0253): it publishes no new image, patch or
// security fix, and its content is served from registry.k8s.io only while
// the redirect lasts.
const frozenRegistry = "k8s.gcr.io"

// deprecatedRegistry: no container may pull its image from k8s.gcr.io.
// Kubescape judges kube-system only; the registry is as frozen for any
// other namespace, so every workload is judged. References that do not
// parse are the image rules' finding (hardening/latest-tag), not this one's.
func deprecatedRegistry() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/deprecated-registry", Title: "Image from the frozen k8s.gcr.io registry", Severity: finding.SeverityLow,
		Description:     "The Kubernetes project froze k8s.gcr.io in April 2023: it receives no new versions or security fixes, and pulls from it work only while Google keeps redirecting them. Components pulled from it stay on old, unpatched versions, and may stop pulling at all.",
		Remediation:     "Pull the same image from registry.k8s.io, the project's current registry (the paths are the same).",
		RemediationYAML: "image: registry.k8s.io/pause:3.10",
		References:      []finding.Reference{ref("Kubernetes blog: k8s.gcr.io image registry is frozen", "https://kubernetes.io/blog/2023/02/06/k8s-gcr-io-freeze-announcement/")}, Tags: tags,
		Workload: func(c *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for _, ct := range w.Containers() {
				ref, err := c.Image(ct.Image)
				if err != nil || !strings.EqualFold(ref.Registry, frozenRegistry) {
					continue
				}
				out = append(out, rule.Violation{Container: ct.Name, Field: w.Field(ct.Path + ".image"),
					Message: fmt.Sprintf("container %q pulls %q from the frozen k8s.gcr.io registry; use registry.k8s.io", ct.Name, ct.Image)})
			}
			return out
		},
	}
}
