package runtime

import (
	"fmt"
	"net/netip"
)

// RuleIntent is the detection of a connection the cluster's NetworkPolicies
// deny that was nevertheless established: enforcement is missing or broken.
const RuleIntent = "PAL-RT-011"

// Flow is one established TCP connection, or one UDP datagram delivered,
// of a container, as the policy intent judges it. Only what was delivered
// is judged: a connect (sys_enter_connect) or a datagram sent is an
// attempt, which a working network plugin drops silently, so it proves
// nothing about enforcement.
type Flow struct {
	// Pod is the observed container's pod.
	Pod *Pod
	// Outbound is set for a connection the pod opened (an established
	// event); otherwise the pod accepted it.
	Outbound bool
	// Remote is the other end: the destination of an outbound connection,
	// the peer of an accepted one.
	Remote netip.AddrPort
	// Port is the destination port: Remote's for an outbound connection,
	// the listener's for an accepted one.
	Port uint16
	// UDP is set for datagrams: Outbound for a reply the pod received
	// from a destination it sent to (its datagram was delivered), not
	// Outbound for a datagram that would be a new flow to the pod's
	// port. Otherwise the flow is TCP.
	UDP bool
}

// PolicyIntent judges an established connection against the cluster's
// NetworkPolicies (the node sensor implements it over internal/netpol's
// model: internal/runtime/policyintent). Implementations must be safe for
// concurrent use, bounded and cheap on repeats: the pipeline calls it for
// every established and accepted connection.
type PolicyIntent interface {
	Judge(f Flow) IntentVerdict
}

// IntentVerdict is the policies' answer for one connection. Decided is
// false when no answer can be given (the policies are not synced yet, an
// end is not known, the source uses the host network, the connection is
// judged from its other end): the implementation counts those, and no
// finding is made either way.
type IntentVerdict struct {
	Decided bool
	Denied  bool
	// Src and Dst name the ends as the policy model does:
	// "namespace/name[Kind]", "address[External]", a Service.
	Src, Dst string
	// Why is the model's explanation of the denial (the policies that
	// select either end and allow nothing matching).
	Why string
}

// judgeIntent adds PAL-RT-011 for a container's established or accepted
// connection; only pods are judged (policies select pods).
func (d *Detector) judgeIntent(e *Event, add func(rule, msg string)) {
	a := &e.Attribution
	if d.Intent == nil || a.Pod == nil {
		return
	}
	f := Flow{Pod: a.Pod, Remote: e.Dst}
	switch e.Kind {
	case KindEstablished:
		f.Outbound, f.Port = true, e.Dst.Port()
	case KindAccept:
		f.Port = e.Src.Port()
	default:
		return
	}
	v := d.Intent.Judge(f)
	if !v.Decided || !v.Denied {
		return
	}
	if f.Outbound {
		add(RuleIntent, fmt.Sprintf("pod %s/%s (%s) connected to %s (%s) although the network policies deny it: %s; the connection was established, so policy enforcement is missing or broken",
			a.Pod.Namespace, a.Pod.Name, v.Src, e.Dst, v.Dst, v.Why))
		return
	}
	add(RuleIntent, fmt.Sprintf("pod %s/%s (%s) accepted a connection on port %d from %s (%s) although the network policies deny it: %s; the connection was established, so policy enforcement is missing or broken",
		a.Pod.Namespace, a.Pod.Name, v.Dst, f.Port, e.Dst.Addr(), v.Src, v.Why))
}
