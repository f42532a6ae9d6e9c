package supplychain

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// MaxTrustedRoot bounds a trusted_root.json file (the public-good one is
// about 10 KiB).
const MaxTrustedRoot = 4 << 20

// TrustedRoot is a loaded trusted_root.json: the Fulcio roots, Rekor and CT
// log keys and timestamp authorities keyless verification trusts.
type TrustedRoot struct {
	*root.TrustedRoot
	// Path is the file it came from.
	Path string
	// ModTime is the file's modification time: how old the trust is.
	ModTime time.Time
}

// LoadTrustedRoot reads a trusted_root.json (Sigstore's TUF target of that
// name, or one written for a private Sigstore deployment).
func LoadTrustedRoot(path string) (*TrustedRoot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("trusted root %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("trusted root %s: %w", path, err)
	}
	if st.Size() > MaxTrustedRoot {
		return nil, fmt.Errorf("trusted root %s: %d bytes, over the %d-byte limit", path, st.Size(), MaxTrustedRoot)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("trusted root %s: %w", path, err)
	}
	return ParseTrustedRoot(data, path, st.ModTime())
}

// ParseTrustedRoot reads trusted_root.json content. source names it in
// errors and in TrustedRoot.Path; updated is when it was written, the
// origin of its age.
func ParseTrustedRoot(data []byte, source string, updated time.Time) (*TrustedRoot, error) {
	if len(data) > MaxTrustedRoot {
		return nil, fmt.Errorf("trusted root %s: %d bytes, over the %d-byte limit", source, len(data), MaxTrustedRoot)
	}
	if err := checkDepth(data, MaxJSONDepth); err != nil {
		return nil, fmt.Errorf("trusted root %s: %w", source, err)
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("trusted root %s: %w", source, err)
	}
	if len(tr.FulcioCertificateAuthorities()) == 0 && len(tr.TimestampingAuthorities()) == 0 && len(tr.RekorLogs()) == 0 {
		return nil, fmt.Errorf("trusted root %s: no certificate authority, timestamp authority or transparency log in it", source)
	}
	return &TrustedRoot{TrustedRoot: tr, Path: source, ModTime: updated}, nil
}

// InlineTrustedRoot is the TrustedRoot.Path of a trusted root written in
// its policy.
const InlineTrustedRoot = "inline"

// ResolveTrustedRoot reads a policy's trustedRoot value: the
// trusted_root.json content inline (a JSON object: what a fleet bundle
// carries, so an edge cluster needs nothing else), or a file path relative
// to baseDir ("" allows no file). updated is when the policy was written:
// an inline root is as old as its policy.
func ResolveTrustedRoot(value, baseDir string, updated time.Time) (*TrustedRoot, error) {
	v := strings.TrimSpace(value)
	if strings.HasPrefix(v, "{") {
		return ParseTrustedRoot([]byte(v), InlineTrustedRoot, updated)
	}
	if baseDir == "" {
		return nil, fmt.Errorf("a trusted root file cannot be used here (a fleet bundle is self-contained): put the trusted_root.json content inline")
	}
	if !filepath.IsAbs(v) {
		v = filepath.Join(baseDir, v)
	}
	return LoadTrustedRoot(v)
}

// Age is how long ago the trusted root file was written.
func (t *TrustedRoot) Age(now time.Time) time.Duration {
	if t == nil || t.ModTime.IsZero() {
		return 0
	}
	return now.Sub(t.ModTime)
}

// Signer is one trusted signer: a public key, or a keyless identity (a
// Fulcio certificate's subject, issuer and extensions). Exactly one of Key
// and Identity is set.
type Signer struct {
	// Name names the signer in decisions ("release key", "GitHub release
	// workflow").
	Name     string
	Key      crypto.PublicKey
	Identity *Identity
}

// Identity is what a keyless signer's certificate must say. Subject and
// Issuer are compared exactly, SubjectRegexp and IssuerRegexp as regular
// expressions anchored by the writer; at least one subject and one issuer
// matcher are required. Claims are Fulcio certificate extensions compared
// exactly when set (sourceRepositoryURI, sourceRepositoryRef,
// buildSignerURI, buildTrigger, githubWorkflowRepository, …).
type Identity struct {
	Subject       string                 `json:"subject,omitempty"`
	SubjectRegexp string                 `json:"subjectRegexp,omitempty"`
	Issuer        string                 `json:"issuer,omitempty"`
	IssuerRegexp  string                 `json:"issuerRegexp,omitempty"`
	Claims        certificate.Extensions `json:"claims,omitzero"`
}

