package runtime

import (
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/runtime/profile"
)

// Rules is the runtime detections' metadata for the one catalogue
// (internal/catalog): what `palisade rules` and docs/rules.md show and
// where each detection sits in the frameworks. Every detection is threat
// detection in the NSA/CISA guide's sense; MITRE techniques only where
// the detection observes the technique itself.
func Rules() []finding.RuleInfo {
	nsa := func(more ...string) []string { return append([]string{"logging.threat-detection"}, more...) }
	refRuntime := finding.Reference{Title: "Palisade runtime sensor", URL: "https://github.com/palisade-sec/palisade/blob/main/docs/runtime.md"}
	refImmutable := finding.Reference{Title: "NSA/CISA Kubernetes Hardening Guide: immutable container file systems", URL: "https://media.defense.gov/2022/Aug/29/2003066362/-1/-1/0/CTR_KUBERNETES_HARDENING_GUIDANCE_1.2_20220829.PDF"}
	rules := []finding.RuleInfo{
		{ID: RuleShell, Title: "Shell started in a container", Severity: finding.SeverityHigh,
			Description: "A shell (sh, bash, dash, ash, zsh, busybox, ...) was executed in a container. Production images rarely need one at run time; a shell usually means kubectl exec or an attacker's foothold.",
			Remediation: "Find who started the shell (kubectl exec, a compromised process); images should not need interactive shells at run time.",
			Frameworks:  finding.Frameworks{NSA: nsa(), MITRE: []string{"T1609"}}},
		{ID: RulePackageManager, Title: "Package manager run in a container", Severity: finding.SeverityHigh,
			Description: "A package manager (apt-get, dpkg, apk, yum, dnf, pip, npm, ...) ran in a container: software installed at run time was never scanned and drifts from the image.",
			Remediation: "Install packages when building the image, and run containers with a read-only root filesystem.",
			References:  []finding.Reference{refImmutable},
			Frameworks:  finding.Frameworks{NSA: nsa("pod-security.immutable-fs")}},
		{ID: RuleMetadata, Title: "Connection to the cloud metadata service", Severity: finding.SeverityHigh,
			Description: "A container connected to the cloud metadata service (169.254.169.254, fd00:ec2::254), which hands out the node's cloud credentials.",
			Remediation: "Block 169.254.169.254 with a NetworkPolicy egress rule or the cloud's metadata hop limit.",
			Frameworks:  finding.Frameworks{NSA: nsa("network.cloud-infrastructure"), MITRE: []string{"T1552"}}},
		{ID: RuleKubelet, Title: "Connection to the kubelet port", Severity: finding.SeverityHigh,
			Description: "A container connected to a kubelet port (10250, 10255): pods have no reason to talk to the node's kubelet, whose API runs commands in any container of the node.",
			Remediation: "Deny egress to the nodes' kubelet port with a NetworkPolicy and check the kubelet's authentication.",
			Frameworks:  finding.Frameworks{NSA: nsa("network.worker-segmentation"), MITRE: []string{"T1613", "T1609"}}},
		{ID: RuleRootUser, Title: "Process running as root in a pod that asked for non-root", Severity: finding.SeverityHigh,
			Description: "A process ran as uid 0 in a pod whose spec demanded a non-root user (runAsNonRoot, or a non-zero runAsUser): a setuid binary, an escalation, or a runtime that ignores the spec.",
			Remediation: "Check the image's USER and the pod's securityContext; a runtime that ignores runAsNonRoot must be fixed.",
			Frameworks:  finding.Frameworks{NSA: nsa("pod-security.non-root"), MITRE: []string{"T1068", "T1548.001"}}},
		{ID: RuleDrift, Title: "Binary executed that is not part of the image", Severity: finding.SeverityHigh,
			Description: "An executed binary is not in the image's SBOM file list, or was written after the container started: the container is not immutable, and what runs was never scanned. When the binary cannot be examined (the process already exited), drift is unknown and counted, never reported clean.",
			Remediation: "Containers should be immutable: rebuild the image instead of adding binaries, and use readOnlyRootFilesystem.",
			References:  []finding.Reference{refImmutable},
			Frameworks:  finding.Frameworks{NSA: nsa("pod-security.immutable-fs")}},
		{ID: RuleRuntimeSocket, Title: "Container runtime socket opened from a container", Severity: finding.SeverityCritical,
			Description: "A process in a container opened the container runtime's API socket (containerd, CRI-O, Docker, K3s): whoever holds it can start privileged containers and read every container of the node.",
			Remediation: "Remove the hostPath mount of the runtime socket; no workload but the node's own agents needs it.",
			Frameworks:  finding.Frameworks{NSA: nsa("pod-security.enforcement"), MITRE: []string{"T1610", "T1611"}}},
		{ID: RuleCredentialFile, Title: "Credential file of the node or another pod opened", Severity: finding.SeverityHigh,
			Description: "A process in a container opened /etc/shadow, or a file under another pod's kubelet directory (its service-account token, secrets): credential access.",
			Remediation: "Find the process; remove hostPath mounts of /var/lib/kubelet and the node's /etc from workloads.",
			Frameworks:  finding.Frameworks{NSA: nsa("pod-security.sa-tokens"), MITRE: []string{"T1552.001", "T1528"}}},
		{ID: RuleIntent, Title: "Connection established that the network policies deny", Severity: finding.SeverityHigh,
			Description: "A pod established a TCP connection (outbound, or accepted from outside the cluster's pods) that the cluster's NetworkPolicies (with its admin tiers where the API server serves them: AdminNetworkPolicies and the BaselineAdminNetworkPolicy, or ClusterNetworkPolicies), evaluated with the same model as `palisade netpol`, deny: the connection was answered, so policy enforcement is missing or broken (a network plugin without NetworkPolicy support is common on edge clusters), and the isolation the policies promise does not exist. A UDP datagram delivered to a pod is judged the same way: reported when the policies deny it as a new flow to the pod and, when it answers the pod's own datagram, deny the pod's datagrams to its source too (a reply proves the send was delivered). Connection attempts and UDP datagrams sent are not judged: a working plugin drops them silently. Connections the sensor cannot judge (an end not known yet, host-network pods, policies not synced) are counted in the sensor state, never taken as allowed.",
			Remediation: "Check that the cluster's network plugin enforces NetworkPolicies (K3s: not with --disable-network-policy; flannel alone does not) and, where the finding names an AdminNetworkPolicy or a ClusterNetworkPolicy, the admin tiers, then that the policy covering this pod is the one in force.",
			Frameworks:  finding.Frameworks{NSA: nsa("network.policies"), MITRE: []string{"T1562.001"}}},
	}
	for i := range rules {
		rules[i].Tags = []string{"runtime"}
		rules[i].References = append(rules[i].References, refRuntime)
	}
	// Deviations from learned workload profiles are judged at the hub;
	// their metadata is the profile package's.
	return append(rules, profile.Rules()...)
}
