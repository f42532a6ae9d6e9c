// Package hubtest runs a real hub for tests (HTTPS on loopback, SQLite in
// the test's directory, a settable clock) and seeds it the way a fleet
// would: agents enrol with bootstrap tokens and report over mutual TLS
// through the hub's API. Used by the dashboard's browser tests and by
// placement's command tests.
package hubtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/hub/store"
)

// Clock is a settable clock shared by the hub and the test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Hub is a running hub.
type Hub struct {
	*hub.Hub
	URL      string
	Database string // store URL, for commands that open it
	Store    store.Store
	Clock    *Clock
}

// Start serves a hub with SQLite in t.TempDir() until the test ends. The
// clock starts at the wall-clock time (agent certificates are checked
// against it by TLS too).
func Start(t testing.TB) *Hub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "hub.db")
	// Where 'palisade hub --database sqlite:///DIR/hub.db' looks for them.
	keys := hub.KeyFiles{CAKey: filepath.Join(dir, "keys", "ca.key"), BundleKey: filepath.Join(dir, "keys", "bundle-signing.key")}
	st, err := store.Open(ctx, db)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	clock := &Clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	h, err := hub.New(ctx, hub.Config{Store: st, Keys: keys, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Hosts: []string{"127.0.0.1", "localhost"}, Now: clock.Now})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = h.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	return &Hub{Hub: h, URL: "https://" + ln.Addr().String(), Database: db, Store: st, Clock: clock}
}

// Client trusts the hub CA and presents cert when given; it follows no
// redirects, so tests see them.
func (h *Hub) Client(cert *tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(h.CACertificate())
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Agent is an enrolled agent reporting through the API.
type Agent struct {
	ClusterID, ClusterName string
	hub                    *Hub
	client                 *http.Client
	seq                    uint64
}

// Enrol creates the cluster's bootstrap token and enrols an agent with it
// through POST /api/v1/enroll.
func (h *Hub) Enrol(t testing.TB, cluster string) *Agent {
	t.Helper()
	tok, _, err := h.CreateBootstrapToken(context.Background(), cluster, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	var er struct {
		ClusterID, ClusterName, Certificate string
	}
	body := map[string]string{"token": tok, "csr": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))}
	if err := postJSON(h.Client(nil), h.URL+"/api/v1/enroll", body, &er); err != nil {
		t.Fatalf("enrol %s: %v", cluster, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair([]byte(er.Certificate), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	if err != nil {
		t.Fatal(err)
	}
	return &Agent{ClusterID: er.ClusterID, ClusterName: er.ClusterName, hub: h, client: h.Client(&cert)}
}

// Report sends one envelope (any fleetapi.Envelope-shaped value with its
// Seq left zero: the agent numbers them).
func (a *Agent) Report(t testing.TB, kind string, payload any) {
	t.Helper()
	a.seq++
	field := map[string]string{"findings": "findings", "inventory": "inventory", "images": "images", "imagescan": "imageScan", "admission": "admission", "imageverification": "imageVerification", "runtime": "runtime"}[kind]
	env := map[string]any{"seq": a.seq, "time": a.hub.Clock.Now(), "kind": kind, "cluster": a.ClusterID, field: payload}
	var res struct{ Duplicate bool }
	if err := postJSON(a.client, a.hub.URL+"/api/v1/agent/reports", env, &res); err != nil {
		t.Fatalf("%s: report %d (%s): %v", a.ClusterName, a.seq, kind, err)
	}
	if res.Duplicate {
		t.Fatalf("%s: report %d taken as a duplicate", a.ClusterName, a.seq)
	}
}

// Heartbeat sends a heartbeat now (by the hub's clock).
func (a *Agent) Heartbeat(t testing.TB) {
	t.Helper()
	if err := postJSON(a.client, a.hub.URL+"/api/v1/agent/heartbeat", map[string]any{"time": a.hub.Clock.Now(), "lastSeq": a.seq}, nil); err != nil {
		t.Fatalf("%s: heartbeat: %v", a.ClusterName, err)
	}
}

func postJSON(c *http.Client, url string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	resp, err := c.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, data)
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}