// compile turns the identity into sigstore-go's matcher.
func (id *Identity) compile() (verify.CertificateIdentity, error) {
	if id.Subject == "" && id.SubjectRegexp == "" {
		return verify.CertificateIdentity{}, fmt.Errorf("a keyless identity needs subject or subjectRegexp")
	}
	if id.Issuer == "" && id.IssuerRegexp == "" {
		return verify.CertificateIdentity{}, fmt.Errorf("a keyless identity needs issuer or issuerRegexp")
	}
	for _, re := range []string{id.SubjectRegexp, id.IssuerRegexp} {
		if re == "" {
			continue
		}
		if _, err := regexp.Compile(re); err != nil {
			return verify.CertificateIdentity{}, fmt.Errorf("regexp %q: %w", re, err)
		}
	}
	san, err := verify.NewSANMatcher(id.Subject, id.SubjectRegexp)
	if err != nil {
		return verify.CertificateIdentity{}, err
	}
	iss, err := verify.NewIssuerMatcher(id.Issuer, id.IssuerRegexp)
	if err != nil {
		return verify.CertificateIdentity{}, err
	}
	return verify.NewCertificateIdentity(san, iss, id.Claims)
}

// String describes the identity for decisions.
func (id *Identity) String() string {
	s := id.Subject
	if s == "" {
		s = "~" + id.SubjectRegexp
	}
	i := id.Issuer
	if i == "" {
		i = "~" + id.IssuerRegexp
	}
	return s + " from " + i
}

// SecretReader reads a Kubernetes Secret's data; the admission webhook and
// the agent pass one backed by the API server. Keys named
// "k8s://namespace/name[/field]" are read through it.
type SecretReader interface {
	SecretData(ctx context.Context, namespace, name string) (map[string][]byte, error)
}

// kmsSchemes are the key URIs cosign understands that need a KMS service.
// Offline verification cannot call one: the key must be exported once
// ("cosign public-key --key URI > key.pub") and given as a file.
var kmsSchemes = []string{"awskms://", "gcpkms://", "azurekms://", "hashivault://"}

// ResolveKey reads a public key from a PEM file path, inline PEM, or a
// "k8s://namespace/name[/field]" Secret (field defaults to "cosign.pub",
// as cosign writes it). KMS URIs are refused with the way to export the
// key: no KMS is reachable offline.
func ResolveKey(ctx context.Context, ref string, secrets SecretReader) (crypto.PublicKey, error) {
	ref = strings.TrimSpace(ref)
	switch {
	case strings.HasPrefix(ref, "-----BEGIN"):
		return ParsePublicKey([]byte(ref))
	case strings.HasPrefix(ref, "k8s://"):
		parts := strings.Split(strings.TrimPrefix(ref, "k8s://"), "/")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("key %s: want k8s://namespace/name[/field]", ref)
		}
		if secrets == nil {
			return nil, fmt.Errorf("key %s: Kubernetes Secrets are not readable here (no cluster connection)", ref)
		}
		field := "cosign.pub"
		if len(parts) == 3 {
			field = parts[2]
		}
		data, err := secrets.SecretData(ctx, parts[0], parts[1])
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", ref, err)
		}
		pemData, ok := data[field]
		if !ok {
			return nil, fmt.Errorf("key %s: secret has no field %q", ref, field)
		}
		k, err := ParsePublicKey(pemData)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", ref, err)
		}
		return k, nil
	}
	for _, s := range kmsSchemes {
		if strings.HasPrefix(ref, s) {
			return nil, fmt.Errorf("key %s: a KMS is not reachable for offline verification; export the public key once with 'cosign public-key --key %s > key.pub' and name the file", ref, ref)
		}
	}
	data, err := os.ReadFile(ref)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", ref, err)
	}
	k, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", ref, err)
	}
	return k, nil
}

// ParsePublicKey reads a PEM "PUBLIC KEY" (PKIX) block holding an ECDSA
// (P-256, P-384, P-521), Ed25519 or RSA (2048 bits or more) key, the
// formats cosign writes.
func ParsePublicKey(data []byte) (crypto.PublicKey, error) {
	block, rest := pem.Decode(data)
	// openssl writes the curve's parameters before an EC key.
	for block != nil && block.Type == "EC PARAMETERS" {
		block, rest = pem.Decode(rest)
	}
	if block == nil {
		return nil, fmt.Errorf("no PEM block")
	}
	switch {
	case block.Type == "PUBLIC KEY":
	case strings.Contains(block.Type, "PRIVATE KEY"):
		// Never echo any of it: the message names the block type only.
		return nil, fmt.Errorf("PEM block %q is a private key: give the public key (cosign public-key --key FILE, or openssl pkey -pubout)", block.Type)
	case block.Type == "CERTIFICATE":
		return nil, fmt.Errorf("PEM block %q is a certificate, not a key: for a keyless signer give its identity and issuer; for a key, extract it (openssl x509 -pubkey -noout)", block.Type)
	default:
		return nil, fmt.Errorf("PEM block %q, want \"PUBLIC KEY\" (PKIX, as cosign writes it)", block.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey, ed25519.PublicKey:
		return pub, nil
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA key of %d bits: at least 2048 are required", k.N.BitLen())
		}
		return pub, nil
	}
	return nil, fmt.Errorf("unsupported public key type %T", pub)
}

// KeyID identifies a public key in cache keys and reports: the first 16
// hex digits of the SHA-256 of its PKIX encoding.
func KeyID(k crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return "invalid"
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:8])
}
