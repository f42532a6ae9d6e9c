// Package runtime is Palisade's runtime sensor: eBPF programs on stable
// tracepoints report process execs and exits, outbound TCP connects and
// inbound accepts through a ring buffer; user space decodes each record
// (bounded, versioned), attributes it to a container and pod by its cgroup,
// and evaluates the runtime detections into finding.Finding values.
//
// The pipeline is load (Sensor) → normalise (Decode, Resolver) → evaluate
// (Detector) → report (the caller: palisade runtime watch or the agent).
package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Kind is the kind of a runtime event.
type Kind string

// Event kinds.
const (
	KindExec    Kind = "exec"
	KindExit    Kind = "exit"
	KindConnect Kind = "connect"
	KindAccept  Kind = "accept"
	// KindOpen is the opening of a sensitive file (the kernel filters by
	// path prefix, docs/runtime.md).
	KindOpen Kind = "open"
	// KindUDPSend is a datagram sent to an explicit address (sendto).
	KindUDPSend Kind = "udp-send"
	// KindEstablished is an outbound TCP connection the peer answered
	// (SYN_SENT → ESTABLISHED): unlike a connect, which is an attempt, it
	// proves the destination was reached. Like an accept it carries the
	// socket's cgroup and no process.
	KindEstablished Kind = "established"
	// KindUDPRecv is a UDP datagram queued on a container's socket: it was
	// delivered (past the node's packet filters and the network plugin).
	// Src is the socket's end (the datagram's destination), Dst the
	// datagram's source; like an accept it carries the socket's cgroup
	// and no process.
	KindUDPRecv Kind = "udp-recv"
)

// Record layout, shared with bpf/sensor.c (struct rec_hdr and friends).
const (
	recVersion = 1

	recExec        = 1
	recExit        = 2
	recConnect     = 3
	recAccept      = 4
	recOpen        = 5
	recUDPSend     = 6
	recEstablished = 7
	recUDPRecv     = 8

	hdrSize     = 48
	pathMax     = 256
	argsMax     = 256
	execRecSize = hdrSize + 8 + pathMax + argsMax
	exitRecSize = hdrSize + 8
	connRecSize = hdrSize + 8 + 32
	openRecSize = hdrSize + 8 + pathMax

	// MaxArgs caps the argv entries kept from one exec.
	MaxArgs = 32
)

// Event is one decoded kernel record, with its attribution once a Resolver
// has seen it.
type Event struct {
	Kind Kind `json:"kind"`
	// MonoNS is the kernel's monotonic clock at the event.
	MonoNS   uint64 `json:"monoNS"`
	PID      uint32 `json:"pid"`
	TGID     uint32 `json:"tgid"`
	PPID     uint32 `json:"ppid,omitempty"`
	UID      uint32 `json:"uid"`
	CgroupID uint64 `json:"cgroupID,omitempty"`
	NetNS    uint32 `json:"netns,omitempty"`

	// Exec: the binary; open: the file.
	Path string `json:"path,omitempty"`
	// OpenFlags are open(2)'s flags (O_WRONLY 1, O_RDWR 2, ...).
	OpenFlags uint32   `json:"openFlags,omitempty"`
	Args      []string `json:"args,omitempty"`
	// ArgsTruncated is set when argv was longer than the kernel-side cap.
	ArgsTruncated bool `json:"argsTruncated,omitempty"`
	// Exit.
	ExitCode int32 `json:"exitCode,omitempty"`
	// Connect, UDP send and accept: Src is the local end, Dst the remote one.
	Src netip.AddrPort `json:"src,omitzero"`
	Dst netip.AddrPort `json:"dst,omitzero"`
	// Connected is set on a udp-recv whose socket is connected to the
	// datagram's source: the container connected to it first.
	Connected bool `json:"connected,omitempty"`

	Attribution Attribution `json:"attribution"`
}

// ErrMalformed wraps every decoding error: the caller counts them.
var ErrMalformed = errors.New("malformed sensor record")

