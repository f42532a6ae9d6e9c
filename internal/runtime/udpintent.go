package runtime

import (
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// UDP against the policy intent. A datagram sent proves nothing (a plugin
// that enforces the policies drops it silently, as it drops a TCP
// attempt); a datagram queued on a pod's socket (udp-recv) was delivered.
// It is allowed when the policies allow it as a new flow (its source to
// the pod's port), or when it is the reply to a datagram the pod sent to
// its source (the socket is connected to that source, or the pod's
// container sent to that address and port shortly before): then the
// policies must allow the pod's datagrams to it, as a network plugin lets
// replies of allowed flows through. A reply from an address the policies
// deny the pod's datagrams to, whose datagrams would be denied as a new
// flow too, proves that enforcement is missing: PAL-RT-011. So does a
// datagram that is no reply and is denied as a new flow. Whatever cannot
// be decided (an end unknown, the sends forgotten by the bound below or
// lost by the ring buffer) is counted, never allowed and never reported.

// udpSendsMax bounds the recent sends remembered (per container and
// destination): 16,384, the kernel's own dedup map's size. More forgets
// the oldest half, and for a reply window after that a datagram that
// could be a forgotten send's reply is undecided rather than denied.
const udpSendsMax = 16384

// DefaultUDPReplyWindow is how long after a container's last reported
// send to an address a datagram from it counts as a reply, when
// Detector.UDPReplyWindow is 0. The kernel reports a send once per
// container, destination and connect window, so the node sets it to its
// connect window plus this.
const DefaultUDPReplyWindow = 2 * time.Minute

type udpSendKey struct {
	cgroup uint64
	dst    netip.AddrPort
}

// udpSends remembers the containers' recent sends.
type udpSends struct {
	mu   sync.Mutex
	last map[udpSendKey]uint64 // kernel monotonic ns of the last send reported
	// forgotUntil: until this monotonic time a missing send may have been
	// forgotten (entries were evicted).
	forgotUntil uint64
	// lost is the ring buffer's drop count last seen, and lostUntil how
	// long a send may have been among the records lost.
	lost      uint64
	lostUntil uint64
}

func (d *Detector) replyWindow() uint64 {
	if d.UDPReplyWindow > 0 {
		return uint64(d.UDPReplyWindow)
	}
	return uint64(DefaultUDPReplyWindow)
}

// noteSend remembers a container's datagram or connect to a destination
// (a connected UDP socket's connect is indistinguishable from a TCP one).
func (d *Detector) noteSend(e *Event) {
	u := &d.udp
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.last == nil {
		u.last = make(map[udpSendKey]uint64)
	}
	k := udpSendKey{e.CgroupID, e.Dst}
	if _, ok := u.last[k]; !ok && len(u.last) >= udpSendsMax {
		d.evictSends(e.MonoNS)
	}
	u.last[k] = e.MonoNS
}

// evictSends drops the older half of the remembered sends (by age) and
// marks the reply window after now as uncertain. Called with u.mu held.
func (d *Detector) evictSends(now uint64) {
	u := &d.udp
	w := d.replyWindow()
	for k, t := range u.last {
		if now-t > w/2 || now < t {
			delete(u.last, k)
		}
	}
	if len(u.last) >= udpSendsMax/2 {
		clear(u.last)
	}
	u.forgotUntil = now + w
	d.udpForgotten.Add(1)
}

// sentTo says whether the container sent to dst within the reply window
// before now, and whether a "no" is certain (nothing was forgotten or
// lost that could have been such a send).
func (d *Detector) sentTo(cgroup uint64, dst netip.AddrPort, now uint64) (sent, sure bool) {
	u := &d.udp
	u.mu.Lock()
	defer u.mu.Unlock()
	if d.RecordsLost != nil {
		if n := d.RecordsLost(); n != u.lost {
			u.lost, u.lostUntil = n, now+d.replyWindow()
		}
	}
	t, ok := u.last[udpSendKey{cgroup, dst}]
	if ok && t <= now && now-t <= d.replyWindow() {
		return true, true
	}
	return false, now > u.forgotUntil && now > u.lostUntil
}

// judgeUDP judges a datagram delivered to a pod (udp-recv).
func (d *Detector) judgeUDP(e *Event, add func(rule, msg string)) {
	a := &e.Attribution
	if d.Intent == nil || a.Pod == nil || e.Dst.Addr().Unmap().IsLoopback() {
		return
	}
	in := d.Intent.Judge(Flow{Pod: a.Pod, Remote: e.Dst, Port: e.Src.Port(), UDP: true})
	if in.Decided && !in.Denied {
		return
	}
	reply, sure := e.Connected, true
	if !reply {
		reply, sure = d.sentTo(e.CgroupID, e.Dst, e.MonoNS)
	}
	switch {
	case reply:
		out := d.Intent.Judge(Flow{Pod: a.Pod, Outbound: true, Remote: e.Dst, Port: e.Dst.Port(), UDP: true})
		if !out.Decided || !out.Denied {
			return
		}
		if !in.Decided {
			// Denied as a reply, but it might be an allowed new flow.
			d.udpUndecided.Add(1)
			return
		}
		add(RuleIntent, fmt.Sprintf("pod %s/%s (%s) received a reply from %s (%s) on UDP port %d although the network policies deny its datagrams to it: %s; the reply proves its datagram was delivered, so policy enforcement is missing or broken",
			a.Pod.Namespace, a.Pod.Name, out.Src, e.Dst, out.Dst, e.Src.Port(), out.Why))
	case !in.Decided:
		return
	case !sure:
		d.udpUndecided.Add(1)
	default:
		add(RuleIntent, fmt.Sprintf("pod %s/%s (%s) received a UDP datagram on port %d from %s (%s) although the network policies deny it: %s; the datagram was delivered and answers nothing the pod sent, so policy enforcement is missing or broken",
			a.Pod.Namespace, a.Pod.Name, in.Dst, e.Src.Port(), e.Dst, in.Src, in.Why))
	}
}

// UDPUndecided is the number of datagrams delivered to pods that the
// policies would deny one way, but that could not be decided the other
// (see judgeUDP).
func (d *Detector) UDPUndecided() uint64 { return d.udpUndecided.Load() }
