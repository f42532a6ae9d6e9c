package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// testCert makes a certificate for key signed by parent (self-signed when
// parent is nil).
func testCert(t *testing.T, serial int64, ca bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: ca, BasicConstraintsValid: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// TestResumedSessionStillEnforcesIdentity: the agent resumes its TLS
// session on reconnect (the hub skips the public-key operations of a full
// handshake), but never with a session made under another identity — one
// from before enrolment carries no client certificate, one from before a
// renewal the old certificate — and the pinning of the hub CA is checked
// on resumed connections too. Before sessions were keyed by the
// certificate's serial, the first request after enrolment resumed the
// anonymous session and reached the hub without a certificate.
func TestResumedSessionStillEnforcesIdentity(t *testing.T) {
	ca, caKey := testCert(t, 1, true, nil, nil)
	srvCert, srvKey := testCert(t, 2, false, ca, caKey)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serial := "none"
		if len(r.TLS.PeerCertificates) > 0 {
			serial = r.TLS.PeerCertificates[0].SerialNumber.String()
		}
		_, _ = io.WriteString(w, serial)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert,
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvCert.Raw, ca.Raw}, PrivateKey: srvKey}}}
	// A new connection per request, as after the hub closed an idle one.
	srv.Config.SetKeepAlivesEnabled(false)
	srv.StartTLS()
	defer srv.Close()

	s := sha256.Sum256(ca.Raw)
	pin := s[:]
	id := &identity{}
	hc, err := newHubClient(srv.URL, pin, id, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	setCert := func(serial int64) {
		leaf, key := testCert(t, serial, false, ca, caKey)
		id.mu.Lock()
		id.cert, id.leaf = &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}, leaf
		id.mu.Unlock()
	}
	get := func() (string, bool, error) {
		resp, err := hc.http.Get(srv.URL)
		if err != nil {
			return "", false, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), resp.TLS.DidResume, err
	}
	for i, step := range []struct {
		name    string
		before  func()
		serial  string
		resumed bool
		err     string
	}{
		{"enrolment, first connection", nil, "none", false, ""},
		{"enrolment, reconnect", nil, "none", true, ""},
		{"first request with the certificate", func() { setCert(100) }, "100", false, ""},
		{"reconnect with the certificate", nil, "100", true, ""},
		{"after renewal", func() { setCert(101) }, "101", false, ""},
		{"reconnect after renewal", nil, "101", true, ""},
		{"pinned CA changed", func() { pin[0] ^= 0xff }, "", false, "pinned CA"},
	} {
		if step.before != nil {
			step.before()
		}
		serial, resumed, err := get()
		switch {
		case step.err != "" && (err == nil || !strings.Contains(err.Error(), step.err)):
			t.Fatalf("%d %s: %v, want an error with %q", i, step.name, err, step.err)
		case step.err == "" && (err != nil || serial != step.serial || resumed != step.resumed):
			t.Fatalf("%d %s: serial %s (want %s), resumed %v (want %v), %v", i, step.name, serial, step.serial, resumed, step.resumed, err)
		}
	}
}
