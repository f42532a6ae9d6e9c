package hub

import (
	"context"
	"fmt"
	"sort"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ImagePlatforms reads the platforms ("os/arch" or "os/arch/variant") an
// image is built for from its registry: the entries of an image index, or
// the configuration of a single image. Hosts in insecure are reached over
// plain HTTP. Credentials come from the Docker keychain.
func ImagePlatforms(ctx context.Context, ref string, insecure []string) ([]string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	for _, h := range insecure {
		if h == r.Context().RegistryStr() {
			if r, err = name.ParseReference(ref, name.Insecure); err != nil {
				return nil, fmt.Errorf("image %s: %w", ref, err)
			}
		}
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	desc, err := remote.Get(r, opts...)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	seen := map[string]bool{}
	var out []string
	add := func(os, arch, variant string) {
		p := os + "/" + arch
		if variant != "" {
			p += "/" + variant
		}
		if os != "" && arch != "" && os != "unknown" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", ref, err)
		}
		m, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("image %s: index: %w", ref, err)
		}
		for _, d := range m.Manifests {
			if d.Platform != nil {
				add(d.Platform.OS, d.Platform.Architecture, d.Platform.Variant)
			}
		}
	} else {
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", ref, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("image %s: config: %w", ref, err)
		}
		add(cf.OS, cf.Architecture, cf.Variant)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("image %s: no platform recorded", ref)
	}
	sort.Strings(out)
	return out, nil
}
