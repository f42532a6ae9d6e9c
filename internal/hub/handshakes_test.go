package hub

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// movableClock is a test clock other goroutines (the hub's) read.
type movableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movableClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *movableClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// resumingClient presents cert, keeps TLS sessions and opens a new
// connection per request, as an agent whose idle connection was closed.
func resumingClient(th *testHub, cert *tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(th.CACertificate())
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*cert},
		ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}, Timeout: 10 * time.Second}
}

// heartbeat sends one heartbeat: status, whether the TLS session was
// resumed, or the transport error (a refused handshake).
func heartbeat(c *http.Client, url string) (int, bool, error) {
	b, _ := json.Marshal(fleetapi.Heartbeat{AgentVersion: "test"})
	resp, err := c.Post(url+fleetapi.PathHeartbeat, "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.TLS != nil && resp.TLS.DidResume, nil
}

// TestResumedSessionStillEnforcesIdentity: the hub issues session tickets
// and an agent's reconnect resumes (no public-key operations), but a
// resumed session is no weaker than a full handshake: a certificate
// revoked since is refused on the next request (the serial is looked up
// per request, not per handshake), and so is one expired by the hub's
// clock (checked per request too; Go's server also re-checks expiry on
// resumption, against the wall clock, which a test cannot move).
func TestResumedSessionStillEnforcesIdentity(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(t *testing.T, th *testHub, clock *movableClock, leaf *x509.Certificate)
		status  int  // after the change
		resumed bool // after the change
	}{
		{"unchanged", func(*testing.T, *testHub, *movableClock, *x509.Certificate) {}, http.StatusNoContent, true},
		{"certificate revoked", func(t *testing.T, th *testHub, clock *movableClock, leaf *x509.Certificate) {
			if _, err := th.st.RevokeCertificates(context.Background(), store.CertificateFilter{Serial: SerialHex(leaf.SerialNumber)}, clock.Now()); err != nil {
				t.Fatal(err)
			}
		}, http.StatusUnauthorized, true},
		{"certificate expired by the hub's clock", func(_ *testing.T, _ *testHub, clock *movableClock, leaf *x509.Certificate) {
			clock.Set(leaf.NotAfter.Add(time.Minute))
		}, http.StatusUnauthorized, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &movableClock{t: time.Now()}
			th := startHubWith(t, Config{Now: clock.Now})
			cert, _, _ := th.enrol(t, "resume")
			leaf, err := x509.ParseCertificate(cert.Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			c := resumingClient(th, cert)
			for i, wantResumed := range []bool{false, true} {
				status, resumed, err := heartbeat(c, th.url)
				if err != nil || status/100 != 2 || resumed != wantResumed {
					t.Fatalf("heartbeat %d: status %d, resumed %v (want %v), %v", i, status, resumed, wantResumed, err)
				}
			}
			tc.change(t, th, clock, leaf)
			status, resumed, err := heartbeat(c, th.url)
			if err != nil || status != tc.status || resumed != tc.resumed {
				t.Fatalf("after the change: status %d (want %d), resumed %v (want %v), %v", status, tc.status, resumed, tc.resumed, err)
			}
		})
	}
}

// TestHandshakeErrorsCounted: failed handshakes, which net/http reports
// only to its ErrorLog, are counted by reason in
// palisade_hub_tls_handshake_errors_total.
func TestHandshakeErrorsCounted(t *testing.T) {
	th := startHub(t)
	addr := strings.TrimPrefix(th.url, "https://")
	for _, tc := range []struct {
		name, reason string
		do           func() error
	}{
		{"closed before the handshake", "eof", func() error {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return err
			}
			return c.Close()
		}},
		{"plain HTTP", "plaintext", func() error {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return err
			}
			defer c.Close()
			_, _ = io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
			_, err = io.ReadAll(c)
			return err
		}},
		{"client does not trust the hub", "certificate", func() error {
			c, err := tls.Dial("tcp", addr, &tls.Config{MinVersion: tls.VersionTLS12})
			if err == nil {
				c.Close()
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := handshakeErrors(t, th, tc.reason)
			if err := tc.do(); err != nil {
				t.Fatal(err)
			}
			// The server's goroutine logs the failure after the client
			// sees it: wait for the count (a minute: a failure, not a
			// timing; without a bound a broken count hung the package).
			for deadline := time.Now().Add(time.Minute); handshakeErrors(t, th, tc.reason) == before; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no handshake error counted as %q a minute after the client saw it", tc.reason)
				}
			}
		})
	}
}

// handshakeErrors reads the counter from the hub's registry.
func handshakeErrors(t *testing.T, th *testHub, reason string) float64 {
	t.Helper()
	mfs, err := th.metrics.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "palisade_hub_tls_handshake_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestHandshakeReason(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"10.0.0.1:5: EOF", "eof"},
		{"10.0.0.1:5: read tcp 10.0.0.2:443->10.0.0.1:5: i/o timeout", "timeout"},
		{"10.0.0.1:5: read tcp 10.0.0.2:443->10.0.0.1:5: read: connection reset by peer", "reset"},
		{"10.0.0.1:5: write tcp 10.0.0.2:443->10.0.0.1:5: write: broken pipe", "broken_pipe"},
		{"10.0.0.1:5: remote error: tls: bad certificate", "certificate"},
		{"10.0.0.1:5: tls: failed to verify certificate: x509: certificate has expired or is not yet valid", "certificate"},
		{"10.0.0.1:5: tls: client offered only unsupported versions: [301]", "protocol"},
		{"10.0.0.1:5: client sent an HTTP request to an HTTPS server", "plaintext"},
		{"10.0.0.1:5: something else", "other"},
	} {
		if got := handshakeReason(tc.in); got != tc.want {
			t.Errorf("handshakeReason(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
