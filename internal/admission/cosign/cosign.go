// Package cosign reads, verifies and (for tests and benchmarks) writes
// cosign signatures in the "simple signing" format, fully offline: the
// signature of an image with digest sha256:<hex> is an OCI manifest under
// the tag "sha256-<hex>.sig" in the image's repository; each layer is a
// JSON payload naming the signed digest, with the base64 signature of the
// payload in the layer annotation "dev.cosignproject.cosign/signature".
//
// Verification needs only the registry and the public keys: no
// transparency log and no certificate authority.
package cosign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Media type and annotation of a simple-signing signature layer.
const (
	MediaType           = "application/vnd.dev.cosign.simplesigning.v1+json"
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
	payloadType         = "cosign container image signature"
)

// MaxPayload bounds one signature payload; real ones are a few hundred bytes.
const MaxPayload = 64 << 10

// MaxSignatures bounds the layers read from one signature manifest.
const MaxSignatures = 32

// Signature is one signature layer: the payload and its signature.
type Signature struct {
	Payload   []byte
	Signature []byte
}

// SignatureTag returns the tag cosign stores the signatures of a digest
// under: "sha256:abc" becomes "sha256-abc.sig".
func SignatureTag(digest string) string {
	return strings.Replace(digest, ":", "-", 1) + ".sig"
}

// payload is the simple-signing document.
type payload struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// Payload returns the simple-signing payload for a repository
// ("registry/repo") and digest.
func Payload(repository, digest string) []byte {
	var p payload
	p.Critical.Identity.DockerReference = repository
	p.Critical.Image.DockerManifestDigest = digest
	p.Critical.Type = payloadType
	out, _ := json.Marshal(p) // only strings: cannot fail
	return out
}

// Sign signs a payload as cosign does: ECDSA and RSA over its SHA-256
// (ASN.1 and PKCS #1 v1.5 signatures), Ed25519 over the payload itself.
func Sign(key crypto.Signer, data []byte) ([]byte, error) {
	switch key.(type) {
	case ed25519.PrivateKey:
		return key.Sign(rand.Reader, data, crypto.Hash(0))
	case *ecdsa.PrivateKey, *rsa.PrivateKey:
		sum := sha256.Sum256(data)
		return key.Sign(rand.Reader, sum[:], crypto.SHA256)
	}
	return nil, fmt.Errorf("unsupported signing key type %T", key)
}

// VerifySignature checks a signature over data with a public key.
func VerifySignature(pub crypto.PublicKey, data, sig []byte) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		sum := sha256.Sum256(data)
		if !ecdsa.VerifyASN1(k, sum[:], sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	case ed25519.PublicKey:
		if !ed25519.Verify(k, data, sig) {
			return errors.New("Ed25519 signature does not verify")
		}
		return nil
	case *rsa.PublicKey:
		sum := sha256.Sum256(data)
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig); err != nil {
			return fmt.Errorf("RSA signature does not verify: %w", err)
		}
		return nil
	}
	return fmt.Errorf("unsupported public key type %T", pub)
}

// Verify checks that sig is a valid signature, made with pub, of a
// payload that names digest. It returns the payload's docker-reference.
func Verify(pub crypto.PublicKey, s Signature, digest string) (string, error) {
	if err := VerifySignature(pub, s.Payload, s.Signature); err != nil {
		return "", err
	}
	var p payload
	if err := json.Unmarshal(s.Payload, &p); err != nil {
		return "", fmt.Errorf("signed payload is not simple-signing JSON: %w", err)
	}
	if p.Critical.Type != payloadType {
		return "", fmt.Errorf("signed payload has type %q, want %q", p.Critical.Type, payloadType)
	}
	if got := p.Critical.Image.DockerManifestDigest; got != digest {
		return "", fmt.Errorf("signature is for digest %s, not %s", got, digest)
	}
	return p.Critical.Identity.DockerReference, nil
}
