package hub

import (
	"container/list"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// idleConns closes kept-alive connections that wait for their next
// request, longest idle first, while more than max of them are idle.
//
// Why: every open connection costs the hub its goroutine's stack, the
// TLS record buffer, the HTTP reader and writer, the parsed client
// certificate and cipher state — about 27 KiB measured, half of it heap
// the garbage collector scans on every cycle. A replica holding 10,000
// agents' connections spent two thirds of its CPU in the collector at
// GOMEMLIMIT=400MiB (bench/hub/README.md) and fell behind its reports.
// An agent whose idle connection was closed opens a new one for its next
// request (a TLS handshake); its reports and heartbeats carry an empty
// Idempotency-Key, so a request that meets the close is sent again by its
// HTTP transport instead of failing (internal/agent idempotentPaths).
//
// Connections serving a request are never closed here. Off by default: on
// a replica starved of CPU, the handshakes of the reconnecting agents
// failed by the tens of thousands (bench/hub/README.md), so it is for an
// operator who measured that memory, not CPU, is the limit.
type idleConns struct {
	max  int
	mu   sync.Mutex
	lru  *list.List // of net.Conn, longest idle at the front
	idle map[net.Conn]*list.Element
	shed atomic.Int64
}

func newIdleConns(max int) *idleConns {
	return &idleConns{max: max, lru: list.New(), idle: map[net.Conn]*list.Element{}}
}

// state is the http.Server's ConnState hook.
func (ic *idleConns) state(c net.Conn, s http.ConnState) {
	var victims []net.Conn
	ic.mu.Lock()
	if e, ok := ic.idle[c]; ok {
		ic.lru.Remove(e)
		delete(ic.idle, c)
	}
	if s == http.StateIdle {
		ic.idle[c] = ic.lru.PushBack(c)
		for ic.lru.Len() > ic.max {
			v := ic.lru.Remove(ic.lru.Front()).(net.Conn)
			delete(ic.idle, v)
			victims = append(victims, v)
		}
	}
	ic.mu.Unlock()
	for _, v := range victims {
		ic.shed.Add(1)
		// Not here: a TLS close sends an alert and may wait for the
		// peer; the server's goroutine for v sees the close and ends.
		go v.Close()
	}
}
