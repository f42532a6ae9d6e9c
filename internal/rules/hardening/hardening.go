// Package hardening holds the workload hardening rules that go beyond the
// Pod Security Standards: immutable and least-privilege containers, pinned
// images, resource bounds, service-account tokens, exposure and network
// isolation. One rule (or one family, like the four resource rules) per
// file; each file opens with the rule's contract. Two rules report, HIGH and
// on their own, what the Pod Security controls also forbid
// (dangerous-capabilities, run-as-root): they apply at the baseline and
// restricted levels and are suppressed in a namespace labelled privileged,
// like the controls. The rules of host_access.go (privileged containers,
// host namespaces, ports and paths, privilege escalation) take over from
// the Pod Security controls wherever those are not in force, the
// privileged level above all, so that the level chosen never hides them.
package hardening

import (
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
)

// Rules returns the hardening rules.
func Rules() []*rule.Rule {
	return []*rule.Rule{
		readOnlyRootFS(),
		dangerousCaps(),
		runAsRoot(),
		imageNotPinned(),
		latestTag(),
		cpuRequests(),
		cpuLimits(),
		memoryRequests(),
		memoryLimits(),
		tokenAutomount(),
		secretInEnv(),
		runtimeSocket(),
		sensitiveHostPath(),
		hostDevices(),
		writableHostPath(),
		defaultNamespace(),
		defaultServiceAccount(),
		serviceExposed(),
		noNetworkPolicy(),
		registryNotAllowed(),
		deprecatedAPIVersion(),
		lowID(true),
		lowID(false),
		rootGroup(),
		privilegedPort(),
		sshPort(),
		hostAliases(),
		noSecurityContext(),
		kubeSystemWorkload(),
		tiller(),
		configMapSecret(),
		serviceExternalIPs(),
		ingressNoTLS(),
		secretEnvRef(),
		netRawNotDropped(),
		defaultCapabilitiesKept(),
		noLinuxHardening(),
		privilegedContainer(),
		hostPID(),
		hostIPC(),
		hostNetwork(),
		hostPort(),
		hostPathAny(),
		privilegeEscalation(),
	}
}

var tags = []string{rule.TagHardening}

func nsaGuide(section string) finding.Reference {
	return finding.Reference{
		Title: "NSA/CISA Kubernetes Hardening Guide: " + section,
		URL:   "https://media.defense.gov/2022/Aug/29/2003066362/-1/-1/0/CTR_KUBERNETES_HARDENING_GUIDANCE_1.2_20220829.PDF",
	}
}

func cis(section string) finding.Reference {
	return finding.Reference{Title: "CIS Kubernetes Benchmark " + section}
}
