package release

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/palisade-sec/palisade/internal/admission/cosign"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/sbom/catalog"
	"github.com/palisade-sec/palisade/internal/sbom/gobuild"
)

// SBOMMediaType is the layer media type of an attached CycloneDX SBOM.
const SBOMMediaType = "application/vnd.cyclonedx+json"

// SBOMTag is the tag cosign attaches an SBOM of digest under.
func SBOMTag(digest string) string {
	return strings.Replace(digest, ":", "-", 1) + ".sbom"
}

// Published is what Publish pushed: digests by what they name.
type Published struct {
	Repository string
	// IndexDigest is the digest deploy/ manifests pin.
	IndexDigest string
	// ImageDigests are the per-platform manifests, by platform string.
	ImageDigests map[string]string
}

// Ref returns repository@digest of the index.
func (p *Published) Ref() string { return p.Repository + "@" + p.IndexDigest }

// Publish pushes the index (and its images) to repo under tag, then for
// the index and each image: a CycloneDX SBOM of the binary attached under
// sha256-<hex>.sbom, and a cosign signature with key under
// sha256-<hex>.sig. opts carry the transport and credentials.
func Publish(ctx context.Context, a *Artifacts, repo, tag string, key crypto.Signer, o ImageOptions, opts ...remote.Option) (*Published, error) {
	r, err := name.NewRepository(repo, name.WeakValidation)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", repo, err)
	}
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	if err := remote.WriteIndex(r.Tag(tag), a.Index, opts...); err != nil {
		return nil, fmt.Errorf("push %s:%s: %w", repo, tag, err)
	}
	d, err := a.Index.Digest()
	if err != nil {
		return nil, err
	}
	p := &Published{Repository: repo, IndexDigest: d.String(), ImageDigests: map[string]string{}}
	// The index's SBOM is the amd64 image's: the binary is the same
	// source for both platforms.
	subjects := []struct{ digest, platform string }{{p.IndexDigest, Platforms[0].String()}}
	for _, pl := range Platforms {
		id, err := a.Images[pl.String()].Digest()
		if err != nil {
			return nil, err
		}
		p.ImageDigests[pl.String()] = id.String()
		subjects = append(subjects, struct{ digest, platform string }{id.String(), pl.String()})
	}
	for _, s := range subjects {
		doc, err := SBOM(a.Binaries[s.platform], r.String(), s.digest, o.Epoch)
		if err != nil {
			return nil, err
		}
		if err := attachSBOM(ctx, r, s.digest, doc, opts...); err != nil {
			return nil, err
		}
		sig, err := cosign.Sign(key, cosign.Payload(r.String(), s.digest))
		if err != nil {
			return nil, fmt.Errorf("sign %s@%s: %w", repo, s.digest, err)
		}
		if err := cosign.Attach(ctx, r, s.digest, []cosign.Signature{{Payload: cosign.Payload(r.String(), s.digest), Signature: sig}}, opts...); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// SBOM catalogues a Palisade binary (its Go build information: main
// module, every dependency, the Go standard library) as CycloneDX 1.6
// for the image digest.
func SBOM(binary, repo, digest string, created time.Time) ([]byte, error) {
	f, err := os.Open(binary)
	if err != nil {
		return nil, fmt.Errorf("SBOM of %s: %w", binary, err)
	}
	defer f.Close()
	bi, err := gobuild.ReadFile(f)
	if err != nil {
		return nil, fmt.Errorf("SBOM of %s: %w", binary, err)
	}
	doc := sbom.Document{
		Subject:  sbom.Subject{Kind: sbom.SubjectImage, Name: repo + "@" + digest, Digest: digest},
		Packages: catalog.GoPackages(bi, strings.TrimPrefix(BinaryPath, "/")),
		Created:  created,
		ToolName: "palisade",
	}
	var buf bytes.Buffer
	if err := sbom.WriteCycloneDX(&buf, doc); err != nil {
		return nil, fmt.Errorf("SBOM of %s: %w", binary, err)
	}
	return buf.Bytes(), nil
}

func attachSBOM(ctx context.Context, repo name.Repository, digest string, doc []byte, opts ...remote.Option) error {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(doc, SBOMMediaType), MediaType: SBOMMediaType})
	if err != nil {
		return err
	}
	if err := remote.Write(repo.Tag(SBOMTag(digest)), img, opts...); err != nil {
		return fmt.Errorf("attach SBOM to %s@%s: %w", repo, digest, err)
	}
	return nil
}

// FetchSBOM reads the SBOM attached to digest.
func FetchSBOM(ctx context.Context, repo, digest string, opts ...remote.Option) ([]byte, error) {
	r, err := name.NewRepository(repo, name.WeakValidation)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(r.Tag(SBOMTag(digest)), append([]remote.Option{remote.WithContext(ctx)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("SBOM of %s@%s: %w", repo, digest, err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		return nil, fmt.Errorf("SBOM of %s@%s: want one layer (%v)", repo, digest, err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Verify checks, with the admission controller's verification code, that
// every digest of a published release carries a valid signature by pub.
func Verify(ctx context.Context, repo string, digests []string, pub crypto.PublicKey, opts ...remote.Option) error {
	r, err := name.NewRepository(repo, name.WeakValidation)
	if err != nil {
		return err
	}
	for _, d := range digests {
		sigs, err := cosign.Fetch(ctx, r, d, opts...)
		if err != nil {
			return err
		}
		ok := false
		var last error
		for _, s := range sigs {
			if _, err := cosign.Verify(pub, s, d); err == nil {
				ok = true
				break
			} else {
				last = err
			}
		}
		if !ok {
			if last == nil {
				last = fmt.Errorf("no signature")
			}
			return fmt.Errorf("verify %s@%s: %w", repo, d, last)
		}
	}
	return nil
}

// Digests lists the index digest and the image digests, index first.
func (p *Published) Digests() []string {
	out := []string{p.IndexDigest}
	for _, pl := range Platforms {
		out = append(out, p.ImageDigests[pl.String()])
	}
	return out
}

// Digest is a convenience for tests and tools: the digest of an image or index.
func Digest(x interface{ Digest() (v1.Hash, error) }) string {
	d, err := x.Digest()
	if err != nil {
		return ""
	}
	return d.String()
}
