package hub

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// operatorCert is the certificate an operator gives the hub for browsers
// and API clients (--tls-cert-file, --tls-key-file), reloaded when the
// files change (cert-manager and ACME clients renew in place), checked at
// most every reloadEvery.
type operatorCert struct {
	certFile, keyFile string
	now               func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	modTime time.Time
	checked time.Time
}

const reloadEvery = 30 * time.Second

func newOperatorCert(certFile, keyFile string, now func() time.Time) (*operatorCert, error) {
	if (certFile == "") != (keyFile == "") {
		return nil, fmt.Errorf("serving certificate: give both --tls-cert-file and --tls-key-file")
	}
	if certFile == "" {
		return nil, nil
	}
	oc := &operatorCert{certFile: certFile, keyFile: keyFile, now: now}
	if _, err := oc.get(); err != nil {
		return nil, err
	}
	return oc, nil
}

// get returns the current certificate, reloading it when the certificate
// file changed; a reload that fails keeps the previous one (the error is
// returned only when there is none).
func (oc *operatorCert) get() (*tls.Certificate, error) {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	now := oc.now()
	if oc.cert != nil && now.Sub(oc.checked) < reloadEvery {
		return oc.cert, nil
	}
	oc.checked = now
	fi, err := os.Stat(oc.certFile)
	if err == nil && oc.cert != nil && fi.ModTime().Equal(oc.modTime) {
		return oc.cert, nil
	}
	c, lerr := tls.LoadX509KeyPair(oc.certFile, oc.keyFile)
	if lerr == nil {
		if len(c.Certificate) > 0 {
			c.Leaf, lerr = x509.ParseCertificate(c.Certificate[0])
		}
	}
	if lerr != nil {
		if oc.cert != nil {
			return oc.cert, nil
		}
		return nil, fmt.Errorf("serving certificate %s, key %s: %w", oc.certFile, oc.keyFile, lerr)
	}
	oc.cert = &c
	if err == nil {
		oc.modTime = fi.ModTime()
	}
	return oc.cert, nil
}

// isAgentHello reports whether a connection comes from an agent, which
// offers fleetapi.AgentALPN.
func isAgentHello(hello *tls.ClientHelloInfo) bool {
	return slices.Contains(hello.SupportedProtos, fleetapi.AgentALPN)
}

// withOperatorCert makes base (the hub-CA configuration agents need) serve
// the operator's certificate to every connection that is not an agent's.
// Client certificates are verified the same way on both: agents' mutual
// TLS does not depend on which certificate the hub showed.
func withOperatorCert(base *tls.Config, oc *operatorCert) *tls.Config {
	if oc == nil {
		return base
	}
	agents := base.Clone()
	browsers := base.Clone()
	browsers.Certificates = nil
	browsers.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return oc.get() }
	outer := base.Clone()
	outer.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if isAgentHello(hello) {
			return agents, nil
		}
		return browsers, nil
	}
	return outer
}
