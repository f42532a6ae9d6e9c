package agent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// identity is the agent's enrolled identity: its key and certificate,
// the pinned hub CA and the bundle-signing key, kept in the state
// directory (0600) so a restart does not need a new token.
type identity struct {
	dir string
	// now is the agent's clock (Config.Now).
	now func() time.Time

	// received is when, by the agent's clock, the certificate arrived
	// (its file's time after a restart). Renewal is scheduled from it,
	// not from the certificate's NotBefore: that is the hub's clock, and
	// an agent an hour ahead of a hub issuing 90-minute certificates
	// would otherwise see each new certificate two thirds gone and renew
	// it again and again (an hour behind: renew after it expired).
	received time.Time

	mu        sync.RWMutex
	cert      *tls.Certificate
	leaf      *x509.Certificate
	ca        *x509.Certificate
	bundleKey []byte // PEM
	meta      identityMeta
}

type identityMeta struct {
	Hub         string `json:"hub"`
	ClusterID   string `json:"clusterID"`
	ClusterName string `json:"clusterName"`
	AgentID     string `json:"agentID"`
}

const (
	fileKey       = "agent-key.pem"
	fileCert      = "agent-cert.pem"
	fileCA        = "hub-ca.pem"
	fileBundleKey = "bundle-key.pem"
	fileIdentity  = "identity.json"
)

// parseFingerprint accepts "sha256:<64 hex>".
func parseFingerprint(s string) ([]byte, error) {
	h, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(s)), "sha256:")
	b, err := hex.DecodeString(h)
	if !ok || err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("hub CA fingerprint %q: want sha256:<64 hex digits>", s)
	}
	return b, nil
}

// pinnedTLS verifies the hub's chain against the CA whose certificate has
// the pinned fingerprint (found among the certificates the hub presents),
// including the host name, and presents the identity's client certificate
// when there is one.
func pinnedTLS(pin []byte, serverName string, id *identity, now func() time.Time) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: serverName,
		// AgentALPN asks a hub that serves an operator's certificate to
		// browsers for the one of its CA; http/1.1 is what is spoken.
		NextProtos: []string{fleetapi.AgentALPN, "http/1.1"},
		// Verification is not skipped: VerifyConnection does it against the
		// pinned CA instead of the system roots.
		InsecureSkipVerify: true, //nolint:gosec // replaced by VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("hub presented no certificate")
			}
			var root *x509.Certificate
			for _, c := range cs.PeerCertificates {
				s := sha256.Sum256(c.Raw)
				if bytes.Equal(s[:], pin) && c.IsCA {
					root = c
				}
			}
			if root == nil {
				return errors.New("hub certificate chain does not contain the pinned CA (wrong --hub-ca-fingerprint, or not the hub)")
			}
			roots := x509.NewCertPool()
			roots.AddCert(root)
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: serverName, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
				CurrentTime: now()})
			if err != nil {
				return fmt.Errorf("hub certificate: %w", err)
			}
			return nil
		},
		// Resumption: see identitySessions.
		ClientSessionCache: newIdentitySessions(id),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if id == nil {
				return &tls.Certificate{}, nil
			}
			id.mu.RLock()
			defer id.mu.RUnlock()
			if id.cert == nil {
				return &tls.Certificate{}, nil
			}
			return id.cert, nil
		},
	}
}

