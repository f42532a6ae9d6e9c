package reliability

import (
	"fmt"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	networkingv1 "k8s.io/api/networking/v1"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// The rules below are kube-linter's checks that kube-linter itself leaves
// disabled by default: conventions and tuning an organisation chooses
// (ownership metadata, node placement, DNS options, Job clean-up), kept for
// users who migrate from kube-linter with them enabled. They carry only
// TagKubeLinter: outside the default gate and outside --rules reliability,
// selected by --rules kube-linter, their IDs or kube-linter's check names
// (--rules job-ttl-seconds-after-finished). Each follows kube-linter's
// documented default parameters.

// TagKubeLinter selects the opt-in kube-linter checks.
const TagKubeLinter = "kube-linter"

var kubeLinterTags = []string{TagKubeLinter}

// KubeLinterRules returns the opt-in kube-linter checks.
func KubeLinterRules() []*rule.Rule {
	return []*rule.Rule{
		jobTTL(),
		dnsConfigNdots(),
		nodeAffinity(),
		ownerLabel(),
		emailAnnotation(),
		danglingPeerPodSelector(),
	}
}

// jobTTL: a Job created on its own should set ttlSecondsAfterFinished,
// and a CronJob's job template should not (kube-linter
// job-ttl-seconds-after-finished). A finished standalone Job and its pods
// are otherwise kept until someone deletes them, holding their logs, etcd
// space and, for failed ones, alerts; a CronJob already keeps
// successfulJobsHistoryLimit and failedJobsHistoryLimit Jobs, and a TTL
// beside them deletes Jobs the history limits were meant to keep. A Job
// whose controller is a CronJob (a live cluster's) is the CronJob's
// finding, not its own.
func jobTTL() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/job-ttl", Title: "Job clean-up after it finishes not set, or set in a CronJob", Severity: finding.SeverityLow,
		Description:     "A standalone Job without ttlSecondsAfterFinished stays in the cluster with its pods once it has finished, until someone deletes it. A CronJob's jobs are cleaned up by its history limits; a ttlSecondsAfterFinished in its job template competes with them, and the stricter one silently wins.",
		Remediation:     "Set spec.ttlSecondsAfterFinished on standalone Jobs; in a CronJob, remove it from spec.jobTemplate.spec and use successfulJobsHistoryLimit and failedJobsHistoryLimit.",
		RemediationYAML: "kind: Job\nspec:\n  ttlSecondsAfterFinished: 86400",
		References:      []finding.Reference{ref("Kubernetes: Automatic Cleanup for Finished Jobs", "https://kubernetes.io/docs/concepts/workloads/controllers/ttlafterfinished/")}, Tags: kubeLinterTags,
		Object: func(_ *rule.Context, o *workload.Object) []rule.Violation {
			switch obj := o.Typed.(type) {
			case *batchv1.Job:
				if obj.Spec.TTLSecondsAfterFinished != nil {
					return nil
				}
				for _, ow := range obj.OwnerReferences {
					if ow.Kind == "CronJob" {
						return nil
					}
				}
				return []rule.Violation{{Field: "spec", Message: fmt.Sprintf("Job %s sets no ttlSecondsAfterFinished: it stays after it finishes", o.Ref.Name)}}
			case *batchv1.CronJob:
				if obj.Spec.JobTemplate.Spec.TTLSecondsAfterFinished == nil {
					return nil
				}
				return []rule.Violation{{Field: "spec.jobTemplate.spec.ttlSecondsAfterFinished",
					Message: fmt.Sprintf("CronJob %s sets ttlSecondsAfterFinished in its job template; its history limits already clean up its Jobs", o.Ref.Name)}}
			}
			return nil
		},
	}
}

// maxNdots is kube-linter's default for dnsconfig-options: the ndots
// option set, to 2.
const maxNdots = 2

