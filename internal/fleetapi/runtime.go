package fleetapi

import (
	"fmt"
	"strconv"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/runtime/profile"
)

// RuntimeReport is what one node's runtime sensor (internal/runtime, run
// by `palisade-agent --runtime` in the runtime DaemonSet) tells the hub:
// its state, a gap in coverage whenever it is not "ok" or lost events,
// and runtime findings. The node sensor has no hub identity: it writes
// Kubernetes Events (KubeEventRuntime*), and the cluster's agent forwards
// them through its outbox.
type RuntimeReport struct {
	// Node is the node the sensor runs on.
	Node   string              `json:"node"`
	Sensor *RuntimeSensorState `json:"sensor,omitempty"`
	// Findings are runtime detections (PAL-RT-*), each an event in time:
	// they accumulate at the hub (quota and retention), they never replace
	// a previous report's.
	Findings []RuntimeFinding `json:"findings,omitempty"`
	// Observations summarise, per owner workload, what the node saw it
	// execute and talk to since the previous summary: the hub learns
	// profiles from them and judges them against locked ones.
	Observations []profile.Observation `json:"observations,omitempty"`
}

// MaxRuntimeObservations bounds the observations of one runtime report.
const MaxRuntimeObservations = 1024

func (r *RuntimeReport) validateObservations() error {
	if len(r.Observations) > MaxRuntimeObservations {
		return fmt.Errorf("runtime report of node %s: %d observations, over %d", r.Node, len(r.Observations), MaxRuntimeObservations)
	}
	for i := range r.Observations {
		if err := r.Observations[i].Validate(); err != nil {
			return fmt.Errorf("runtime report of node %s: %w", r.Node, err)
		}
	}
	return nil
}

// RuntimeFinding is one runtime detection and when the sensor made it.
type RuntimeFinding struct {
	// ID identifies the detection for idempotent replay (the hub keys on
	// cluster and ID).
	ID   string          `json:"id"`
	Time time.Time       `json:"time"`
	F    finding.Finding `json:"finding"`
}

