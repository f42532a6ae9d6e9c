package runtime

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// fixedIntent answers a new flow to the pod (in) and a reply (out) with
// fixed verdicts.
type fixedIntent struct{ in, out IntentVerdict }

func (f fixedIntent) Judge(fl Flow) IntentVerdict {
	if fl.Outbound {
		return f.out
	}
	return f.in
}

var (
	allowed   = IntentVerdict{Decided: true, Src: "a", Dst: "b"}
	denied    = IntentVerdict{Decided: true, Denied: true, Src: "shop/web[Deployment]", Dst: "203.0.113.9[External]", Why: "UDP 53 is not allowed"}
	undecided = IntentVerdict{}
)

// TestJudgeUDP: a datagram delivered to a pod is PAL-RT-011 only when the
// policies deny it both as a new flow and, when it answers the pod's own
// send (a connected socket, or a send to its source within the reply
// window), as the reply; whatever cannot be decided is counted, never
// reported and never allowed.
func TestJudgeUDP(t *testing.T) {
	const ms = uint64(time.Millisecond)
	peer := netip.MustParseAddrPort("203.0.113.9:53")
	for _, tc := range []struct {
		name      string
		in, out   IntentVerdict
		sendAt    uint64 // kernel ns of the pod's send to peer; 0 = none
		recvAt    uint64
		connected bool
		evict     bool   // the remembered sends overflowed before the send
		lost      uint64 // ring-buffer drops seen at the datagram
		want      string // "" = no finding
		undecided uint64
	}{
		{"allowed as a new flow", allowed, denied, 0, 10 * ms, false, false, 0, "", 0},
		{"reply, denied both ways", denied, denied, 5 * ms, 10 * ms, false, false, 0, "received a reply from 203.0.113.9:53", 0},
		{"reply on a connected socket, no send seen", denied, denied, 0, 10 * ms, true, false, 0, "received a reply from 203.0.113.9:53", 0},
		{"reply, allowed as the pod's datagrams", denied, allowed, 5 * ms, 10 * ms, false, false, 0, "", 0},
		{"reply, its datagrams undecided", denied, undecided, 5 * ms, 10 * ms, false, false, 0, "", 0},
		{"reply denied, new flow undecided", undecided, denied, 5 * ms, 10 * ms, false, false, 0, "", 1},
		{"no send: a new flow, denied", denied, denied, 0, 10 * ms, false, false, 0, "received a UDP datagram on port 40000 from 203.0.113.9:53", 0},
		{"send older than the reply window: a new flow", denied, allowed, 1 * ms, uint64(3*time.Minute) + 2*ms, false, false, 0, "received a UDP datagram", 0},
		{"sends forgotten: undecided", denied, allowed, 0, 10 * ms, false, true, 0, "", 1},
		{"records lost: undecided", denied, allowed, 0, 10 * ms, false, false, 3, "", 1},
		{"new flow undecided, no send", undecided, denied, 0, 10 * ms, false, false, 0, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lost := uint64(0)
			d := &Detector{Intent: fixedIntent{tc.in, tc.out}, UDPReceive: true, RecordsLost: func() uint64 { return lost }}
			pod := Attribution{ContainerID: "c1", Pod: &Pod{Namespace: "shop", Name: "web-0"}}
			if tc.evict {
				for i := range udpSendsMax + 1 {
					e := Event{Kind: KindUDPSend, MonoNS: 1 * ms, CgroupID: 7, Dst: netip.AddrPortFrom(netip.MustParseAddr("198.51.100.1"), uint16(i%65536)+1), Attribution: pod}
					if i >= 65535 {
						e.Dst = netip.AddrPortFrom(netip.MustParseAddr("198.51.100.2"), uint16(i%65536)+1)
					}
					d.Evaluate(&e)
				}
			}
			if tc.sendAt != 0 {
				e := Event{Kind: KindUDPSend, MonoNS: tc.sendAt, CgroupID: 7, Dst: peer, Attribution: pod}
				if fs := d.Evaluate(&e); len(fs) != 0 {
					t.Fatalf("findings for a send: %+v", fs)
				}
			}
			lost = tc.lost
			e := Event{Kind: KindUDPRecv, MonoNS: tc.recvAt, CgroupID: 7, Src: netip.MustParseAddrPort("10.244.1.5:40000"), Dst: peer, Connected: tc.connected, Attribution: pod}
			fs := d.Evaluate(&e)
			switch {
			case tc.want == "" && len(fs) != 0:
				t.Errorf("findings %+v, want none", fs)
			case tc.want != "" && (len(fs) != 1 || fs[0].RuleID != RuleIntent || !strings.Contains(fs[0].Message, tc.want)):
				t.Errorf("findings %+v, want PAL-RT-011 with %q", fs, tc.want)
			}
			if got := d.UDPUndecided(); got != tc.undecided {
				t.Errorf("undecided %d, want %d", got, tc.undecided)
			}
			if d.UDPNotJudged() != 0 {
				t.Errorf("%d sends counted as not judged with the receive program", d.UDPNotJudged())
			}
		})
	}
}

// TestUDPSendsWithReceive: with the receive program a pod's sends are
// remembered for their replies and not counted as not judged (a send that
// nothing answers is an attempt, as an unanswered TCP connect is);
// TestUDPNotJudged covers the count without it.
func TestUDPSendsWithReceive(t *testing.T) {
	d := &Detector{Intent: fixedIntent{denied, denied}, UDPReceive: true}
	pod := Attribution{ContainerID: "c1", Pod: &Pod{Namespace: "shop", Name: "web-0"}}
	for _, dst := range []string{"203.0.113.9:53", "127.0.0.1:53", "203.0.113.9:123"} {
		e := Event{Kind: KindUDPSend, MonoNS: 1, CgroupID: 7, Dst: netip.MustParseAddrPort(dst), Attribution: pod}
		d.Evaluate(&e)
	}
	if got := d.UDPNotJudged(); got != 0 {
		t.Errorf("not judged %d, want 0", got)
	}
	if len(d.udp.last) != 2 {
		t.Errorf("%d sends remembered, want 2 (loopback is not subject to policies)", len(d.udp.last))
	}
}