// loadIdentity reads a saved identity; ok is false when there is none.
func loadIdentity(dir string, pin []byte, now func() time.Time) (*identity, bool, error) {
	id := &identity{dir: dir, now: now}
	raw, err := os.ReadFile(filepath.Join(dir, fileIdentity))
	if errors.Is(err, os.ErrNotExist) {
		return id, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if err := json.Unmarshal(raw, &id.meta); err != nil {
		return nil, false, fmt.Errorf("identity: %w", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, fileCA))
	if err != nil {
		return nil, false, fmt.Errorf("identity: %w", err)
	}
	if id.ca, err = parseCertPEM(caPEM); err != nil {
		return nil, false, fmt.Errorf("identity: hub CA: %w", err)
	}
	if s := sha256.Sum256(id.ca.Raw); !bytes.Equal(s[:], pin) {
		return nil, false, errors.New("identity: the saved hub CA does not match --hub-ca-fingerprint")
	}
	certPEM, err1 := os.ReadFile(filepath.Join(dir, fileCert))
	keyPEM, err2 := os.ReadFile(filepath.Join(dir, fileKey))
	if err := errors.Join(err1, err2); err != nil {
		return nil, false, fmt.Errorf("identity: %w", err)
	}
	if err := id.setCert(certPEM, keyPEM); err != nil {
		return nil, false, err
	}
	if fi, err := os.Stat(filepath.Join(dir, fileCert)); err == nil {
		id.received = fi.ModTime()
	}
	if id.bundleKey, err = os.ReadFile(filepath.Join(dir, fileBundleKey)); err != nil {
		return nil, false, fmt.Errorf("identity: %w", err)
	}
	return id, true, nil
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(blk.Bytes)
}

func (id *identity) setCert(certPEM, keyPEM []byte) error {
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	leaf, err := parseCertPEM(certPEM)
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	id.mu.Lock()
	id.cert, id.leaf = &c, leaf
	id.mu.Unlock()
	return nil
}

// lifetime is the certificate's validity on the agent's clock: from its
// receipt for as long as the hub made it valid. (The receipt is at or
// after the hub's NotBefore in real time, so this ends at or after the
// real expiry by the request's round trip and the hub's backdating, at
// most a minute: renewal at two thirds of it is still well before.)
func (id *identity) lifetime() (from, until time.Time) {
	id.mu.RLock()
	defer id.mu.RUnlock()
	if id.leaf == nil {
		return time.Time{}, time.Time{}
	}
	life := id.leaf.NotAfter.Sub(id.leaf.NotBefore)
	from = id.received
	if from.IsZero() {
		from = id.leaf.NotBefore
	}
	return from, from.Add(life)
}

// writeFileAtomic writes via a temporary file and rename, so a crash
// leaves the old or the new file, never half of one.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// newKeyAndCSR generates an ECDSA P-256 key and a CSR for it. The hub sets
// the certificate's subject; the CSR's is informational.
func newKeyAndCSR() (keyPEM, csrPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "palisade-agent"}}, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// save persists the identity after enrolment or renewal.
func (id *identity) save(resp *fleetapi.EnrollResponse, keyPEM []byte, pin []byte, hub string) error {
	ca, err := parseCertPEM([]byte(resp.CA))
	if err != nil {
		return fmt.Errorf("hub CA: %w", err)
	}
	if s := sha256.Sum256(ca.Raw); !bytes.Equal(s[:], pin) {
		return errors.New("the hub returned a CA that does not match --hub-ca-fingerprint")
	}
	if err := id.setCert([]byte(resp.Certificate), keyPEM); err != nil {
		return err
	}
	id.mu.Lock()
	id.received = time.Now()
	if id.now != nil {
		id.received = id.now()
	}
	id.ca, id.bundleKey = ca, []byte(resp.BundleKey)
	id.meta = identityMeta{Hub: hub, ClusterID: resp.ClusterID, ClusterName: resp.ClusterName, AgentID: resp.AgentID}
	meta := id.meta
	id.mu.Unlock()
	raw, _ := json.MarshalIndent(meta, "", "  ")
	// Key before certificate: a crash between the two leaves a key with the
	// old certificate, detected by X509KeyPair at the next start.
	for _, f := range []struct {
		name string
		data []byte
	}{{fileKey, keyPEM}, {fileCert, []byte(resp.Certificate)}, {fileCA, []byte(resp.CA)}, {fileBundleKey, []byte(resp.BundleKey)}, {fileIdentity, raw}} {
		if err := writeFileAtomic(filepath.Join(id.dir, f.name), f.data); err != nil {
			return fmt.Errorf("identity: %w", err)
		}
	}
	return nil
}

// hubClient calls the hub API.
type hubClient struct {
	base string
	http *http.Client
}

func newHubClient(hubURL string, pin []byte, id *identity, now func() time.Time) (*hubClient, error) {
	u, err := url.Parse(hubURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("hub URL %q: want https://host:port", hubURL)
	}
	tr := &http.Transport{
		TLSClientConfig:     pinnedTLS(pin, u.Hostname(), id, now),
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &hubClient{base: strings.TrimSuffix(hubURL, "/"), http: &http.Client{Transport: tr, Timeout: 60 * time.Second}}, nil
}

// HTTPError is a non-2xx answer from the hub.
type HTTPError struct {
	Status int
	Msg    string
	// RetryAfter is the hub's Retry-After (429, 503), zero if none.
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string { return fmt.Sprintf("hub: HTTP %d: %s", e.Status, e.Msg) }

// do posts (or gets, when in is nil and method GET) JSON.
func (c *hubClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	gz, isGzip := in.(gzipJSON)
	if isGzip {
		body = bytes.NewReader(gz)
	} else if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if isGzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if idempotentPaths[path] {
		// Present but empty: not sent, but it lets the HTTP transport send
		// the request again on a new connection when the hub closed the
		// kept-alive one as it was reused (its idle timeout, a replica
		// shutting down, idle connections shed under memory pressure),
		// instead of failing it with EOF.
		req.Header["Idempotency-Key"] = nil
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("hub %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e fleetapi.Error
		_ = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&e)
		he := &HTTPError{Status: resp.StatusCode, Msg: e.Error}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			he.RetryAfter = time.Duration(s) * time.Second
		}
		return he
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	lr := &io.LimitedReader{R: resp.Body, N: maxHubResponseBytes + 1}
	if err := json.NewDecoder(lr).Decode(out); err != nil {
		if lr.N <= 0 {
			return fmt.Errorf("hub %s: answer over %d bytes", path, maxHubResponseBytes)
		}
		return fmt.Errorf("hub %s: %w", path, err)
	}
	return nil
}

// idempotentPaths are the requests the hub may receive twice without
// effect: reports are deduplicated by (agent, seq), a heartbeat repeats
// state. Enrolment (a single-use token) and renewal are not.
var idempotentPaths = map[string]bool{
	fleetapi.PathReports:     true,
	fleetapi.PathReportBatch: true,
	fleetapi.PathHeartbeat:   true,
}

// maxHubResponseBytes bounds a JSON answer of the hub, decoded in memory:
// the largest is the bundle list, whose inline contents are at most
// fleetapi.MaxInlineBundleBytes each (larger ones are fetched apart,
// streamed to disk).
const maxHubResponseBytes = 16 << 20

// gzipJSON is a request body already encoded as gzip-compressed JSON.
type gzipJSON []byte

func (c *hubClient) closeIdle() { c.http.CloseIdleConnections() }
