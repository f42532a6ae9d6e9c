package release

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
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
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"

	"github.com/palisade-sec/palisade/internal/admission/cosign"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/sbom/catalog"
	"github.com/palisade-sec/palisade/internal/sbom/gobuild"
	"github.com/palisade-sec/palisade/internal/supplychain"
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
// sha256-<hex>.sbom, the same SBOM and SLSA provenance v1 (from o's
// source, revision and version labels) as attestations signed with key
// under sha256-<hex>.att, and a cosign signature with key under
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
	prov := Provenance{Source: o.Labels["org.opencontainers.image.source"], Commit: o.Labels["org.opencontainers.image.revision"],
		Version: o.Labels["org.opencontainers.image.version"], BuilderID: o.BuilderID}
	for _, s := range subjects {
		doc, err := SBOM(a.Binaries[s.platform], r.String(), s.digest, o.Epoch)
		if err != nil {
			return nil, err
		}
		if err := attachSBOM(ctx, r, s.digest, doc, opts...); err != nil {
			return nil, err
		}
		if err := Attest(ctx, r, s.digest, key, doc, prov, opts...); err != nil {
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

// Provenance is what the release's SLSA provenance says of its build.
type Provenance struct {
	// Source is the repository URL, Commit its Git commit, Version the
	// version the binaries report.
	Source, Commit, Version string
	// BuilderID names what built it (a CI workflow, or the default).
	BuilderID string
}

// Predicate types and the build type of the release's attestations.
const (
	SLSAProvenanceV1 = "https://slsa.dev/provenance/v1"
	CycloneDXBOM     = "https://cyclonedx.org/bom"
	BuildType        = "https://github.com/palisade-sec/palisade/release/v1"
	DefaultBuilderID = "https://github.com/palisade-sec/palisade/cmd/palisade/release"
)

// Attest signs with key, as in-toto statements about digest in DSSE
// envelopes, the image's CycloneDX SBOM and its SLSA provenance v1, and
// attaches both under sha256-<hex>.att as cosign attest does (keyed,
// without the bundle format), so `palisade verify image` and cosign can
// require them.
func Attest(ctx context.Context, repo name.Repository, digest string, key crypto.Signer, sbomDoc []byte, p Provenance, opts ...remote.Option) error {
	alg, hexDigest, ok := strings.Cut(digest, ":")
	if !ok || alg != "sha256" {
		return fmt.Errorf("attest %s@%s: not a sha256 digest", repo, digest)
	}
	builder := p.BuilderID
	if builder == "" {
		builder = DefaultBuilderID
	}
	prov := map[string]any{
		"buildDefinition": map[string]any{
			"buildType":          BuildType,
			"externalParameters": map[string]any{"source": p.Source, "version": p.Version},
			"resolvedDependencies": []any{map[string]any{
				"uri": "git+" + p.Source, "digest": map[string]string{"gitCommit": p.Commit}}},
		},
		"runDetails": map[string]any{"builder": map[string]any{"id": builder}},
	}
	var bom any
	if err := json.Unmarshal(sbomDoc, &bom); err != nil {
		return fmt.Errorf("attest %s@%s: SBOM: %w", repo, digest, err)
	}
	sv, err := signature.LoadSigner(key, crypto.SHA256)
	if err != nil {
		return fmt.Errorf("attest %s@%s: %w", repo, digest, err)
	}
	signer := sigdsse.WrapSigner(sv, "application/vnd.in-toto+json")
	for _, a := range []struct {
		predicateType string
		predicate     any
	}{{CycloneDXBOM, bom}, {SLSAProvenanceV1, prov}} {
		stmt, err := json.Marshal(map[string]any{
			"_type":         "https://in-toto.io/Statement/v1",
			"subject":       []any{map[string]any{"name": repo.String(), "digest": map[string]string{"sha256": hexDigest}}},
			"predicateType": a.predicateType,
			"predicate":     a.predicate,
		})
		if err != nil {
			return err
		}
		env, err := signer.SignMessage(bytes.NewReader(stmt))
		if err != nil {
			return fmt.Errorf("attest %s@%s: %s: %w", repo, digest, a.predicateType, err)
		}
		if err := supplychain.AttachLegacyAttestation(ctx, repo, digest, env, opts...); err != nil {
			return fmt.Errorf("attest %s@%s: %s: %w", repo, digest, a.predicateType, err)
		}
	}
	return nil
}
