package runtime

import (
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"sync"
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
	RuleRuntimeSocket  = "PAL-RT-007"
	RuleCredentialFile = "PAL-RT-008"
)

var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "ash": true, "zsh": true, "ksh": true, "csh": true, "tcsh": true, "fish": true, "busybox": true}

var packageManagers = map[string]bool{"apt": true, "apt-get": true, "dpkg": true, "yum": true, "dnf": true, "microdnf": true, "rpm": true, "apk": true, "zypper": true, "pip": true, "pip3": true, "npm": true, "gem": true}

var metadataAddrs = []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254")}

var kubeletPorts = map[uint16]bool{10250: true, 10255: true}

// ruleInfo is Rules by ID: a finding's title, severity and remediation
// come from the catalogue's metadata, written once.
var ruleInfo = sync.OnceValue(func() map[string]finding.RuleInfo {
	m := map[string]finding.RuleInfo{}
	for _, r := range Rules() {
		m[r.ID] = r
	}
	return m
})

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
	// Custom are the operator's CEL detections (LoadCustom), evaluated
	// over container events like the built-in ones.
	Custom []*CustomDetection
	// customErrors counts custom evaluations that failed (a field the
	// event lacks, the cost limit): no finding, never a silent pass.
	customErrors atomic.Uint64
	// Intent judges established connections against the cluster's
	// NetworkPolicies (PAL-RT-011); nil judges none.
	Intent PolicyIntent
	// udpNotJudged counts a pod's UDP sends to a destination (one per
	// destination and connect window, as the kernel reports them) that
	// policy intent could not judge because the sensor sees no UDP
	// receive (UDPReceive unset): a datagram has no proof of delivery, so
	// neither allowed nor denied is known. A coverage gap, never a pass.
	udpNotJudged atomic.Uint64
	// UDPReceive is set when the sensor reports the datagrams delivered
	// to containers (udp-recv, Sensor.UDPReceive): UDP is then judged on
	// delivery (udpintent.go) and sends are no longer counted as not
	// judged, as TCP attempts are not.
	UDPReceive bool
	// UDPReplyWindow is how long after a container's last reported send
	// a datagram from that destination counts as its reply; 0 is
	// DefaultUDPReplyWindow.
	UDPReplyWindow time.Duration
	// RecordsLost, when set, returns the sensor's count of records lost
	// to a full ring buffer: a send may have been among them, so for a
	// reply window after a loss a datagram is not judged as "no reply".
	RecordsLost func() uint64
	udp         udpSends
	// udpUndecided counts datagrams delivered to pods that the policies
	// deny one way and that could not be decided the other;
	// udpForgotten counts evictions of remembered sends.
	udpUndecided atomic.Uint64
	udpForgotten atomic.Uint64
	// Overlay tells image files from files written in the container
	// through the container's overlay mount (the drift check); nil uses
	// the change-time test only.
	Overlay *OverlayDrift
	// Files finds the image's published executable paths (the agent's
	// SBOM file list, imagefiles.go) for the drift check; nil, or a set
	// not known yet, leaves the decision to Overlay and the change time,
	// and the exec is counted in noImageFiles.
	Files ImageFileSets
	// noImageFiles counts execs in pods whose image's file list was not
	// there to check them against (not published: the agent publishes an
	// image's list once it has scanned it, which needs a vulnerability
	// database; not fetched yet; Files nil): drift by the SBOM unknown
	// for them, a coverage gap, never a pass.
	noImageFiles atomic.Uint64
}

// NoImageFiles is the number of execs in pods not checked against their
// image's file list because it was not available (see noImageFiles).
func (d *Detector) NoImageFiles() uint64 { return d.noImageFiles.Load() }

// ImageFileSets finds an image's file set by the pod's image reference
// (ref@sha256:…); nil when it is not known. It must not block the
// pipeline (the agent fetches sets in the background) and must be safe
// for concurrent use.
type ImageFileSets interface {
	ImageFilesOf(image string) *ImageFiles
}

// UDPNotJudged is the number of pods' UDP sends policy intent could not
// judge (see udpNotJudged).
func (d *Detector) UDPNotJudged() uint64 { return d.udpNotJudged.Load() }

// CustomErrors is the number of custom detection evaluations that failed.
func (d *Detector) CustomErrors() uint64 { return d.customErrors.Load() }

// UnverifiedCount is the number of execs whose drift could not be decided.
func (d *Detector) UnverifiedCount() uint64 { return d.unverified.Load() }

