package runtime

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palisade-sec/palisade/internal/runtime/profile"
)

// PeerLookup names the workload behind a pod address; the node sensor
// implements it over its pod informer (the node's own pods). It must be
// safe for concurrent use.
type PeerLookup interface {
	LookupPeer(addr netip.Addr) (profile.Workload, bool)
}

// Observer aggregates attributed events into per-workload observations
// (binaries executed, peers and ports talked to) between flushes, for the
// hub's learned profiles. Memory is bounded: at most MaxWorkloads
// workloads per interval and profile.MaxBinariesPerObs binaries and
// profile.MaxConnectionsPerObs connections each; what does not fit is
// counted (a workload's own overflow travels with its observation, a
// workload not kept at all in Dropped), never dropped silently.
// Safe for concurrent use.
type Observer struct {
	// Peers resolves peer addresses to workloads; nil: every peer is its
	// address.
	Peers PeerLookup
	// MaxWorkloads bounds the workloads of one interval (default 1024).
	MaxWorkloads int

	mu      sync.Mutex
	cur     map[profile.Workload]*observed
	from    time.Time
	dropped atomic.Uint64
}

type observed struct {
	bins     map[string]bool
	conns    map[string]profile.Connection
	overflow uint64
}

// Dropped counts the observations (a binary or connection) of workloads
// beyond MaxWorkloads, which reached no summary.
func (o *Observer) Dropped() uint64 { return o.dropped.Load() }

// WorkloadOf is the owner workload of an attributed event; false for the
// host and unattributed cgroups.
func WorkloadOf(a *Attribution) (profile.Workload, bool) {
	if a.Host || a.ContainerID == "" {
		return profile.Workload{}, false
	}
	if a.Pod == nil {
		return profile.Workload{Kind: "Container", Name: short(a.ContainerID)}, true
	}
	kind, name, ok := strings.Cut(a.Pod.Owner, "/")
	if !ok || kind == "" || name == "" {
		kind, name = "Pod", a.Pod.Name
	}
	return profile.Workload{Namespace: a.Pod.Namespace, Kind: kind, Name: name}, true
}

// Observe records one attributed event: an exec's binary, a connect's or
// datagram's destination (egress), an accept's peer (ingress, on the
// listener's port). Loopback traffic stays inside the pod and is not
// recorded; other kinds are ignored.
func (o *Observer) Observe(e *Event) {
	w, ok := WorkloadOf(&e.Attribution)
	if !ok {
		return
	}
	var bin string
	var conn profile.Connection
	switch e.Kind {
	case KindExec:
		if e.Path == "" || e.Path[0] != '/' || len(e.Path) > profile.MaxNameLen {
			return
		}
		bin = e.Path
	case KindConnect, KindUDPSend:
		if !e.Dst.IsValid() || e.Dst.Addr().IsLoopback() || e.Dst.Addr().IsUnspecified() || e.Dst.Port() == 0 {
			return
		}
		conn = profile.Connection{Direction: profile.Egress, Peer: o.peer(e.Dst.Addr()), Port: e.Dst.Port(), Protocol: profile.TCP}
		if e.Kind == KindUDPSend {
			conn.Protocol = profile.UDP
		}
	case KindAccept:
		if !e.Dst.IsValid() || e.Dst.Addr().IsLoopback() || e.Src.Port() == 0 {
			return
		}
		conn = profile.Connection{Direction: profile.Ingress, Peer: o.peer(e.Dst.Addr()), Port: e.Src.Port(), Protocol: profile.TCP}
	default:
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cur == nil {
		o.cur = map[profile.Workload]*observed{}
	}
	acc := o.cur[w]
	if acc == nil {
		if len(o.cur) >= cmpOr(o.MaxWorkloads, 1024) {
			o.dropped.Add(1)
			return
		}
		acc = &observed{bins: map[string]bool{}, conns: map[string]profile.Connection{}}
		o.cur[w] = acc
	}
	switch {
	case bin != "":
		if !acc.bins[bin] {
			if len(acc.bins) >= profile.MaxBinariesPerObs {
				acc.overflow++
				return
			}
			acc.bins[bin] = true
		}
	default:
		k := conn.Key()
		if _, ok := acc.conns[k]; !ok {
			if len(acc.conns) >= profile.MaxConnectionsPerObs {
				acc.overflow++
				return
			}
			acc.conns[k] = conn
		}
	}
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// peer names an address's workload when known, else its one-address
// CIDR.
func (o *Observer) peer(a netip.Addr) profile.Peer {
	if o.Peers != nil {
		if w, ok := o.Peers.LookupPeer(a); ok {
			return profile.Peer{Workload: &w}
		}
	}
	return profile.Peer{CIDR: netip.PrefixFrom(a, a.BitLen()).String()}
}

// Flush returns what was observed since the last flush, one observation
// per workload in a stable order, and starts a new interval at now.
func (o *Observer) Flush(now time.Time) []profile.Observation {
	o.mu.Lock()
	cur, from := o.cur, o.from
	o.cur, o.from = nil, now
	o.mu.Unlock()
	if from.IsZero() {
		from = now
	}
	out := make([]profile.Observation, 0, len(cur))
	for w, acc := range cur {
		ob := profile.Observation{Workload: w, Overflow: acc.overflow, From: from.UTC(), To: now.UTC()}
		for b := range acc.bins {
			ob.Binaries = append(ob.Binaries, b)
		}
		slices.Sort(ob.Binaries)
		for _, c := range acc.conns {
			ob.Connections = append(ob.Connections, c)
		}
		profile.SortConnections(ob.Connections)
		out = append(out, ob)
	}
	slices.SortFunc(out, func(a, b profile.Observation) int { return strings.Compare(a.Workload.Key(), b.Workload.Key()) })
	return out
}