// Decode reads one ring-buffer record. It never panics and never allocates
// more than the record's fixed-size fields allow.
func Decode(b []byte) (Event, error) {
	var e Event
	if len(b) < hdrSize {
		return e, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrMalformed, len(b), hdrSize)
	}
	le := binary.LittleEndian
	version, typ, size := le.Uint16(b[0:]), le.Uint16(b[2:]), le.Uint32(b[4:])
	if version != recVersion {
		return e, fmt.Errorf("%w: version %d, this sensor reads version %d", ErrMalformed, version, recVersion)
	}
	want := 0
	switch typ {
	case recExec:
		e.Kind, want = KindExec, execRecSize
	case recExit:
		e.Kind, want = KindExit, exitRecSize
	case recConnect:
		e.Kind, want = KindConnect, connRecSize
	case recAccept:
		e.Kind, want = KindAccept, connRecSize
	case recOpen:
		e.Kind, want = KindOpen, openRecSize
	case recUDPSend:
		e.Kind, want = KindUDPSend, connRecSize
	case recEstablished:
		e.Kind, want = KindEstablished, connRecSize
	case recUDPRecv:
		e.Kind, want = KindUDPRecv, connRecSize
	default:
		return e, fmt.Errorf("%w: unknown record type %d", ErrMalformed, typ)
	}
	if int(size) != want || len(b) < want {
		return e, fmt.Errorf("%w: %s record of %d bytes (header says %d), want %d", ErrMalformed, e.Kind, len(b), size, want)
	}
	e.MonoNS = le.Uint64(b[8:])
	e.CgroupID = le.Uint64(b[16:])
	e.PID, e.TGID, e.PPID, e.UID, e.NetNS = le.Uint32(b[24:]), le.Uint32(b[28:]), le.Uint32(b[32:]), le.Uint32(b[36:]), le.Uint32(b[40:])
	p := b[hdrSize:want]
	switch e.Kind {
	case KindExec:
		pathLen, argsLen := int(le.Uint16(p[0:])), int(le.Uint16(p[2:]))
		if pathLen > pathMax || argsLen > argsMax {
			return e, fmt.Errorf("%w: exec lengths path %d args %d exceed %d", ErrMalformed, pathLen, argsLen, pathMax)
		}
		e.Path = cString(p[8 : 8+pathLen])
		e.Args, e.ArgsTruncated = splitArgs(p[8+pathMax : 8+pathMax+argsLen])
		if argsLen == argsMax-1 {
			e.ArgsTruncated = true
		}
	case KindExit:
		e.ExitCode = int32(le.Uint32(p[0:]))
	case KindOpen:
		pathLen := int(le.Uint16(p[0:]))
		if pathLen > pathMax {
			return e, fmt.Errorf("%w: open path length %d exceeds %d", ErrMalformed, pathLen, pathMax)
		}
		e.OpenFlags = le.Uint32(p[4:])
		e.Path = cString(p[8 : 8+pathLen])
	case KindConnect, KindAccept, KindUDPSend, KindEstablished, KindUDPRecv:
		family, sport, dport := le.Uint16(p[0:]), le.Uint16(p[2:]), le.Uint16(p[4:])
		var src, dst netip.Addr
		switch family {
		case 2:
			src, dst = netip.AddrFrom4([4]byte(p[8:12])), netip.AddrFrom4([4]byte(p[24:28]))
		case 10:
			src, dst = netip.AddrFrom16([16]byte(p[8:24])).Unmap(), netip.AddrFrom16([16]byte(p[24:40])).Unmap()
		default:
			return e, fmt.Errorf("%w: %s with address family %d", ErrMalformed, e.Kind, family)
		}
		if e.Kind != KindAccept && e.Kind != KindEstablished && e.Kind != KindUDPRecv {
			e.Dst = netip.AddrPortFrom(dst, dport)
		} else {
			// inet_sock_set_state names the socket's own end "source":
			// for an accepted socket that is the listener, for an
			// outbound one the local address; for a datagram received,
			// the socket's end.
			e.Src, e.Dst = netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)
		}
		// The header's last word, unused by the other records, says
		// whether a UDP receive's socket is connected.
		e.Connected = e.Kind == KindUDPRecv && le.Uint32(b[44:]) == 1
	}
	return e, nil
}

func cString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// splitArgs splits the NUL-separated argv, keeping at most MaxArgs entries.
func splitArgs(b []byte) ([]string, bool) {
	if len(b) == 0 {
		return nil, false
	}
	s := strings.TrimRight(string(b), "\x00")
	parts := strings.SplitN(s, "\x00", MaxArgs+1)
	truncated := false
	if len(parts) > MaxArgs {
		parts, truncated = parts[:MaxArgs], true
	}
	for i, a := range parts {
		parts[i] = strings.ToValidUTF8(a, "\uFFFD")
	}
	return parts, truncated
}
