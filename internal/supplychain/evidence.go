package supplychain

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/sigstore/sigstore-go/pkg/bundle"
)

// Limits on what one image's evidence may make Fetch read.
const (
	// MaxReferrers bounds the Sigstore bundles read from the referrers
	// of one digest; more are reported, not read.
	MaxReferrers = 64
	// MaxLayers bounds the layers read from one legacy .sig or .att
	// manifest (each is one signature or attestation).
	MaxLayers = 32
	// MaxBundle bounds one bundle or DSSE envelope (an SBOM attestation
	// of a large image is a few MiB).
	MaxBundle = 16 << 20
	// MaxPayload bounds one legacy simple-signing payload.
	MaxPayload = 64 << 10
)

// Media types and annotations of cosign's layouts.
const (
	BundleMediaTypePrefix = "application/vnd.dev.sigstore.bundle"
	SimpleSigningType     = "application/vnd.dev.cosign.simplesigning.v1+json"
	DSSEType              = "application/vnd.dsse.envelope.v1+json"
	annSignature          = "dev.cosignproject.cosign/signature"
	annCertificate        = "dev.sigstore.cosign/certificate"
)

// Kind says what a piece of evidence claims to be.
type Kind string

// Kinds of evidence.
const (
	KindSignature   Kind = "signature"
	KindAttestation Kind = "attestation"
)

// Format is the layout the evidence was found in.
type Format string

// Formats.
const (
	FormatSimpleSigning Format = "simple-signing" // legacy .sig layer
	FormatDSSE          Format = "dsse"           // legacy .att layer
	FormatBundle        Format = "bundle"         // Sigstore bundle (referrer)
)

// Evidence is one signature or attestation found for a digest, normalised
// to a Sigstore bundle. Evidence that could not be read carries Err and no
// bundle: it is reported, never trusted.
type Evidence struct {
	Kind   Kind
	Format Format
	// Source says where it was found ("tag sha256-….sig layer 0",
	// "referrer sha256:…").
	Source string
	Bundle *bundle.Bundle
	// Payload is a legacy simple-signing payload: the signed bytes.
	Payload []byte
	// PredicateType is an attestation's in-toto predicate type, read
	// before verification to choose what to verify; trust it only
	// after verification.
	PredicateType string
	// Envelope and EnvelopeTimestamp are a legacy keyless attestation
	// layer's DSSE envelope (JSON, as signed by the timestamp authority)
	// and its RFC 3161 token over it, which Check verifies apart.
	Envelope          []byte
	EnvelopeTimestamp []byte
	Err               error
}

// Fetch reads the evidence a registry holds for digest in repo: the
// legacy .sig and .att tags and the referrers (OCI 1.1 API, or the
// "sha256-<hex>" tag-schema index where the registry has no such API).
// Nothing found is no error; a registry that fails is.
func Fetch(ctx context.Context, repo name.Repository, digest string, opts ...remote.Option) ([]Evidence, error) {
	if _, err := v1.NewHash(digest); err != nil {
		return nil, fmt.Errorf("digest %q: %w", digest, err)
	}
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	tagBase := strings.Replace(digest, ":", "-", 1)
	var out []Evidence
	for _, l := range []struct {
		suffix string
		kind   Kind
	}{{".sig", KindSignature}, {".att", KindAttestation}} {
		ev, err := fetchLegacy(repo.Tag(tagBase+l.suffix), l.kind, opts)
		if err != nil {
			return nil, fmt.Errorf("%s@%s: %w", repo, digest, err)
		}
		out = append(out, ev...)
	}
	ev, err := fetchReferrers(repo.Digest(digest), opts)
	if err != nil {
		return nil, fmt.Errorf("%s@%s: referrers: %w", repo, digest, err)
	}
	return append(out, ev...), nil
}

