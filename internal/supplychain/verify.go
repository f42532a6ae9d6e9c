package supplychain

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Verifier checks evidence against signers. It holds no mutable state and
// is safe for concurrent use.
type Verifier struct {
	// Root is the trusted root for keyless signers and for timestamps and
	// log entries; nil allows keyed signers only.
	Root *TrustedRoot
}

// Verified is one piece of evidence that verified for a signer.
type Verified struct {
	Signer   string
	Evidence *Evidence
	// Statement is a verified attestation's in-toto statement (JSON).
	Statement []byte
	// Timestamps are the verified times (log entries, RFC 3161).
	Timestamps []time.Time
}

// errNoRoot is returned for a keyless signer without a trusted root.
var errNoRoot = errors.New("keyless signer but no trusted root is configured (--trusted-root or trustedRoot)")

// Check verifies one piece of evidence for digest ("sha256:<hex>") against
// one signer. A simple-signing payload must also name the digest; a
// statement must have it as a subject.
func (v *Verifier) Check(ev *Evidence, s Signer, digest string) (*Verified, error) {
	if ev.Err != nil {
		return nil, ev.Err
	}
	if ev.Bundle == nil {
		return nil, errors.New("no bundle")
	}
	alg, hexDigest, ok := strings.Cut(digest, ":")
	if !ok || alg != "sha256" {
		return nil, fmt.Errorf("digest %q is not sha256", digest)
	}
	digestBytes, err := hex.DecodeString(hexDigest)
	if err != nil || len(digestBytes) != sha256.Size {
		return nil, fmt.Errorf("digest %q is not sha256", digest)
	}

	var (
		tm       root.TrustedMaterial
		vopts    []verify.VerifierOption
		identity verify.PolicyOption
	)
	switch {
	case s.Key != nil:
		keyMaterial, err := keyTrust(s.Key)
		if err != nil {
			return nil, err
		}
		tm = keyMaterial
		if v.Root != nil {
			tm = root.TrustedMaterialCollection{v.Root.TrustedRoot, keyMaterial}
		}
		// A key does not expire: with no log entry or timestamp in
		// the evidence (cosign --tlog-upload=false), now is the time.
		vopts = append(vopts, verify.WithCurrentTime())
		if v.Root != nil && hasTlog(ev) {
			vopts = append(vopts, verify.WithTransparencyLog(1))
		}
		identity = verify.WithKey()
	case s.Identity != nil:
		if v.Root == nil {
			return nil, errNoRoot
		}
		id, err := s.Identity.compile()
		if err != nil {
			return nil, fmt.Errorf("signer %s: %w", s.Name, err)
		}
		tm = v.Root.TrustedRoot
		// A Fulcio certificate lives ten minutes: it needs a time
		// observed by a log or a timestamp authority, never now.
		vopts = append(vopts, verify.WithObserverTimestamps(1))
		// Log entries the evidence carries must verify (sigstore-go
		// ignores them otherwise); a signed entry timestamp is then an
		// observed time. Without one, an RFC 3161 timestamp must do.
		if hasTlog(ev) {
			vopts = append(vopts, verify.WithTransparencyLog(1))
		}
		if len(v.Root.CTLogs()) > 0 {
			vopts = append(vopts, verify.WithSignedCertificateTimestamps(1))
		}
		identity = verify.WithCertificateIdentity(id)
	default:
		return nil, fmt.Errorf("signer %s has neither a key nor an identity", s.Name)
	}
	verifier, err := verify.NewVerifier(tm, vopts...)
	if err != nil {
		return nil, err
	}

	var artifact verify.ArtifactPolicyOption
	switch {
	case ev.Format == FormatSimpleSigning || (ev.Bundle.GetMessageSignature() != nil && ev.Payload != nil):
		artifact = verify.WithArtifact(bytes.NewReader(ev.Payload))
	case ev.Bundle.GetDsseEnvelope() != nil:
		artifact = verify.WithArtifactDigest("sha256", digestBytes)
	default:
		return nil, errors.New("a message signature without its payload cannot be tied to the image")
	}
	res, err := verifier.Verify(ev.Bundle, verify.NewPolicy(artifact, identity))
	if err != nil {
		return nil, err
	}
	out := &Verified{Signer: s.Name, Evidence: ev}
	for _, t := range res.VerifiedTimestamps {
		out.Timestamps = append(out.Timestamps, t.Timestamp)
	}
	if ev.EnvelopeTimestamp != nil {
		t, err := v.envelopeTimestamp(ev)
		if err != nil {
			return nil, err
		}
		out.Timestamps = append(out.Timestamps, t)
	}
	if ev.Payload != nil {
		if err := checkSimpleSigning(ev.Payload, digest); err != nil {
			return nil, err
		}
	}
	if ev.Bundle.GetDsseEnvelope() != nil {
		raw, _, err := statementOf(ev.Bundle)
		if err != nil {
			return nil, err
		}
		out.Statement = raw
	}
	return out, nil
}

// envelopeTimestamp verifies a legacy keyless attestation's RFC 3161
// token over its envelope against the trusted root's timestamp
// authorities: a token that does not verify refuses the evidence, as a
// bad timestamp in a bundle does.
func (v *Verifier) envelopeTimestamp(ev *Evidence) (time.Time, error) {
	if v.Root == nil {
		return time.Time{}, errors.New("RFC 3161 timestamp: no trusted root to verify it")
	}
	var errs []error
	for _, tsa := range v.Root.TimestampingAuthorities() {
		ts, err := tsa.Verify(ev.EnvelopeTimestamp, ev.Envelope)
		if err == nil {
			return ts.Time, nil
		}
		errs = append(errs, err)
	}
	return time.Time{}, fmt.Errorf("RFC 3161 timestamp (%s) does not verify against the trusted root's timestamp authorities: %w", AnnTimestamp, errors.Join(errs...))
}

func hasTlog(ev *Evidence) bool {
	return len(ev.Bundle.GetVerificationMaterial().GetTlogEntries()) > 0
}

// keyTrust makes a key into trusted material that answers every key hint
// with that key: evidence names no key, the policy does.
func keyTrust(k crypto.PublicKey) (root.TrustedMaterial, error) {
	sv, err := signature.LoadVerifier(k, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", KeyID(k), err)
	}
	ek := root.NewExpiringKey(sv, time.Time{}, time.Time{})
	return root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return ek, nil }), nil
}

// simpleSigning is cosign's signed payload for an image.
type simpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
}

// simpleSigningType is the critical.type of a container image signature.
const simpleSigningType = "cosign container image signature"

// checkSimpleSigning ties a verified simple-signing payload to digest:
// this is the check sigstore-go has no equivalent for.
func checkSimpleSigning(payload []byte, digest string) error {
	var p simpleSigning
	if err := json.Unmarshal(payload, &p); err != nil {
		return fmt.Errorf("signed payload is not simple-signing JSON: %w", err)
	}
	if p.Critical.Type != simpleSigningType {
		return fmt.Errorf("signed payload has type %q, want %q", p.Critical.Type, simpleSigningType)
	}
	if got := p.Critical.Image.DockerManifestDigest; got != digest {
		return fmt.Errorf("signature is for digest %s, not %s", got, digest)
	}
	return nil
}