// dnsConfigNdots: a pod should set the resolver's ndots option
// (kube-linter dnsconfig-options, whose default parameters ask for
// ndots 2). Unset, the cluster's resolver configuration uses 5: every
// name with fewer than five dots ("api.example.com") is first tried with
// each search domain, several failed queries to cluster DNS before the
// real one. Any explicit value up to 2 passes; a larger one, or a value
// that is not a number, is reported.
func dnsConfigNdots() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/dns-ndots", Title: "Pod DNS ndots option not set", Severity: finding.SeverityLow,
		Description:     "Without dnsConfig options, a pod's resolver uses ndots:5: each external name is first looked up with every cluster search domain appended, so one lookup costs several queries to the cluster's DNS, which adds latency and load and can exhaust conntrack entries on busy nodes.",
		Remediation:     "Set the ndots option in the pod's dnsConfig (2 is kube-linter's default), and write external names fully qualified where possible.",
		RemediationYAML: "spec:\n  dnsConfig:\n    options:\n    - name: ndots\n      value: \"2\"",
		References:      []finding.Reference{ref("Kubernetes: DNS for Services and Pods, Pod's DNS Config", "https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-dns-config")}, Tags: kubeLinterTags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			if w.Spec.DNSConfig != nil {
				for i, opt := range w.Spec.DNSConfig.Options {
					if opt.Name != "ndots" {
						continue
					}
					v := ""
					if opt.Value != nil {
						v = *opt.Value
					}
					if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= maxNdots {
						return nil
					}
					return []rule.Violation{{Field: w.Field(fmt.Sprintf("dnsConfig.options[%d]", i)),
						Message: fmt.Sprintf("%s %s sets ndots %q; at most %d avoids a search-domain lookup for each external name", w.Ref.Kind, w.Ref.Name, v, maxNdots)}}
				}
			}
			return []rule.Violation{{Field: w.SpecPath, Message: fmt.Sprintf("%s %s sets no ndots option in dnsConfig; the resolver then uses 5", w.Ref.Kind, w.Ref.Name)}}
		},
	}
}

// nodeAffinity: a pod should state the nodes it may run on with node
// affinity (kube-linter no-node-affinity), required or preferred terms.
// As in kube-linter, a nodeSelector alone does not count: this check is
// for organisations that place workloads with affinity rules.
func nodeAffinity() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/node-affinity", Title: "No node affinity", Severity: finding.SeverityLow,
		Description:     "Without node affinity the scheduler may place the pods on any node: on nodes meant for other tiers, other architectures or other zones than the workload was planned for.",
		Remediation:     "State where the pods belong with spec.affinity.nodeAffinity (required or preferred terms).",
		RemediationYAML: "spec:\n  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchExpressions:\n          - key: node-role.example.com/apps\n            operator: Exists",
		References:      []finding.Reference{ref("Kubernetes: Assigning Pods to Nodes, node affinity", "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#node-affinity")}, Tags: kubeLinterTags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			if a := w.Spec.Affinity; a != nil && a.NodeAffinity != nil {
				na := a.NodeAffinity
				if len(na.PreferredDuringSchedulingIgnoredDuringExecution) > 0 ||
					(na.RequiredDuringSchedulingIgnoredDuringExecution != nil && len(na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms) > 0) {
					return nil
				}
			}
			return []rule.Violation{{Field: w.SpecPath, Message: fmt.Sprintf("%s %s sets no node affinity", w.Ref.Kind, w.Ref.Name)}}
		},
	}
}

// ownerLabel: every workload should carry an "owner" label (kube-linter
// required-label-owner, default key "owner", any value, on its
// DeploymentLike objects: Pods and the controllers of pod templates), so
// that whoever finds it in a cluster knows whom to ask. The label is read
// from the workload's own metadata, not its pod template's.
func ownerLabel() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/owner-label", Title: "Owner label missing", Severity: finding.SeverityLow,
		Description:     "A workload without an owner label leaves the operator who finds it failing, or in an audit, without anyone to ask: it is kept for fear of breaking something, or deleted on a guess.",
		Remediation:     "Label every workload with the team or person that owns it.",
		RemediationYAML: "metadata:\n  labels:\n    owner: team-payments",
		References:      []finding.Reference{ref("Kubernetes: Labels and Selectors", "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/")}, Tags: kubeLinterTags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			if w.Meta != nil {
				if _, ok := w.Meta.Labels["owner"]; ok {
					return nil
				}
			}
			return []rule.Violation{{Field: "metadata", Message: fmt.Sprintf("%s %s has no owner label", w.Ref.Kind, w.Ref.Name)}}
		},
	}
}

