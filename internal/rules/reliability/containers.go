package reliability

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// imagePullPolicy: containers should pull their image every time they
// start (Polaris pullPolicyNotAlways, kube-score
// container-image-pull-policy): a cached image is used without checking
// the registry's current content or the pod's right to pull it (its
// imagePullSecrets). The API server's default is judged as it applies it:
// Always for an image tagged latest or untagged, IfNotPresent otherwise.
// Images pinned by digest are not reported: a digest cannot change, and
// pulling it again brings nothing.
func imagePullPolicy() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/image-pull-policy", Title: "Image not pulled on every start", Severity: finding.SeverityLow,
		Description:     "With IfNotPresent or Never the node reuses whatever image it cached under the tag: nodes drift to different content for the same tag, and a pod can start an image its own pull secret would no longer grant.",
		Remediation:     "Pin the image by digest (then the policy does not matter), or set imagePullPolicy: Always.",
		RemediationYAML: "image: registry.example.com/shop/web@sha256:...   # or:\nimagePullPolicy: Always",
		References:      []finding.Reference{ref("Kubernetes: Images, image pull policy", "https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy")}, Tags: tags,
		Workload: func(c *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for _, ct := range w.Containers() {
				r, err := c.Image(ct.Image)
				if err != nil || r.Digest != "" {
					continue
				}
				policy := ct.ImagePullPolicy
				if policy == "" {
					if r.Tag == "" || r.Tag == "latest" {
						continue // defaulted to Always
					}
					out = append(out, rule.Violation{Container: ct.Name, Field: w.Field(ct.Path + ".image"),
						Message: fmt.Sprintf("container %q sets no imagePullPolicy: tag %q defaults to IfNotPresent", ct.Name, r.Tag)})
					continue
				}
				if policy != corev1.PullAlways {
					out = append(out, rule.Violation{Container: ct.Name, Field: w.Field(ct.Path + ".imagePullPolicy"),
						Message: fmt.Sprintf("container %q uses imagePullPolicy %s", ct.Name, policy)})
				}
			}
			return out
		},
	}
}

// duplicateEnv: a container's env must not set one name twice
// (kube-linter duplicate-env-var, kube-score
// environment-variable-key-duplication): the last one silently wins, and
// tools that merge patches keep the other.
func duplicateEnv() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/duplicate-env", Title: "Environment variable set twice", Severity: finding.SeverityLow,
		Description:     "When env lists a name twice, the container gets the last value; a reviewer reading the first, or a strategic-merge patch or kustomize overlay merging by name, sees another. The configuration that runs is not the one reviewed.",
		Remediation:     "Keep one entry per name.",
		RemediationYAML: "env:\n- name: LOG_LEVEL\n  value: info",
		References:      []finding.Reference{ref("Kubernetes: Define Environment Variables for a Container", "https://kubernetes.io/docs/tasks/inject-data-application/define-environment-variable-container/")}, Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for _, c := range w.Containers() {
				seen := make(map[string]bool, len(c.Env))
				for i, e := range c.Env {
					if seen[e.Name] {
						out = append(out, rule.Violation{Container: c.Name, Field: w.Field(fmt.Sprintf("%s.env[%d].name", c.Path, i)),
							Message: fmt.Sprintf("container %q sets env %s more than once", c.Name, e.Name)})
					}
					seen[e.Name] = true
				}
			}
			return out
		},
	}
}

// ephemeralStorage: every init and regular container should request and
// bound its ephemeral storage (kube-score
// container-ephemeral-storage-request-and-limit, which asks for both):
// logs, caches and temporary files otherwise fill the node's disk, and the
// kubelet evicts every pod on it; without a request the scheduler places
// pods on nodes whose disk is already spoken for. Both must be written,
// as kube-score asks; a quantity of 0 counts as unset. One finding per
// container, naming what is missing.
func ephemeralStorage() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/ephemeral-storage", Title: "Ephemeral storage request or limit missing", Severity: finding.SeverityLow,
		Description:     "Container writes to its file system, emptyDir volumes and logs use the node's disk. Without an ephemeral-storage limit one container can fill it, and the kubelet then evicts pods of every workload on the node; without a request the scheduler does not count the disk the pod needs.",
		Remediation:     "Set resources.requests.ephemeral-storage and resources.limits.ephemeral-storage to what the container needs.",
		RemediationYAML: "resources:\n  requests:\n    ephemeral-storage: 256Mi\n  limits:\n    ephemeral-storage: 1Gi",
		References:      []finding.Reference{ref("Kubernetes: Local ephemeral storage", "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#local-ephemeral-storage")}, Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			var out []rule.Violation
			for _, c := range w.Containers() {
				if c.Ephemeral {
					continue
				}
				var missing []string
				// A quantity of 0 bounds and reserves nothing: it counts
				// as unset.
				lim, limSet := c.Resources.Limits[corev1.ResourceEphemeralStorage]
				req, reqSet := c.Resources.Requests[corev1.ResourceEphemeralStorage]
				if !reqSet || req.IsZero() {
					missing = append(missing, "resources.requests.ephemeral-storage")
				}
				if !limSet || lim.IsZero() {
					missing = append(missing, "resources.limits.ephemeral-storage")
				}
				if len(missing) > 0 {
					out = append(out, rule.Violation{Container: c.Name, Field: w.Field(c.Path + ".resources"),
						Message: fmt.Sprintf("container %q sets no %s", c.Name, strings.Join(missing, " or "))})
				}
			}
			return out
		},
	}
}

// priorityClass: a workload should name its PriorityClass (Polaris
// priorityClassNotSet, kube-linter priority-class-name), so that under
// resource pressure the scheduler preempts, and the kubelet evicts, the
// less important pods first.
func priorityClass() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/priority-class", Title: "No priority class", Severity: finding.SeverityLow,
		Description:     "Pods without a priorityClassName get the cluster's default priority (usually 0): when nodes run short, a batch job and the checkout service compete as equals, and preemption may remove the one that matters.",
		Remediation:     "Define PriorityClasses for your tiers and set priorityClassName on each workload.",
		RemediationYAML: "priorityClassName: business-critical",
		References:      []finding.Reference{ref("Kubernetes: Pod Priority and Preemption", "https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/")}, Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			if w.Spec.PriorityClassName != "" {
				return nil
			}
			return []rule.Violation{{Field: w.SpecPath, Message: fmt.Sprintf("%s %s sets no priorityClassName", w.Ref.Kind, w.Ref.Name)}}
		},
	}
}