// RuntimeSensorState is a node sensor's health. Mode "ok" with no losses
// is full coverage; anything else is a gap the dashboard shows.
type RuntimeSensorState struct {
	// Mode is "ok" or "degraded"; Reason says why it is degraded (no BTF,
	// programs refused, missing capabilities).
	Mode   string `json:"mode"`
	Reason string `json:"reason,omitempty"`
	// Events decoded; Dropped records the kernel could not queue (ring
	// buffer full); Malformed records user space could not decode.
	Events    uint64 `json:"events"`
	Dropped   uint64 `json:"dropped"`
	Malformed uint64 `json:"malformed"`
	// SockStateHook and SockStateFallback: the form of the sensor's TCP
	// state program and why the cheaper BTF-typed form was not used
	// (runtime.State); not a degradation, shown so an operator sees it.
	SockStateHook     string `json:"sockStateHook,omitempty"`
	SockStateFallback string `json:"sockStateFallback,omitempty"`
	// SyscallHook and SyscallFallback: the same for the programs that see
	// connects, UDP sends and opens (fentry, or the syscall tracepoints,
	// which cost every syscall of the node more).
	SyscallHook     string `json:"syscallHook,omitempty"`
	SyscallFallback string `json:"syscallFallback,omitempty"`
	// UDPReceiveHook is the program that sees datagrams delivered to
	// containers (runtime.UDPReceiveBTF), "" when it could not load, and
	// UDPReceiveMissing why: UDP is then not judged against the policies
	// (IntentUDPNotJudged counts the sends).
	UDPReceiveHook    string `json:"udpReceiveHook,omitempty"`
	UDPReceiveMissing string `json:"udpReceiveMissing,omitempty"`
	// Unattributed counts cgroups no container or pod could be named for;
	// Unchecked execs whose drift could not be decided; Suppressed
	// findings not written over the node's rate limit.
	Unattributed uint64 `json:"unattributed"`
	Unchecked    uint64 `json:"unchecked"`
	Suppressed   uint64 `json:"suppressed"`
	// CustomErrors counts custom (CEL) detection evaluations that failed.
	CustomErrors uint64 `json:"customErrors,omitempty"`
	// Established connections judged against the NetworkPolicies
	// (PAL-RT-011): IntentJudged, of them IntentDenied; IntentUndecided
	// could not be judged (an end not known, a node address, the policy
	// model incomplete), never taken as allowed; IntentReason says why
	// judging is off or incomplete, "" when it runs.
	IntentJudged    uint64 `json:"intentJudged,omitempty"`
	IntentDenied    uint64 `json:"intentDenied,omitempty"`
	IntentUndecided uint64 `json:"intentUndecided,omitempty"`
	IntentReason    string `json:"intentReason,omitempty"`
	// IntentPolicies says which policy tiers the connections are judged
	// against: NetworkPolicies, and the admin tiers where the API server
	// serves them (AdminNetworkPolicies and the BaselineAdminNetworkPolicy,
	// v1alpha1, or ClusterNetworkPolicies, v1alpha2), with their counts ("NetworkPolicies only: …" where it does not). Not a
	// gap: a cluster without the admin tiers' CRDs has none in force.
	IntentPolicies string `json:"intentPolicies,omitempty"`
	// IntentUDPNotJudged counts pods' UDP sends to a destination (one per
	// destination and connect window) that were not judged: a datagram
	// has no proof of delivery, and the sensor sees no UDP receive
	// (UDPReceiveMissing: the kernel has no sk_data_ready tracepoint), so
	// whether the policies are enforced for it is unknown (a coverage
	// gap, never taken as allowed).
	IntentUDPNotJudged uint64 `json:"intentUDPNotJudged,omitempty"`
	// IntentUDPUndecided counts datagrams delivered to pods that the
	// policies deny as a reply or as a new flow but that could not be
	// decided the other way (an end unknown, the pod's sends forgotten
	// over their bound or lost with the ring buffer's records).
	IntentUDPUndecided uint64 `json:"intentUDPUndecided,omitempty"`
	// ExecsWithoutImageFiles counts execs in pods that could not be
	// checked against their image's SBOM file list (PAL-RT-006, evidence
	// SBOM): the list was not published (the agent publishes an image's
	// list after scanning the image, which needs a vulnerability
	// database), not fetched yet, or the node reads none. Their drift is
	// judged by the node's own evidence only: a coverage gap.
	ExecsWithoutImageFiles uint64 `json:"execsWithoutImageFiles,omitempty"`
	// ObservationsDropped counts what the node saw of its workloads but
	// summarised for no profile (over its bounds, or Events not written):
	// the profiles of its workloads are incomplete.
	ObservationsDropped uint64 `json:"observationsDropped,omitempty"`
	// LedgerErrors counts failed writes of the node's runtime ledger
	// (RuntimeLedgerName): its findings are then only in Events, which
	// expire after about an hour.
	LedgerErrors uint64    `json:"ledgerErrors,omitempty"`
	Since        time.Time `json:"since"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// Gap says what the state leaves unseen, "" for full coverage.
func (s *RuntimeSensorState) Gap() string {
	switch {
	case s == nil:
		return "no runtime sensor report"
	case s.Mode != "ok":
		return "sensor degraded: " + s.Reason
	case s.Dropped > 0 || s.Malformed > 0:
		return "events lost: " + strconv.FormatUint(s.Dropped, 10) + " dropped, " + strconv.FormatUint(s.Malformed, 10) + " malformed"
	case s.Suppressed > 0:
		return strconv.FormatUint(s.Suppressed, 10) + " findings over the node's rate limit"
	case s.IntentReason != "":
		return "connections not judged against the NetworkPolicies: " + s.IntentReason
	case s.ObservationsDropped > 0:
		return strconv.FormatUint(s.ObservationsDropped, 10) + " observations for workload profiles dropped"
	case s.ExecsWithoutImageFiles > 0:
		return strconv.FormatUint(s.ExecsWithoutImageFiles, 10) + " execs not checked against their image's SBOM file list (not published: the agent publishes an image's list once it has scanned the image, which needs a vulnerability database)"
	case s.UDPReceiveMissing != "" && s.IntentUDPNotJudged > 0:
		return strconv.FormatUint(s.IntentUDPNotJudged, 10) + " UDP sends not judged against the NetworkPolicies: the sensor sees no UDP receive (" + s.UDPReceiveMissing + ")"
	}
	return ""
}

// Kubernetes Events carrying runtime reports from the node sensors to the
// agent (as the admission webhook's break-glass Events do).
const (
	KubeEventRuntimeComponent = "palisade-runtime"
	// KubeEventReasonRuntimeFinding: one finding; KubeEventReasonRuntimeState:
	// a sensor state, regarding the Node.
	KubeEventReasonRuntimeFinding = "PalisadeRuntimeFinding"
	KubeEventReasonRuntimeState   = "PalisadeRuntimeSensor"
	// KubeEventReasonRuntimeObservations: workload observations,
	// regarding the Node.
	KubeEventReasonRuntimeObservations = "PalisadeRuntimeObservations"
	// KubeEventRuntimeAnnotation holds the RuntimeReport as JSON.
	KubeEventRuntimeAnnotation = "palisade.io/runtime-report"
)