// emailAnnotation: every workload should carry an "email" annotation with
// an e-mail address (kube-linter required-annotation-email, on its
// DeploymentLike objects, whose default value pattern is local part, "@",
// and a dotted domain). The annotation is read from the workload's own
// metadata.
func emailAnnotation() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/owner-email-annotation", Title: "Owner e-mail annotation missing", Severity: finding.SeverityLow,
		Description:     "A workload without an e-mail annotation gives whoever finds it failing, or an auditor, no address to reach its owner.",
		Remediation:     "Annotate every workload with the e-mail address of its owner.",
		RemediationYAML: "metadata:\n  annotations:\n    email: payments@example.com",
		References:      []finding.Reference{ref("Kubernetes: Annotations", "https://kubernetes.io/docs/concepts/overview/working-with-objects/annotations/")}, Tags: kubeLinterTags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			var v string
			ok := false
			if w.Meta != nil {
				v, ok = w.Meta.Annotations["email"]
			}
			switch {
			case !ok:
				return []rule.Violation{{Field: "metadata", Message: fmt.Sprintf("%s %s has no email annotation", w.Ref.Kind, w.Ref.Name)}}
			case !isEmail(v):
				return []rule.Violation{{Field: "metadata.annotations.email", Message: fmt.Sprintf("%s %s: email annotation %q is not an e-mail address", w.Ref.Kind, w.Ref.Name, v)}}
			}
			return nil
		},
	}
}

// isEmail reports whether s is, whole, kube-linter's default pattern: a
// local part of letters, digits and "_.+-", "@", a domain label of
// letters, digits and "-", ".", and the rest of letters, digits, "-" and ".".
func isEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok {
		return false
	}
	first, rest, ok := strings.Cut(domain, ".")
	return ok && allOf(local, "_.+-") && allOf(first, "-") && allOf(rest, "-.")
}

// allOf reports a non-empty s of ASCII letters, digits and extra.
func allOf(s, extra string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune(extra, r)) {
			return false
		}
	}
	return true
}

// danglingPeerPodSelector: a NetworkPolicy rule's peer given by a
// podSelector alone (the policy's own namespace) should select some pod
// of that namespace (kube-linter dangling-networkpolicypeer-podselector).
// A peer that selects none allows nothing: the traffic the rule was
// written for is dropped once the policy isolates its pods, usually a
// label typo. Peers with a namespaceSelector reach other namespaces and
// are not judged; as for reliability/network-policy-no-pods, a scan of
// part of an application reports what the part does not hold.
func danglingPeerPodSelector() *rule.Rule {
	return &rule.Rule{
		ID: "reliability/network-policy-peer-no-pods", Title: "NetworkPolicy peer selects no pod", Severity: finding.SeverityLow,
		Description:     "An ingress from or egress to peer given by a podSelector matches pods of the policy's own namespace only. One that matches none allows no traffic: the connections it was written to allow are refused once the policy applies.",
		Remediation:     "Make the peer's podSelector match the labels of the pods it should allow (or add a namespaceSelector for pods of other namespaces).",
		RemediationYAML: "ingress:\n- from:\n  - podSelector:\n      matchLabels:\n        app: frontend   # the client pods' labels",
		References:      []finding.Reference{ref("Kubernetes: Network Policies, behavior of to and from selectors", "https://kubernetes.io/docs/concepts/services-networking/network-policies/#behavior-of-to-and-from-selectors")}, Tags: kubeLinterTags,
		Inventory: func(c *rule.Context) []rule.Violation {
			byNS := templatesIn(c.Inventory)
			var out []rule.Violation
			for _, o := range c.Inventory.Objects {
				np, ok := o.Typed.(*networkingv1.NetworkPolicy)
				if !ok {
					continue
				}
				check := func(field string, peers []networkingv1.NetworkPolicyPeer) {
					for j, p := range peers {
						if p.PodSelector == nil || p.NamespaceSelector != nil {
							continue
						}
						sel, err := metav1.LabelSelectorAsSelector(p.PodSelector)
						if err != nil || !anySelected(byNS[o.Ref.Namespace], sel) {
							out = append(out, rule.Violation{Object: o, Field: fmt.Sprintf("%s[%d].podSelector", field, j),
								Message: fmt.Sprintf("NetworkPolicy %s: peer %s[%d] selects no pod of namespace %q", o.Ref.Name, field, j, o.Ref.Namespace)})
						}
					}
				}
				for i, r := range np.Spec.Ingress {
					check(fmt.Sprintf("spec.ingress[%d].from", i), r.From)
				}
				for i, r := range np.Spec.Egress {
					check(fmt.Sprintf("spec.egress[%d].to", i), r.To)
				}
			}
			return out
		},
	}
}
