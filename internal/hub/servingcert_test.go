package hub

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// operatorPKI writes an operator's CA and a serving certificate for
// 127.0.0.1 signed by it, as a company CA or ACME would issue.
func operatorPKI(t *testing.T) (pool *x509.CertPool, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Operator CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "hub.example"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(caCert)
	return pool, certFile, keyFile
}

// TestOperatorCertificate: with --tls-cert-file, browsers and API clients
// get the operator's certificate, agents (which offer AgentALPN) the hub
// CA's, and agents' mutual TLS works as before.
func TestOperatorCertificate(t *testing.T) {
	pool, certFile, keyFile := operatorPKI(t)
	th := startHubWith(t, Config{TLSCertFile: certFile, TLSKeyFile: keyFile})
	browser := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}, Timeout: 10 * time.Second}
	resp, body := call(t, browser, "GET", th.url+fleetapi.PathCACert, nil, nil)
	if resp.StatusCode != 200 || resp.TLS.PeerCertificates[0].Subject.CommonName != "hub.example" {
		t.Fatalf("browser: %d, certificate %s", resp.StatusCode, resp.TLS.PeerCertificates[0].Subject)
	}
	blk, _ := pem.Decode(body)
	if blk == nil || Fingerprint(blk.Bytes) != th.CAFingerprint() || resp.Header.Get("X-Palisade-CA-Fingerprint") != th.CAFingerprint() {
		t.Fatalf("/ca.crt is not the hub CA: %q", body)
	}
	if resp, body := call(t, browser, "GET", th.url+"/login", nil, nil); !strings.Contains(string(body), `href="/ca.crt"`) || !strings.Contains(string(body), th.CAFingerprint()) {
		t.Errorf("login page: %d, no CA download link with its fingerprint", resp.StatusCode)
	}

	// An agent: offers AgentALPN, trusts only the hub CA, enrols and
	// reports with its client certificate.
	agentTLS := func(cert *tls.Certificate) *http.Client {
		hubPool := x509.NewCertPool()
		hubPool.AddCert(th.CACertificate())
		tc := &tls.Config{RootCAs: hubPool, MinVersion: tls.VersionTLS12, NextProtos: []string{fleetapi.AgentALPN, "http/1.1"}}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
	}
	tok, _, err := th.CreateBootstrapToken(t.Context(), "edge-op", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, csr := keyAndCSR(t)
	resp, body = call(t, agentTLS(nil), "POST", th.url+fleetapi.PathEnroll, fleetapi.EnrollRequest{Token: tok, CSR: csr}, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("agent enrol with an operator certificate configured: %d %s", resp.StatusCode, body)
	}
	var er fleetapi.EnrollResponse
	if err := json.Unmarshal(body, &er); err != nil {
		t.Fatal(err)
	}
	if resp, body := call(t, agentTLS(tlsCert(t, er.Certificate, key)), "POST", th.url+fleetapi.PathReports, report(1, er.ClusterID), nil); resp.StatusCode != 200 {
		t.Fatalf("agent report: %d %s", resp.StatusCode, body)
	}
	// Without AgentALPN a client pinning the hub CA meets the operator's
	// certificate: proof that the choice is by ALPN.
	plain := th.client(nil)
	if _, err := plain.Get(th.url + fleetapi.PathHealth); err == nil {
		t.Error("a client without the agent ALPN got the hub CA's certificate")
	}

	if _, err := newOperatorCert(certFile, "", time.Now); err == nil || !strings.Contains(err.Error(), "--tls-key-file") {
		t.Errorf("a certificate without its key: %v", err)
	}
	if _, err := newOperatorCert(certFile, certFile, time.Now); err == nil {
		t.Error("a certificate file given as its key was accepted")
	}
}
