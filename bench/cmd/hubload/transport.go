package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// connTrace records how far a request got on its connection, so that a
// transport error can be told apart by phase: a new connection whose TLS
// handshake failed, a reused one that was closed before or after the
// request was written, or an answer cut short. Which one it is says
// which side closed and why (a server timeout, an idle connection closed
// as it was reused, a body the server did not read).
type connTrace struct {
	mu                              sync.Mutex
	handshake, gotConn, wrote, resp time.Time
	reused                          bool
	// handshook and didResume: a TLS handshake completed on a new
	// connection, from a resumed session (counted in stats).
	handshook, didResume bool
	idle                 time.Duration
	tlsErr, writeErr     error
}

func (c *connTrace) trace() *httptrace.ClientTrace {
	at := func(t *time.Time) { c.mu.Lock(); *t = time.Now(); c.mu.Unlock() }
	return &httptrace.ClientTrace{
		TLSHandshakeStart: func() { at(&c.handshake) },
		TLSHandshakeDone: func(cs tls.ConnectionState, err error) {
			c.mu.Lock()
			c.tlsErr = err
			c.handshook, c.didResume = err == nil, err == nil && cs.DidResume
			c.mu.Unlock()
		},
		GotConn: func(i httptrace.GotConnInfo) {
			c.mu.Lock()
			c.gotConn, c.reused, c.idle = time.Now(), i.Reused, i.IdleTime
			c.mu.Unlock()
		},
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			c.mu.Lock()
			c.wrote, c.writeErr = time.Now(), i.Err
			c.mu.Unlock()
		},
		GotFirstResponseByte: func() { at(&c.resp) },
	}
}

// phase names where the request failed with err, and its class (the
// phase without figures, to count errors by).
func (c *connTrace) phase(err error) (desc, class string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	conn := "new connection"
	if c.reused {
		conn = fmt.Sprintf("reused connection (idle %v)", c.idle.Round(time.Millisecond))
	}
	kind := errKind(err)
	since := func(t time.Time) string { return time.Since(t).Round(time.Millisecond).String() }
	switch {
	case c.gotConn.IsZero() && !c.handshake.IsZero():
		return fmt.Sprintf("TLS handshake of a new connection, %s after it started", since(c.handshake)), "TLS handshake: " + kind
	case c.gotConn.IsZero():
		return "connecting", "connecting: " + kind
	case c.wrote.IsZero() || c.writeErr != nil:
		class = "writing the request on a new connection: " + kind
		if c.reused {
			class = "writing the request on a reused connection: " + kind
		}
		return fmt.Sprintf("writing the request on a %s, %s after getting it", conn, since(c.gotConn)), class
	case c.resp.IsZero():
		class = "waiting for the answer on a new connection: " + kind
		if c.reused {
			class = "waiting for the answer on a reused connection: " + kind
		}
		return fmt.Sprintf("waiting for the answer on a %s, %s after the request was written", conn, since(c.wrote)), class
	}
	return fmt.Sprintf("reading the answer on a %s, %s after its first byte", conn, since(c.resp)), "reading the answer: " + kind
}

// errKind is a transport error without its addresses.
func errKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, net.ErrClosed):
		return "use of closed network connection"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}

// do sends req with its connection traced; a transport error is returned
// with the phase it happened in and counted by class.
func (st *stats) do(c *http.Client, req *http.Request) (*http.Response, error) {
	var ct connTrace
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), ct.trace()))
	resp, err := c.Do(req)
	ct.mu.Lock()
	if ct.handshook {
		st.handshakes.Add(1)
		if ct.didResume {
			st.resumed.Add(1)
		}
	}
	ct.mu.Unlock()
	if err != nil {
		desc, class := ct.phase(err)
		st.transportErr(class)
		return nil, fmt.Errorf("%s: %w", desc, err)
	}
	return resp, nil
}

func (st *stats) transportErr(class string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.transport == nil {
		st.transport = map[string]int{}
	}
	st.transport[class]++
}

// transportSummary lists the transport errors by class, most first.
func (st *stats) transportSummary() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []string
	for k, n := range st.transport {
		out = append(out, fmt.Sprintf("%6d %s", n, k))
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out
}
