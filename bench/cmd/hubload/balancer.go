package main

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// tcpBalancer spreads connections round-robin over the replicas, as a
// layer-4 load balancer in front of the hub does (TLS passes through: the
// agents' mutual TLS ends at the replica).
type tcpBalancer struct {
	ln       net.Listener
	addr     string
	backends []string
	next     atomic.Uint64
	wg       sync.WaitGroup
}

func startBalancer(backends []string) (*tcpBalancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &tcpBalancer{ln: ln, addr: ln.Addr().String(), backends: backends}
	b.wg.Add(1)
	go b.serve()
	return b, nil
}

func (b *tcpBalancer) serve() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		to := b.backends[b.next.Add(1)%uint64(len(b.backends))]
		go func() {
			defer c.Close()
			s, err := net.Dial("tcp", to)
			if err != nil {
				return
			}
			defer s.Close()
			done := make(chan struct{})
			go func() {
				_, _ = io.Copy(s, c)
				_ = s.(*net.TCPConn).CloseWrite()
				close(done)
			}()
			_, _ = io.Copy(c, s)
			_ = c.(*net.TCPConn).CloseWrite()
			<-done
		}()
	}
}

func (b *tcpBalancer) close() {
	_ = b.ln.Close()
	b.wg.Wait()
}
