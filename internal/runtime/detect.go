package runtime

import (
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Runtime detection IDs.
const (
	RuleShell          = "PAL-RT-001"
	RulePackageManager = "PAL-RT-002"
	RuleMetadata       = "PAL-RT-003"
	RuleKubelet        = "PAL-RT-004"
	RuleRootUser       = "PAL-RT-005"
	RuleDrift          = "PAL-RT-006"
)

var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "ash": true, "zsh": true, "ksh": true, "csh": true, "tcsh": true, "fish": true, "busybox": true}

var packageManagers = map[string]bool{"apt": true, "apt-get": true, "dpkg": true, "yum": true, "dnf": true, "microdnf": true, "rpm": true, "apk": true, "zypper": true, "pip": true, "pip3": true, "npm": true, "gem": true}

var metadataAddrs = []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254")}

var kubeletPorts = map[uint16]bool{10250: true, 10255: true}

// Detector evaluates attributed events. Only container events are judged:
// the host runs shells and package managers legitimately.
type Detector struct {
	// ProcRoot is where /proc is mounted; the drift check stats an exec'd
	// binary through /proc/<pid>/root so it sees the container's files.
	ProcRoot string
	// unverified counts execs whose binary could not be stat'ed (the
	// process was gone): drift is then unknown, never assumed absent.
	// Atomic: the agent reads it while the pipeline runs.
	unverified atomic.Uint64
}

// UnverifiedCount is the number of execs whose drift could not be decided.
func (d *Detector) UnverifiedCount() uint64 { return d.unverified.Load() }

// Evaluate returns the findings of one attributed event.
func (d *Detector) Evaluate(e *Event) []finding.Finding {
	a := &e.Attribution
	if a.Host || a.ContainerID == "" {
		return nil
	}
	var out []finding.Finding
	add := func(rule string, sev finding.Severity, title, msg, remediation string) {
		out = append(out, finding.Finding{RuleID: rule, Severity: sev, Title: title, Message: msg, Object: objectOf(a), Container: containerOf(a), Remediation: remediation})
	}
	switch e.Kind {
	case KindExec:
		base := path.Base(e.Path)
		if shells[base] {
			add(RuleShell, finding.SeverityHigh, "Shell started in a container",
				fmt.Sprintf("%s (pid %d, uid %d) started %s in container %s", procDesc(e), e.TGID, e.UID, e.Path, short(a.ContainerID)),
				"Find who started the shell (kubectl exec, a compromised process); images should not need interactive shells at run time.")
		}
		if packageManagers[base] {
			add(RulePackageManager, finding.SeverityHigh, "Package manager run in a container",
				fmt.Sprintf("%s (pid %d) ran %s in container %s: software installed at run time is not in the scanned image", procDesc(e), e.TGID, e.Path, short(a.ContainerID)),
				"Install packages when building the image, and run containers with a read-only root filesystem.")
		}
		if e.UID == 0 && a.Pod != nil && a.Pod.RunAsNonRoot {
			add(RuleRootUser, finding.SeverityHigh, "Process running as root in a pod that asked for non-root",
				fmt.Sprintf("%s (pid %d) runs as uid 0 although pod %s/%s says runAsNonRoot", e.Path, e.TGID, a.Pod.Namespace, a.Pod.Name),
				"Check the image's USER and the pod's securityContext; a runtime that ignores runAsNonRoot must be fixed.")
		}
		if why := d.drift(e); why != "" {
			add(RuleDrift, finding.SeverityHigh, "Binary executed that is not part of the image",
				fmt.Sprintf("%s (pid %d) in container %s %s", e.Path, e.TGID, short(a.ContainerID), why),
				"Containers should be immutable: rebuild the image instead of adding binaries, and use readOnlyRootFilesystem.")
		}
	case KindConnect:
		dst := e.Dst.Addr()
		for _, m := range metadataAddrs {
			if dst == m {
				add(RuleMetadata, finding.SeverityHigh, "Connection to the cloud metadata service",
					fmt.Sprintf("container %s connected to %s: the metadata service hands out the node's cloud credentials", short(a.ContainerID), e.Dst),
					"Block 169.254.169.254 with a NetworkPolicy egress rule or the cloud's metadata hop limit.")
			}
		}
		if kubeletPorts[e.Dst.Port()] {
			add(RuleKubelet, finding.SeverityHigh, "Connection to the kubelet port",
				fmt.Sprintf("container %s connected to %s, a kubelet port: pods have no reason to talk to the node's kubelet", short(a.ContainerID), e.Dst),
				"Deny egress to the nodes' kubelet port with a NetworkPolicy and check the kubelet's authentication.")
		}
	}
	return out
}

// drift says why an exec'd binary is not the image's: not in the SBOM file
// list, or changed after the container started. "" when neither holds or
// it cannot be told (counted in UnverifiedCount).
func (d *Detector) drift(e *Event) string {
	a := &e.Attribution
	if a.Pod != nil && a.Pod.ImageFiles != nil && !a.Pod.ImageFiles[e.Path] {
		return "is not in the image's SBOM file list"
	}
	if a.StartedAt.IsZero() {
		return ""
	}
	root := d.ProcRoot
	if root == "" {
		root = "/proc"
	}
	var st syscall.Stat_t
	if err := syscall.Stat(root+"/"+strconv.FormatUint(uint64(e.TGID), 10)+"/root"+e.Path, &st); err != nil {
		d.unverified.Add(1)
		return ""
	}
	changed := time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
	if changed.After(a.StartedAt) {
		return fmt.Sprintf("was written at %s, after the container started at %s", changed.UTC().Format(time.RFC3339Nano), a.StartedAt.UTC().Format(time.RFC3339Nano))
	}
	return ""
}

func objectOf(a *Attribution) finding.ObjectRef {
	if a.Pod != nil {
		return finding.ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: a.Pod.Namespace, Name: a.Pod.Name}
	}
	return finding.ObjectRef{Kind: "Container", Name: a.ContainerID}
}

func containerOf(a *Attribution) string {
	if a.Pod != nil && a.Pod.Container != "" {
		return a.Pod.Container
	}
	return short(a.ContainerID)
}

func procDesc(e *Event) string {
	if e.PPID != 0 {
		return "process with parent pid " + strconv.FormatUint(uint64(e.PPID), 10)
	}
	return "a process"
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
