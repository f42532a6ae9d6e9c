package hub

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestIdleConnectionsBounded: with more kept-alive connections idle than
// the bound, the hub closes the ones idle longest and keeps the others
// usable; a connection serving a request is never closed, however many
// are idle. Without the bound (before), a replica kept every agent's
// connection open, and with 10,000–16,000 of them its garbage collector
// took two thirds of its CPU (bench/hub/README.md).
func TestIdleConnectionsBounded(t *testing.T) {
	for _, tc := range []struct {
		name      string
		max, open int
	}{
		{"two of five kept", 2, 5},
		{"one of three kept", 1, 3},
		{"all kept under the bound", 4, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					<-release
				}
				_, _ = io.WriteString(w, "ok")
			}))
			ic := newIdleConns(tc.max)
			srv.Config.ConnState = ic.state
			srv.Start()
			defer srv.Close()
			var once sync.Once
			unblock := func() { once.Do(func() { close(release) }) }
			defer unblock() // before srv.Close, which waits for the handler

			// A connection busy with a request during all of it.
			busy := dial(t, srv.Listener.Addr().String())
			send(t, busy, "/slow")
			conns := make([]*clientConn, tc.open)
			for i := range conns {
				conns[i] = dial(t, srv.Listener.Addr().String())
				send(t, conns[i], "/")
				if got := conns[i].answer(t); got != "ok" {
					t.Fatalf("conn %d: %q", i, got)
				}
				// The server marks a connection idle after the client
				// has its answer: wait for it, so the connections go idle
				// in the order they were opened (CI once saw conn 1's
				// hook run before conn 0's).
				waitIdled(t, ic, i+1)
			}
			closed := max(0, tc.open-tc.max)
			for i, c := range conns {
				if i < closed {
					if !c.closedByServer(t) {
						t.Fatalf("conn %d of %d, idle longest, still open with a bound of %d", i, tc.open, tc.max)
					}
					continue
				}
				send(t, c, "/")
				if got := c.answer(t); got != "ok" {
					t.Fatalf("conn %d (idle, within the bound) not usable: %q", i, got)
				}
			}
			unblock()
			if got := busy.answer(t); got != "ok" {
				t.Fatalf("the connection serving a request was closed: %q", got)
			}
			if n := ic.shed.Load(); n < int64(closed) {
				t.Fatalf("%d counted closed, want at least %d", n, closed)
			}
		})
	}
}

// waitIdled waits (bounded: a failure, not a timing assertion) until n
// connections have gone idle at least once: idle now, or closed as idle.
func waitIdled(t *testing.T, ic *idleConns, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ic.mu.Lock()
		got := int64(ic.lru.Len()) + ic.shed.Load()
		ic.mu.Unlock()
		if got >= int64(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections went idle, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

type clientConn struct {
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *clientConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &clientConn{c: c, r: bufio.NewReader(c)}
}

func send(t *testing.T, c *clientConn, path string) {
	t.Helper()
	if _, err := fmt.Fprintf(c.c, "GET %s HTTP/1.1\r\nHost: hub\r\n\r\n", path); err != nil {
		t.Fatal(err)
	}
}

// answer reads one response's body ("" if the connection ended).
func (c *clientConn) answer(t *testing.T) string {
	t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// closedByServer waits (bounded: a failure, not a timing assertion) for
// the server to close c.
func (c *clientConn) closedByServer(t *testing.T) bool {
	t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(time.Minute))
	_, err := c.r.ReadByte()
	return err == io.EOF
}
