// Package profile is the learned behaviour of a workload: the binaries it
// executes and the peers and ports it talks to. Node sensors summarise what
// they saw per owner workload as Observations; the hub folds observations
// into one Profile per cluster and workload during its learning window,
// then locks it and reports what falls outside it as findings (PAL-RT-009,
// PAL-RT-010). Profiles are exported as JSON (Export) and turned into
// NetworkPolicies by internal/netpol.
//
// The package is pure: no I/O beyond the bounded reader of exports, no
// clock (callers pass the time).
package profile

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Workload names an owner workload: its namespace and controller
// (Deployment/web; Pod/name for a bare pod; Container/<id> for a container
// no pod is known for).
type Workload struct {
	Namespace string `json:"namespace,omitempty"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
}

func (w Workload) String() string {
	if w.Namespace == "" {
		return w.Kind + "/" + w.Name
	}
	return w.Namespace + "/" + w.Kind + "/" + w.Name
}

// Key is the workload's stable key, as the hub stores it.
func (w Workload) Key() string { return w.Namespace + "/" + w.Kind + "/" + w.Name }

// ParseKey reads Key's form.
func ParseKey(k string) (Workload, error) {
	parts := strings.Split(k, "/")
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return Workload{}, fmt.Errorf("workload %q: want namespace/Kind/name", k)
	}
	return Workload{Namespace: parts[0], Kind: parts[1], Name: parts[2]}, nil
}

// Directions of a connection, seen from the workload.
const (
	Egress  = "egress"
	Ingress = "ingress"
)

// Protocols. The connect tracepoint does not see the socket's type, so a
// connect is TCP and a datagram sent to an address is UDP; a connected UDP
// socket's connect is recorded as TCP (docs/runtime.md).
const (
	TCP = "TCP"
	UDP = "UDP"
)

// Peer is the other end of a connection: a workload when the sensor knew
// the address's pod, else the address itself (CIDR, one address: /32 or
// /128).
type Peer struct {
	Workload *Workload `json:"workload,omitempty"`
	CIDR     string    `json:"cidr,omitempty"`
}

func (p Peer) String() string {
	if p.Workload != nil {
		return p.Workload.String()
	}
	return p.CIDR
}

// Connection is one observed flow shape. Port is the server's: the
// destination port of an egress connection, the workload's listening port
// of an ingress one.
type Connection struct {
	Direction string `json:"direction"`
	Peer      Peer   `json:"peer"`
	Port      uint16 `json:"port"`
	Protocol  string `json:"protocol"`
}

func (c Connection) String() string {
	arrow := "to"
	if c.Direction == Ingress {
		arrow = "from"
	}
	return c.Direction + " " + arrow + " " + c.Peer.String() + " port " + strconv.Itoa(int(c.Port)) + "/" + c.Protocol
}

// Key orders and deduplicates connections.
func (c Connection) Key() string {
	w := ""
	if c.Peer.Workload != nil {
		w = c.Peer.Workload.Key()
	}
	return c.Direction + "\x00" + w + "\x00" + c.Peer.CIDR + "\x00" + c.Protocol + "\x00" + strconv.Itoa(int(c.Port))
}

func compareConn(a, b Connection) int { return cmp.Compare(a.Key(), b.Key()) }

// SortConnections sorts connections in their canonical order.
func SortConnections(cs []Connection) { slices.SortFunc(cs, compareConn) }

// Observation is what one node's sensor saw of one workload in one
// interval.
type Observation struct {
	Workload    Workload     `json:"workload"`
	Binaries    []string     `json:"binaries,omitempty"`
	Connections []Connection `json:"connections,omitempty"`
	// Overflow counts the binaries and connections the sensor saw but did
	// not keep over its per-workload bounds: the observation is partial.
	Overflow uint64    `json:"overflow,omitempty"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
}

// Bounds of one observation and of one profile: hostile or runaway input
// cannot grow them further.
const (
	MaxNameLen            = 512
	MaxBinariesPerObs     = 128
	MaxConnectionsPerObs  = 256
	MaxBinariesPerProfile = 256
	MaxConnsPerProfile    = 512
)

// Validate checks an observation as the hub receives it: every field
// understood and within bounds. The error names the workload.
func (o *Observation) Validate() error {
	if err := o.Workload.validate(); err != nil {
		return err
	}
	where := "observation of " + o.Workload.String()
	if len(o.Binaries) > MaxBinariesPerObs || len(o.Connections) > MaxConnectionsPerObs {
		return fmt.Errorf("%s: %d binaries and %d connections, over %d and %d", where, len(o.Binaries), len(o.Connections), MaxBinariesPerObs, MaxConnectionsPerObs)
	}
	return o.validateItems()
}

func (o *Observation) validateItems() error {
	where := "observation of " + o.Workload.String()
	for _, b := range o.Binaries {
		if b == "" || len(b) > MaxNameLen || b[0] != '/' {
			return fmt.Errorf("%s: binary %.64q is not an absolute path of at most %d bytes", where, b, MaxNameLen)
		}
	}
	for i := range o.Connections {
		if err := o.Connections[i].validate(); err != nil {
			return fmt.Errorf("%s: connection %d: %w", where, i, err)
		}
	}
	return nil
}

