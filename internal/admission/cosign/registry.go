package cosign

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Fetch reads the signatures of digest from repo. An image without a
// signature manifest has none (and no error). opts carry the transport,
// the credentials and the context.
func Fetch(ctx context.Context, repo name.Repository, digest string, opts ...remote.Option) ([]Signature, error) {
	tag := repo.Tag(SignatureTag(digest))
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	img, err := remote.Image(tag, opts...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("signatures of %s@%s: %w", repo, digest, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("signatures of %s@%s: manifest: %w", repo, digest, err)
	}
	var out []Signature
	for i, l := range m.Layers {
		if len(out) == MaxSignatures {
			break
		}
		if l.MediaType != MediaType {
			continue
		}
		b64 := l.Annotations[SignatureAnnotation]
		sig, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(sig) == 0 {
			continue
		}
		if l.Size > MaxPayload {
			return nil, fmt.Errorf("signatures of %s@%s: layer %d payload is %d bytes, over %d", repo, digest, i, l.Size, MaxPayload)
		}
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return nil, fmt.Errorf("signatures of %s@%s: layer %d: %w", repo, digest, i, err)
		}
		rc, err := layer.Compressed()
		if err != nil {
			return nil, fmt.Errorf("signatures of %s@%s: layer %d: %w", repo, digest, i, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, MaxPayload+1))
		_ = rc.Close()
		if err != nil {
			return nil, fmt.Errorf("signatures of %s@%s: layer %d: %w", repo, digest, i, err)
		}
		if len(data) > MaxPayload {
			return nil, fmt.Errorf("signatures of %s@%s: layer %d payload over %d bytes", repo, digest, i, MaxPayload)
		}
		if h, _, err := v1.SHA256(bytes.NewReader(data)); err != nil || h != l.Digest {
			return nil, fmt.Errorf("signatures of %s@%s: layer %d payload does not match its digest", repo, digest, i)
		}
		out = append(out, Signature{Payload: data, Signature: sig})
	}
	return out, nil
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

// Attach writes signatures for digest into repo the way cosign does,
// appending to any signatures already there. Tests and benchmarks use it;
// the admission controller only reads.
func Attach(ctx context.Context, repo name.Repository, digest string, sigs []Signature, opts ...remote.Option) error {
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	tag := repo.Tag(SignatureTag(digest))
	base, err := remote.Image(tag, opts...)
	if err != nil {
		if !isNotFound(err) {
			return fmt.Errorf("signatures of %s@%s: %w", repo, digest, err)
		}
		base = mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	}
	img := base
	for _, s := range sigs {
		layer := static.NewLayer(s.Payload, MediaType)
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:       layer,
			MediaType:   MediaType,
			Annotations: map[string]string{SignatureAnnotation: base64.StdEncoding.EncodeToString(s.Signature)},
		})
		if err != nil {
			return fmt.Errorf("signatures of %s@%s: %w", repo, digest, err)
		}
	}
	if err := remote.Write(tag, img, opts...); err != nil {
		return fmt.Errorf("signatures of %s@%s: write: %w", repo, digest, err)
	}
	return nil
}
