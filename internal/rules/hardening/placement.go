package hardening

import (
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// systemNamespaces are the namespaces Kubernetes keeps for itself.
var systemNamespaces = map[string]bool{"kube-system": true, "kube-public": true, "kube-node-lease": true}

// kubeSystemWorkload: application workloads do not belong in kube-system
// (or kube-public, kube-node-lease), where service accounts with
// control-plane permissions live and where webhooks, Palisade's included,
// do not look (Trivy KSV037). The cluster's own add-ons are recognised by
// the labels kubeadm and the add-on manifests give them (tier:
// control-plane, k8s-app, component in the kube-system sense) and are not
// reported; anything else is, to be moved or exempted by name.
func kubeSystemWorkload() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/kube-system-workload",
		Title:           "Workload in a system namespace",
		Severity:        finding.SeverityMedium,
		Description:     "kube-system holds the control plane's add-ons and their highly privileged service accounts; admission webhooks (Palisade's among them) exclude it so the cluster can always start. A workload placed there escapes those checks, can run as those service accounts, and is one namespace away from cluster takeover.",
		Remediation:     "Deploy the workload into its own namespace. Cluster add-ons that must live in kube-system should carry the k8s-app or component label their upstream manifests use, or be exempted by name.",
		RemediationYAML: "metadata:\n  namespace: my-app",
		References: []finding.Reference{
			{Title: "Kubernetes: Namespaces, initial namespaces", URL: "https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/#initial-namespaces"},
			cis("5.6.1"),
		},
		Tags: tags,
		Workload: func(_ *rule.Context, w *workload.Workload) []rule.Violation {
			ns := w.Namespace()
			if !systemNamespaces[ns] || isClusterAddon(w) {
				return nil
			}
			return []rule.Violation{{Field: "metadata.namespace",
				Message: fmt.Sprintf("%s %s runs in the system namespace %s", w.Ref.Kind, w.Ref.Name, ns)}}
		},
	}
}

// isClusterAddon recognises the control plane's static pods and the
// add-ons kubeadm, K3s and the upstream add-on manifests install: they
// carry tier: control-plane, component, or k8s-app labels.
func isClusterAddon(w *workload.Workload) bool {
	for _, m := range []map[string]string{w.Meta.Labels, w.PodMeta.Labels} {
		if m["tier"] == "control-plane" || m["k8s-app"] != "" || m["component"] != "" {
			return true
		}
	}
	return false
}

// tiller: Helm 2's server, Tiller, must not run. It listens unauthenticated
// by default and installs whatever it is asked with its own (usually
// cluster-admin) service account; Helm 2 has been unsupported since 2020
// (Trivy KSV102). Recognised by its image (".../tiller") or the labels
// Helm 2's installer gives it (app: helm, name: tiller).
func tiller() *rule.Rule {
	return &rule.Rule{
		ID:              "hardening/tiller",
		Title:           "Helm 2 Tiller deployed",
		Severity:        finding.SeverityHigh,
		Description:     "Tiller, Helm 2's in-cluster server, accepts unauthenticated gRPC requests from any pod by default and installs charts with its own service account, usually cluster-admin: any pod that reaches it owns the cluster. Helm 2 reached end of life in 2020 and gets no fixes.",
		Remediation:     "Migrate releases to Helm 3 (helm-2to3), which has no in-cluster component, and delete the Tiller deployment and its service account.",
		RemediationYAML: "helm 2to3 convert RELEASE\nkubectl -n kube-system delete deployment tiller-deploy\nkubectl -n kube-system delete serviceaccount tiller",
		References: []finding.Reference{
			{Title: "Helm: Migrating Helm v2 to v3", URL: "https://helm.sh/docs/topics/v2_v3_migration/"},
		},
		Tags: tags,
		Workload: func(ctx *rule.Context, w *workload.Workload) []rule.Violation {
			for _, c := range w.Containers() {
				ref, err := ctx.Image(c.Image)
				if err == nil && (ref.Repository == "tiller" || strings.HasSuffix(ref.Repository, "/tiller")) {
					return []rule.Violation{{Container: c.Name, Field: w.Field(c.Path + ".image"),
						Message: fmt.Sprintf("container %q runs Helm 2's Tiller (%s)", c.Name, c.Image)}}
				}
			}
			if l := w.PodMeta.Labels; l["app"] == "helm" && l["name"] == "tiller" {
				return []rule.Violation{{Field: podMetadataField(w, "labels"),
					Message: "the pod carries Helm 2's Tiller labels (app: helm, name: tiller)"}}
			}
			return nil
		},
	}
}

// podMetadataField is the path of a field of the pod's metadata: the
// Pod's own, or its template's ("spec.template.metadata.labels").
func podMetadataField(w *workload.Workload, rel string) string {
	return strings.TrimSuffix(w.SpecPath, "spec") + "metadata." + rel
}