// Evaluate returns the findings of one attributed event.
func (d *Detector) Evaluate(e *Event) []finding.Finding {
	a := &e.Attribution
	if a.Host || a.ContainerID == "" {
		return nil
	}
	var out []finding.Finding
	add := func(rule, msg string) {
		info := ruleInfo()[rule]
		out = append(out, finding.Finding{RuleID: rule, Severity: info.Severity, Title: info.Title, Message: msg, Object: objectOf(a), Container: containerOf(a), Remediation: info.Remediation})
	}
	switch e.Kind {
	case KindExec:
		base := path.Base(e.Path)
		if shells[base] {
			add(RuleShell, fmt.Sprintf("%s (pid %d, uid %d) started %s in container %s", procDesc(e), e.TGID, e.UID, e.Path, short(a.ContainerID)))
		}
		if packageManagers[base] {
			add(RulePackageManager, fmt.Sprintf("%s (pid %d) ran %s in container %s: software installed at run time is not in the scanned image", procDesc(e), e.TGID, e.Path, short(a.ContainerID)))
		}
		if e.UID == 0 && a.Pod != nil && a.Pod.RunAsNonRoot {
			add(RuleRootUser, fmt.Sprintf("%s (pid %d) runs as uid 0 although pod %s/%s says runAsNonRoot", e.Path, e.TGID, a.Pod.Namespace, a.Pod.Name))
		}
		if why := d.drift(e); why != "" {
			add(RuleDrift, fmt.Sprintf("%s (pid %d) in container %s %s", e.Path, e.TGID, short(a.ContainerID), why))
		}
	case KindConnect, KindUDPSend:
		dst := e.Dst.Addr()
		for _, m := range metadataAddrs {
			if dst == m {
				add(RuleMetadata, fmt.Sprintf("container %s %s %s: the metadata service hands out the node's cloud credentials", short(a.ContainerID), verb(e.Kind), e.Dst))
			}
		}
		if d.Intent != nil && a.Pod != nil && !dst.IsLoopback() {
			switch {
			case d.UDPReceive:
				d.noteSend(e)
			case e.Kind == KindUDPSend:
				d.udpNotJudged.Add(1)
			}
		}
		if e.Kind == KindConnect && kubeletPorts[e.Dst.Port()] {
			add(RuleKubelet, fmt.Sprintf("container %s connected to %s, a kubelet port: pods have no reason to talk to the node's kubelet", short(a.ContainerID), e.Dst))
		}
	case KindEstablished, KindAccept:
		d.judgeIntent(e, add)
	case KindUDPRecv:
		d.judgeUDP(e, add)
	case KindOpen:
		switch {
		case runtimeSocket(e.Path):
			add(RuleRuntimeSocket, fmt.Sprintf("pid %d (uid %d) in container %s opened %s, the container runtime's socket: whoever holds it controls every container of the node", e.TGID, e.UID, short(a.ContainerID), e.Path))
		case e.Path == "/etc/shadow":
			add(RuleCredentialFile, fmt.Sprintf("pid %d (uid %d) in container %s opened /etc/shadow", e.TGID, e.UID, short(a.ContainerID)))
		default:
			if uid, ok := otherPodVolume(e.Path, a.PodUID); ok {
				add(RuleCredentialFile, fmt.Sprintf("pid %d (uid %d) in container %s opened %s, a volume (service-account token, secrets) of another pod, %s", e.TGID, e.UID, short(a.ContainerID), e.Path, uid))
			}
		}
	}
	if len(d.Custom) > 0 {
		// The custom detections marshal the event through an interface,
		// which makes the compiler move any event they see to the heap: a
		// copy made only here keeps the sensor's reader from allocating
		// an Event per record when no custom detection is configured.
		c := *e
		out = append(out, d.evaluateCustom(&c)...)
	}
	return out
}

// evaluateCustom runs the custom detections over one container event.
func (d *Detector) evaluateCustom(e *Event) []finding.Finding {
	vars, err := eventVars(e)
	if err != nil {
		d.customErrors.Add(uint64(len(d.Custom)))
		return nil
	}
	var out []finding.Finding
	a := &e.Attribution
	for _, c := range d.Custom {
		msg, err := c.match(vars)
		if err != nil {
			d.customErrors.Add(1)
			continue
		}
		if msg != "" {
			out = append(out, finding.Finding{RuleID: c.Info.ID, Severity: c.Info.Severity, Title: c.Info.Title, Message: msg,
				Object: objectOf(a), Container: containerOf(a), Remediation: c.Info.Remediation})
		}
	}
	return out
}

func verb(k Kind) string {
	if k == KindUDPSend {
		return "sent a datagram to"
	}
	return "connected to"
}

// runtimeSocket: the kernel passes opens under the runtimes' state
// directories; of those, the API sockets are what a container must not
// reach.
func runtimeSocket(p string) bool {
	switch p {
	case "/run/docker.sock", "/var/run/docker.sock", "/run/containerd/containerd.sock", "/var/run/containerd/containerd.sock",
		"/run/crio/crio.sock", "/var/run/crio/crio.sock", "/run/k3s/containerd/containerd.sock":
		return true
	}
	return false
}

// otherPodVolume reports the pod UID of a path under the kubelet's pod
// directories when it is not own's (a container reading another pod's
// projected service-account token or secret volume through a host mount).
func otherPodVolume(p, own string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/var/lib/kubelet/pods/")
	if !ok {
		return "", false
	}
	uid, _, _ := strings.Cut(rest, "/")
	if uid == "" || uid == own {
		return "", false
	}
	return uid, true
}

// drift says why an exec'd binary is not the image's: not in the SBOM file
// list, or changed after the container started. "" when neither holds or
// it cannot be told (counted in UnverifiedCount).
func (d *Detector) drift(e *Event) string {
	a := &e.Attribution
	if a.Pod != nil {
		// In the list, the path may still have been overwritten in the
		// container: the node's own tests below tell.
		var set *ImageFiles
		if d.Files != nil {
			set = d.Files.ImageFilesOf(a.Pod.Image)
		}
		if set == nil {
			d.noImageFiles.Add(1)
		} else if has, ok := set.Has(e.Path); ok && !has {
			return "is not in the image's SBOM file list (evidence: SBOM)"
		}
	}
	if d.Overlay != nil {
		// The layers are the node's own record of what the image holds:
		// when they decide, the change time is not needed.
		switch v, why := d.Overlay.judge(a.ContainerID, e.TGID, e.Path); v {
		case overlayUpper, overlayVolume:
			return why + " (evidence: overlay layers)"
		case overlayImage:
			return ""
		}
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
		return fmt.Sprintf("was written at %s, after the container started at %s (evidence: change time)", changed.UTC().Format(time.RFC3339Nano), a.StartedAt.UTC().Format(time.RFC3339Nano))
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