func (w Workload) validate() error {
	if w.Kind == "" || w.Name == "" || len(w.Namespace)+len(w.Kind)+len(w.Name) > MaxNameLen ||
		strings.Contains(w.Namespace, "/") || strings.Contains(w.Kind, "/") || strings.Contains(w.Name, "/") {
		return fmt.Errorf("workload %.128q: want a namespace, kind and name without '/', at most %d bytes", w.String(), MaxNameLen)
	}
	return nil
}

func (c *Connection) validate() error {
	if c.Direction != Egress && c.Direction != Ingress {
		return fmt.Errorf("direction %.32q: want egress or ingress", c.Direction)
	}
	if c.Protocol != TCP && c.Protocol != UDP {
		return fmt.Errorf("protocol %.32q: want TCP or UDP", c.Protocol)
	}
	if c.Port == 0 {
		return fmt.Errorf("port 0")
	}
	switch {
	case c.Peer.Workload != nil && c.Peer.CIDR != "":
		return fmt.Errorf("peer names both a workload and a CIDR")
	case c.Peer.Workload != nil:
		return c.Peer.Workload.validate()
	case c.Peer.CIDR == "":
		return fmt.Errorf("peer names neither a workload nor a CIDR")
	}
	p, err := netip.ParsePrefix(c.Peer.CIDR)
	if err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	if p != p.Masked() {
		return fmt.Errorf("peer %s: host bits set", c.Peer.CIDR)
	}
	return nil
}

// Profile is a workload's learned behaviour in one cluster. While
// LearnUntil is ahead it learns (Learn); from then on it is locked and
// observations outside it are deviations (Deviations).
type Profile struct {
	Workload    Workload     `json:"workload"`
	Binaries    []string     `json:"binaries"`
	Connections []Connection `json:"connections"`
	// LearningSince is when the learning window began (the first
	// observation, or the last restart); LearnUntil is when it ends.
	LearningSince time.Time `json:"learningSince"`
	LearnUntil    time.Time `json:"learnUntil"`
	// Window is the learning window's length when it is a per-workload
	// override; 0: the hub's default.
	Window time.Duration `json:"window,omitempty"`
	// Overflow counts what the profile did not keep: items over its
	// bounds, and the sensors' own overflow while learning. A profile
	// with overflow is incomplete: a generated policy would deny what it
	// dropped.
	Overflow uint64 `json:"overflow,omitempty"`
	// DeviationCount counts the observations outside the locked profile.
	DeviationCount uint64    `json:"deviations,omitempty"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

// Locked says whether the learning window has ended at now.
func (p *Profile) Locked(now time.Time) bool { return !now.Before(p.LearnUntil) }

// State is "learning" or "locked" at now.
func (p *Profile) State(now time.Time) string {
	if p.Locked(now) {
		return "locked"
	}
	return "learning"
}

// Learn folds an observation into the profile, keeping it sorted and
// within its bounds; what does not fit is counted in Overflow. It reports
// whether the profile changed.
func (p *Profile) Learn(o *Observation) bool {
	changed := false
	for _, b := range o.Binaries {
		i, found := slices.BinarySearch(p.Binaries, b)
		if found {
			continue
		}
		if len(p.Binaries) >= MaxBinariesPerProfile {
			p.Overflow++
			changed = true
			continue
		}
		p.Binaries = slices.Insert(p.Binaries, i, b)
		changed = true
	}
	for _, c := range o.Connections {
		i, found := slices.BinarySearchFunc(p.Connections, c, compareConn)
		if found {
			continue
		}
		if len(p.Connections) >= MaxConnsPerProfile {
			p.Overflow++
			changed = true
			continue
		}
		p.Connections = slices.Insert(p.Connections, i, c)
		changed = true
	}
	if o.Overflow > 0 {
		p.Overflow += o.Overflow
		changed = true
	}
	return changed
}

// Deviations returns the binaries and connections of o the profile does
// not hold, each once.
func (p *Profile) Deviations(o *Observation) (bins []string, conns []Connection) {
	for _, b := range o.Binaries {
		if _, found := slices.BinarySearch(p.Binaries, b); !found && !slices.Contains(bins, b) {
			bins = append(bins, b)
		}
	}
	for _, c := range o.Connections {
		if _, found := slices.BinarySearchFunc(p.Connections, c, compareConn); !found && !slices.ContainsFunc(conns, func(x Connection) bool { return x.Key() == c.Key() }) {
			conns = append(conns, c)
		}
	}
	return bins, conns
}

// Normalise sorts and deduplicates a profile read from outside (an export
// file), so Learn and Deviations can search it.
func (p *Profile) Normalise() {
	slices.Sort(p.Binaries)
	p.Binaries = slices.Compact(p.Binaries)
	slices.SortFunc(p.Connections, compareConn)
	p.Connections = slices.CompactFunc(p.Connections, func(a, b Connection) bool { return a.Key() == b.Key() })
}
