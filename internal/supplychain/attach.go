package supplychain

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// AttachBundle writes a Sigstore bundle as an OCI 1.1 referrer of digest,
// as cosign --new-bundle-format does: a manifest whose subject is the
// image and whose one layer is the bundle. On a registry without the
// referrers API the writer also updates the "sha256-<hex>" fallback index.
// Tests and benchmarks use it; verification only reads.
func AttachBundle(ctx context.Context, repo name.Repository, digest string, bundleJSON []byte, opts ...remote.Option) (v1.Hash, error) {
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	sub, err := remote.Head(repo.Digest(digest), opts...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("%s@%s: %w", repo, digest, err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.MediaType(bundleV03))
	img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(bundleJSON, types.MediaType(bundleV03)), MediaType: types.MediaType(bundleV03)})
	if err != nil {
		return v1.Hash{}, err
	}
	withSub := mutate.Subject(img, v1.Descriptor{MediaType: sub.MediaType, Digest: sub.Digest, Size: sub.Size}).(v1.Image)
	h, err := withSub.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.Write(repo.Digest(h.String()), withSub, opts...); err != nil {
		return v1.Hash{}, fmt.Errorf("%s@%s: write bundle: %w", repo, digest, err)
	}
	return h, nil
}

// AttachLegacyAttestation appends a DSSE envelope to the ".att" tag of
// digest, as cosign attest does without the bundle format (keyed).
func AttachLegacyAttestation(ctx context.Context, repo name.Repository, digest string, envelopeJSON []byte, opts ...remote.Option) error {
	return AttachLegacyAttestationWith(ctx, repo, digest, envelopeJSON, map[string]string{annSignature: ""}, opts...)
}

// AttachLegacyAttestationWith appends a DSSE envelope with these
// annotations (for keyless: the certificate, chain, Rekor bundle and
// timestamp) to the ".att" tag of digest.
func AttachLegacyAttestationWith(ctx context.Context, repo name.Repository, digest string, envelopeJSON []byte, annotations map[string]string, opts ...remote.Option) error {
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	h, err := v1.NewHash(digest)
	if err != nil {
		return err
	}
	tag := repo.Tag(h.Algorithm + "-" + h.Hex + ".att")
	base, err := remote.Image(tag, opts...)
	if err != nil {
		if !isNotFound(err) {
			return fmt.Errorf("%s: %w", tag, err)
		}
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:       static.NewLayer(envelopeJSON, DSSEType),
		MediaType:   DSSEType,
		Annotations: annotations,
	})
	if err != nil {
		return err
	}
	return remote.Write(tag, img, opts...)
}

// AttachLegacySignature appends a simple-signing layer with these
// annotations (signature, and for keyless the certificate, chain, Rekor
// bundle and timestamp) to the ".sig" tag of digest, as cosign 2 signs
// without the bundle format.
func AttachLegacySignature(ctx context.Context, repo name.Repository, digest string, payload []byte, annotations map[string]string, opts ...remote.Option) error {
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	h, err := v1.NewHash(digest)
	if err != nil {
		return err
	}
	tag := repo.Tag(h.Algorithm + "-" + h.Hex + ".sig")
	base, err := remote.Image(tag, opts...)
	if err != nil {
		if !isNotFound(err) {
			return fmt.Errorf("%s: %w", tag, err)
		}
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	img, err := mutate.Append(base, mutate.Addendum{Layer: static.NewLayer(payload, SimpleSigningType), MediaType: SimpleSigningType, Annotations: annotations})
	if err != nil {
		return err
	}
	return remote.Write(tag, img, opts...)
}
