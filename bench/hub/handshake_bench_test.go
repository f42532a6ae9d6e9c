package hubbench

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/hub/store"
)

// BenchmarkAgentHandshake measures the hub's CPU for an agent's new
// connection with the hub's own TLS configuration and an enrolled agent's
// certificate (mutual TLS), with a full handshake and with the session
// resumed from a ticket: what every reconnect of a fleet costs the hub.
// The server's handshakes run on one locked OS thread whose CPU time
// (getrusage RUSAGE_THREAD) is reported as hub-µs/conn; the client's and
// the collector's CPU are not in it (total-µs/conn is the process's).
//
//	go test -run '^$' -bench AgentHandshake -benchtime 3000x ./bench/hub/
func BenchmarkAgentHandshake(b *testing.B) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(b.TempDir(), "hub.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() }) // after the hub's, registered later
	h, url := startHub(b, st)
	sc, err := enrol(h, url, "handshake")
	if err != nil {
		b.Fatal(err)
	}
	agentTLS := sc.client.Transport.(*http.Transport).TLSClientConfig
	serverTLS, err := h.TLSConfig()
	if err != nil {
		b.Fatal(err)
	}
	for _, resume := range []bool{false, true} {
		name := "full"
		if resume {
			name = "resumed"
		}
		b.Run(name, func(b *testing.B) {
			tc := agentTLS.Clone()
			if resume {
				tc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			}
			benchHandshakes(b, serverTLS, tc, resume)
		})
	}
}

// benchHandshakes runs b.N connections from client to a TLS server on
// serverTLS, each exchanging one byte (so that the client reads the
// session ticket the server sends after a TLS 1.3 handshake).
func benchHandshakes(b *testing.B, serverTLS, client *tls.Config, resume bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		cpu     time.Duration
		resumed int
		err     error
	}
	res := make(chan result, 1)
	start := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var r result
		<-start
		before := threadCPU()
		for range b.N {
			c, err := ln.Accept()
			if err != nil {
				r.err = err
				break
			}
			tc := tls.Server(c, serverTLS)
			if err := tc.Handshake(); err != nil {
				r.err = err
				c.Close()
				break
			}
			if tc.ConnectionState().DidResume {
				r.resumed++
			}
			_, _ = tc.Write([]byte{1})
			_, _ = io.ReadFull(tc, make([]byte, 1))
			tc.Close()
		}
		r.cpu = threadCPU() - before
		res <- r
	}()
	// One connection first, so that the resumed case starts with a ticket.
	dial := func() error {
		c, err := tls.Dial("tcp", ln.Addr().String(), client)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			return err
		}
		_, err = c.Write([]byte{1})
		return err
	}
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	close(start)
	for i := range b.N {
		if err := dial(); err != nil {
			b.Fatalf("connection %d: %v", i, err)
		}
	}
	r := <-res
	b.StopTimer()
	if r.err != nil {
		b.Fatal(r.err)
	}
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	total := rusageCPU(ru1) - rusageCPU(ru0)
	if resume && r.resumed < b.N-1 {
		b.Fatalf("%d of %d connections resumed", r.resumed, b.N)
	}
	if !resume && r.resumed > 0 {
		b.Fatalf("%d connections resumed without a session cache", r.resumed)
	}
	b.ReportMetric(float64(r.cpu.Microseconds())/float64(b.N), "hub-µs/conn")
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "total-µs/conn")
}

func threadCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return rusageCPU(ru)
}

func rusageCPU(ru syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
