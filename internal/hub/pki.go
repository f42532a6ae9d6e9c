package hub

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"
)

// authority is the hub's CA: it signs the hub's serving certificates and
// the agents' client certificates. Agents pin it by fingerprint.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
}

// newCAKeyPEM creates a CA private key (PKCS #8 PEM).
func newCAKeyPEM() ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// newCACertPEM creates the self-signed CA certificate of key.
func newCACertPEM(key crypto.Signer) ([]byte, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Palisade hub CA", Organization: []string{"palisade"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func parseCA(b []byte) (*authority, error) {
	var a authority
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("hub CA: %w", err)
			}
			a.cert = c
			a.pem = pem.EncodeToMemory(blk)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("hub CA key: %w", err)
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, errors.New("hub CA key: not a signer")
			}
			a.key = s
		}
	}
	if a.cert == nil || a.key == nil {
		return nil, errors.New("hub CA: incomplete PEM")
	}
	return &a, nil
}

// Fingerprint is "sha256:" and the hex SHA-256 of a certificate's DER,
// the form agents pin with --hub-ca-fingerprint.
func Fingerprint(der []byte) string {
	s := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(s[:])
}

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// SerialHex is how certificate serials are stored.
func SerialHex(n *big.Int) string { return hex.EncodeToString(n.Bytes()) }

// ParseSerial reads a certificate serial as operators copy it: hex in any
// case, with or without "0x", colons or spaces between bytes, and leading
// zeros (openssl prints "0A:1B:..", browsers "0A 1B .."). It returns the
// stored form (SerialHex), or an error for anything that is not a
// positive hex number of at most 20 bytes (RFC 5280 §4.1.2.2).
func ParseSerial(s string) (string, error) {
	orig := s
	s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	s = strings.NewReplacer(":", "", " ", "").Replace(s)
	if s == "" || len(s) > 128 {
		return "", fmt.Errorf("certificate serial %q: not a hex number", orig)
	}
	n, ok := new(big.Int).SetString(s, 16)
	if !ok || n.Sign() <= 0 || len(n.Bytes()) > 20 {
		return "", fmt.Errorf("certificate serial %q: not a positive hex number of at most 20 bytes", orig)
	}
	return SerialHex(n), nil
}

// AgentURI is the identity URI placed in an agent's certificate.
func AgentURI(clusterID, agentID string) *url.URL {
	return &url.URL{Scheme: "palisade", Host: "agent", Path: "/" + clusterID + "/" + agentID}
}

// issueClient signs a client certificate for the CSR's key. Only ECDSA
// P-256 and ed25519 keys are accepted; the subject is set by the hub, never
// taken from the CSR.
func (a *authority) issueClient(csrPEM []byte, clusterID, agentID string, notBefore time.Time, ttl time.Duration) (*x509.Certificate, []byte, error) {
	blk, _ := pem.Decode(csrPEM)
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		return nil, nil, errors.New("csr: not a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("csr: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, nil, fmt.Errorf("csr: %w", err)
	}
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, nil, errors.New("csr: ECDSA key must be P-256")
		}
	case ed25519.PublicKey:
	default:
		return nil, nil, fmt.Errorf("csr: key type %T not accepted (ECDSA P-256 or ed25519)", csr.PublicKey)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "agent:" + agentID, Organization: []string{"palisade-agents"}, OrganizationalUnit: []string{clusterID}},
		URIs:         []*url.URL{AgentURI(clusterID, agentID)},
		NotBefore:    notBefore.Add(-time.Minute), // clock skew
		NotAfter:     notBefore.Add(ttl),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, csr.PublicKey, a.key)
	if err != nil {
		return nil, nil, fmt.Errorf("sign agent certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// servingCert issues this replica's TLS certificate for hosts (names or IPs).
func (a *authority) servingCert(hosts []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := newSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "palisade-hub"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, a.cert.Raw}, PrivateKey: key}, nil
}

func newBundleKeyPEM() ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func parseBundleKey(b []byte) (ed25519.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("bundle key: no PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("bundle key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("bundle key: not ed25519")
	}
	return priv, nil
}

// PublicKeyPEM encodes an ed25519 public key (PKIX).
func PublicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