func fetchLegacy(tag name.Tag, kind Kind, opts []remote.Option) ([]Evidence, error) {
	img, err := remote.Image(tag, opts...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("tag %s: %w", tag.TagStr(), err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("tag %s: manifest: %w", tag.TagStr(), err)
	}
	var out []Evidence
	for i, l := range m.Layers {
		src := fmt.Sprintf("tag %s layer %d", tag.TagStr(), i)
		if i == MaxLayers {
			out = append(out, Evidence{Kind: kind, Source: src, Err: fmt.Errorf("%d layers, only the first %d are read", len(m.Layers), MaxLayers)})
			break
		}
		ev := Evidence{Kind: kind, Source: src}
		switch {
		case l.Annotations[annCertificate] != "" && kind == KindSignature && l.MediaType == SimpleSigningType:
			ev.Format = FormatSimpleSigning
			ev.Payload, ev.Bundle, ev.Err = legacyKeylessSignature(img, l)
		case l.Annotations[annCertificate] != "" && kind == KindAttestation && l.MediaType == DSSEType:
			lk := legacyKeylessAttestation(img, l)
			ev.Format, ev.Bundle, ev.PredicateType, ev.Envelope, ev.EnvelopeTimestamp, ev.Err = FormatDSSE, lk.Bundle, lk.PredicateType, lk.Envelope, lk.EnvelopeTimestamp, lk.Err
		case l.Annotations[annCertificate] != "":
			ev.Err = fmt.Errorf("keyless layer of media type %q is not a %s cosign writes", l.MediaType, kind)
		case kind == KindSignature && l.MediaType == SimpleSigningType:
			ev.Format = FormatSimpleSigning
			ev.Payload, ev.Bundle, ev.Err = legacySignature(img, l)
		case kind == KindAttestation && l.MediaType == DSSEType:
			ev.Format = FormatDSSE
			ev.Bundle, ev.PredicateType, ev.Err = legacyAttestation(img, l)
		default:
			ev.Err = fmt.Errorf("layer of media type %q is not a %s cosign writes", l.MediaType, kind)
		}
		out = append(out, ev)
	}
	return out, nil
}

// readBlob reads a layer's blob, bounded, and checks it against its digest.
func readBlob(img v1.Image, d v1.Descriptor, limit int64) ([]byte, error) {
	if d.Size > limit {
		return nil, fmt.Errorf("blob %s is %d bytes, over the %d-byte limit", d.Digest, d.Size, limit)
	}
	layer, err := img.LayerByDigest(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("blob %s is over the %d-byte limit", d.Digest, limit)
	}
	if h, _, err := v1.SHA256(bytes.NewReader(data)); err != nil || h != d.Digest {
		return nil, fmt.Errorf("blob %s does not match its digest", d.Digest)
	}
	return data, nil
}

// legacySignature reads a simple-signing layer and wraps its signature in a
// keyed message-signature bundle over the payload.
func legacySignature(img v1.Image, l v1.Descriptor) ([]byte, *bundle.Bundle, error) {
	sig, err := base64.StdEncoding.DecodeString(l.Annotations[annSignature])
	if err != nil || len(sig) == 0 {
		return nil, nil, fmt.Errorf("annotation %s is missing or not base64", annSignature)
	}
	payload, err := readBlob(img, l, MaxPayload)
	if err != nil {
		return nil, nil, err
	}
	b, err := keyedMessageBundle(payload, sig)
	return payload, b, err
}

// legacyAttestation reads a DSSE layer and wraps it in a keyed bundle.
func legacyAttestation(img v1.Image, l v1.Descriptor) (*bundle.Bundle, string, error) {
	data, err := readBlob(img, l, MaxBundle)
	if err != nil {
		return nil, "", err
	}
	b, err := keyedEnvelopeBundle(data)
	if err != nil {
		return nil, "", err
	}
	pt, err := predicateTypeOf(b)
	return b, pt, err
}

// fetchReferrers reads the Sigstore bundles among the digest's referrers.
func fetchReferrers(d name.Digest, opts []remote.Option) ([]Evidence, error) {
	idx, err := remote.Referrers(d, opts...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []Evidence
	n := 0
	for _, desc := range im.Manifests {
		if !maybeBundle(desc.ArtifactType) {
			continue
		}
		src := "referrer " + desc.Digest.String()
		if n == MaxReferrers {
			out = append(out, Evidence{Source: src, Format: FormatBundle, Err: fmt.Errorf("more than %d candidate Sigstore bundles refer to the image; only the first %d are read", MaxReferrers, MaxReferrers)})
			break
		}
		n++
		if ev, ok := readReferrer(d.Context(), desc, src, opts); ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

// emptyArtifactType is what cosign 2.x's fallback index records for a
// bundle (the config's media type, not the manifest's artifactType), so
// such referrers are opened to see what they are.
const emptyArtifactType = "application/vnd.oci.empty.v1+json"

func maybeBundle(artifactType string) bool {
	return strings.HasPrefix(artifactType, BundleMediaTypePrefix) || artifactType == emptyArtifactType || artifactType == ""
}

// readReferrer reads one referrer; ok is false when it turns out not to be
// a Sigstore bundle (another tool's artifact), which is not evidence.
func readReferrer(repo name.Repository, desc v1.Descriptor, src string, opts []remote.Option) (Evidence, bool) {
	ev := Evidence{Source: src, Format: FormatBundle, Kind: KindAttestation}
	img, err := remote.Image(repo.Digest(desc.Digest.String()), opts...)
	if err != nil {
		ev.Err = err
		return ev, true
	}
	m, err := img.Manifest()
	if err != nil {
		ev.Err = err
		return ev, true
	}
	isBundle := strings.HasPrefix(m.ArtifactType, BundleMediaTypePrefix)
	for _, l := range m.Layers {
		isBundle = isBundle || strings.HasPrefix(string(l.MediaType), BundleMediaTypePrefix)
	}
	if !isBundle {
		return ev, false
	}
	if len(m.Layers) != 1 {
		ev.Err = fmt.Errorf("bundle manifest has %d layers, want 1", len(m.Layers))
		return ev, true
	}
	data, err := readBlob(img, m.Layers[0], MaxBundle)
	if err != nil {
		ev.Err = err
		return ev, true
	}
	ev.Bundle, err = ParseBundle(data)
	if err != nil {
		ev.Err = err
		return ev, true
	}
	ev.Kind, ev.PredicateType, ev.Err = classify(ev.Bundle)
	return ev, true
}

// SignPredicateType is the predicate of the in-toto statement cosign signs
// an image with in the bundle format: a signature, not an attestation.
const SignPredicateType = "https://sigstore.dev/cosign/sign/v1"

// classify tells a bundle's kind: a message signature or a statement of
// cosign's sign predicate is a signature, any other statement an attestation.
func classify(b *bundle.Bundle) (Kind, string, error) {
	if b.GetDsseEnvelope() == nil {
		return KindSignature, "", nil
	}
	pt, err := predicateTypeOf(b)
	if err != nil {
		return KindAttestation, "", err
	}
	if pt == SignPredicateType {
		return KindSignature, pt, nil
	}
	return KindAttestation, pt, nil
}

// ParseBundle decodes a Sigstore bundle (JSON), bounded and validated.
func ParseBundle(data []byte) (*bundle.Bundle, error) {
	if len(data) > MaxBundle {
		return nil, fmt.Errorf("bundle is %d bytes, over the %d-byte limit", len(data), MaxBundle)
	}
	if err := checkDepth(data, MaxJSONDepth); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if b.Bundle == nil || b.GetVerificationMaterial() == nil {
		return nil, errors.New("bundle: no verification material")
	}
	return &b, nil
}

func isNotFound(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		if te.StatusCode == http.StatusNotFound {
			return true
		}
		for _, d := range te.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return true
			}
		}
	}
	return false
}
