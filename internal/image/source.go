package image

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Kind says where an image comes from.
type Kind string

// The image sources, named by the prefix of their reference.
const (
	KindRegistry      Kind = "registry"
	KindOCILayout     Kind = "oci"
	KindDockerArchive Kind = "docker-archive"
	KindRootFS        Kind = "rootfs"
)

// Options tune Open. The zero value reads public images for the host's
// platform with the Docker config's credentials.
type Options struct {
	// Platform chooses from a multi-arch index: "linux/arm64",
	// "linux/arm/v7". Empty means linux and the host's architecture. A
	// single-platform image must match an explicit Platform.
	Platform string
	// Username and Password, when Username is set, are sent as basic
	// credentials instead of those of the keychain (--username,
	// --password-stdin).
	Username string
	Password string
	// Keychain finds credentials per registry; nil means the Docker config
	// ($DOCKER_CONFIG/config.json, credential helpers).
	Keychain authn.Keychain
	// InsecureRegistries are registry hosts ("host:port") that may be
	// reached over plain HTTP. No other registry is ever contacted over
	// HTTP, loopback addresses included.
	InsecureRegistries []string
	// Timeout bounds connecting to a registry and waiting for each
	// response's headers; 0 means 30 seconds. The overall time is bounded by
	// the context.
	Timeout time.Duration
	// Transport, when set, replaces the default HTTP transport (tests, proxies).
	Transport http.RoundTripper
	// UserAgent is sent to registries.
	UserAgent string
}

// Source is an opened image.
type Source struct {
	Kind Kind
	// Ref is the reference as given to Open.
	Ref string
	// Image is the chosen image; nil for a rootfs directory.
	Image v1.Image
	// Dir is the directory of a rootfs source.
	Dir string
	// Digest is the chosen image manifest's digest.
	Digest string
	// IndexDigest is the digest of the index the image was chosen from.
	IndexDigest string
	// Platform is the chosen image's platform, when known.
	Platform *v1.Platform
}

// FS walks the source's layers (or directory) into its final file system.
func (s *Source) FS(ctx context.Context, sel Selector, lim Limits) (*FS, error) {
	if s.Kind == KindRootFS {
		return WalkDir(ctx, s.Dir, sel, lim)
	}
	fsys, err := Walk(ctx, s.Image, sel, lim)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", s.Ref, err)
	}
	return fsys, nil
}

// ParseRef splits a reference into its kind and the rest: "oci:DIR",
// "docker-archive:FILE", "rootfs:DIR", "registry:REF" or a plain registry
// reference.
func ParseRef(ref string) (Kind, string) {
	for _, k := range []Kind{KindOCILayout, KindDockerArchive, KindRootFS, KindRegistry} {
		if rest, ok := strings.CutPrefix(ref, string(k)+":"); ok {
			return k, rest
		}
	}
	return KindRegistry, ref
}

// Open resolves a reference to an image. Nothing is downloaded beyond
// manifests and the config; layers stream later, in Source.FS. For a
// registry image the context must stay live until the walk is done: it
// bounds the layer downloads too.
func Open(ctx context.Context, ref string, opts Options) (*Source, error) {
	kind, rest := ParseRef(ref)
	if rest == "" {
		return nil, fmt.Errorf("image %q: empty %s reference", ref, kind)
	}
	want, explicit, err := wantPlatform(opts.Platform)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	if kind == KindRegistry {
		if err := localPathRef(rest, rest == ref); err != nil {
			return nil, fmt.Errorf("image %s: %w", ref, err)
		}
	}
	src := &Source{Kind: kind, Ref: ref}
	switch kind {
	case KindRootFS:
		st, err := os.Stat(rest)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", ref, err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("image %s: not a directory", ref)
		}
		src.Dir = rest
		return src, nil
	case KindOCILayout:
		err = openLayout(src, rest, want, explicit)
	case KindDockerArchive:
		err = openArchive(src, rest, want, explicit)
	default:
		err = openRemote(ctx, src, rest, opts, want, explicit)
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	return src, nil
}

// localPathRef refuses a registry reference that is a local path. One
// that starts like a path ("/", "./", "../", "~") is never a valid
// reference: sent on, it would dial a registry named "." or fail on
// Docker Hub, and the error would name DNS, not the mistake. A plain name
// (bare: no "registry:" prefix) that is an existing file, or a directory
// holding an OCI layout, is refused too: "registry:NAME" still means the
// registry. The error names the prefix that reads the path.
func localPathRef(rest string, bare bool) error {
	pathLike := strings.HasPrefix(rest, "/") || strings.HasPrefix(rest, "./") ||
		strings.HasPrefix(rest, "../") || strings.HasPrefix(rest, "~") || rest == "." || rest == ".."
	st, statErr := os.Stat(rest)
	if !pathLike && (!bare || statErr != nil) {
		return nil
	}
	prefix := ""
	switch {
	case statErr != nil:
		if lower := strings.ToLower(rest); strings.HasSuffix(lower, ".tar") || strings.HasSuffix(lower, ".tar.gz") || strings.HasSuffix(lower, ".tgz") {
			prefix = "docker-archive:"
		}
	case st.Mode().IsRegular():
		prefix = "docker-archive:"
	case st.IsDir():
		if _, err := os.Stat(filepath.Join(rest, "oci-layout")); err == nil {
			prefix = "oci:"
		} else if pathLike {
			prefix = "rootfs:"
		} else {
			return nil // a plain name that is also a directory: the registry is meant
		}
	default:
		if !pathLike {
			return nil
		}
	}
	if prefix == "" {
		return fmt.Errorf("%q is a local path, not a registry reference: name it docker-archive:FILE (docker save), oci:DIR (OCI layout) or rootfs:DIR", rest)
	}
	return fmt.Errorf("%q is a local path, not a registry reference: use %s%s (or docker-archive:FILE, oci:DIR, rootfs:DIR; registry:REF for a registry)", rest, prefix, rest)
}

func wantPlatform(s string) (v1.Platform, bool, error) {
	if s == "" {
		return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, false, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return v1.Platform{}, false, fmt.Errorf("platform %q: %w", s, err)
	}
	if p.OS == "" || p.Architecture == "" {
		return v1.Platform{}, false, fmt.Errorf("platform %q: want os/arch[/variant], e.g. linux/arm64", s)
	}
	return *p, true, nil
}

func openLayout(src *Source, dir string, want v1.Platform, explicit bool) error {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	img, desc, err := chooseFromIndex(idx, want, explicit)
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	src.Image, src.Digest, src.Platform = img, desc.Digest.String(), desc.Platform
	return checkPlatform(src, want, explicit)
}

func openArchive(src *Source, file string, want v1.Platform, explicit bool) error {
	img, err := tarball.ImageFromPath(file, nil)
	if err != nil {
		return fmt.Errorf("docker archive: %w", err)
	}
	d, err := img.Digest()
	if err != nil {
		return fmt.Errorf("docker archive: %w", err)
	}
	src.Image, src.Digest = img, d.String()
	return checkPlatform(src, want, explicit)
}

// checkPlatform fills src.Platform from the config and, when the caller
// named a platform, checks that a single-platform image has it.
func checkPlatform(src *Source, want v1.Platform, explicit bool) error {
	cf, err := src.Image.ConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	p := cf.Platform()
	if p == nil {
		return nil
	}
	src.Platform = p
	if explicit && !platformMatches(*p, want) {
		return fmt.Errorf("image is for %s, not %s", p, want.String())
	}
	return nil
}

// RemoteOptions parses a registry reference and returns the options that
// reach its registry as opts say: plain HTTP only to the insecure
// registries, the timeouts, the credentials and the user agent. Other
// readers of a registry (Sigstore evidence) use it to reach registries
// exactly as the image walker does.
func RemoteOptions(ctx context.Context, ref string, opts Options) (name.Reference, []remote.Option, error) {
	insecure := map[string]bool{}
	for _, h := range opts.InsecureRegistries {
		insecure[h] = true
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, nil, err
	}
	if insecure[r.Context().RegistryStr()] {
		if r, err = name.ParseReference(ref, name.Insecure); err != nil {
			return nil, nil, err
		}
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(registryTransport(opts, insecure))}
	switch {
	case opts.Username != "":
		ropts = append(ropts, remote.WithAuth(&authn.Basic{Username: opts.Username, Password: opts.Password}))
	case opts.Keychain != nil:
		ropts = append(ropts, remote.WithAuthFromKeychain(opts.Keychain))
	default:
		ropts = append(ropts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	if opts.UserAgent != "" {
		ropts = append(ropts, remote.WithUserAgent(opts.UserAgent))
	}
	return r, ropts, nil
}

func openRemote(ctx context.Context, src *Source, ref string, opts Options, want v1.Platform, explicit bool) error {
	r, ropts, err := RemoteOptions(ctx, ref, opts)
	if err != nil {
		return err
	}
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return explainRemote(r, err)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return explainRemote(r, err)
		}
		img, d, err := chooseFromIndex(idx, want, explicit)
		if err != nil {
			return explainRemote(r, err)
		}
		src.Image, src.Digest, src.IndexDigest, src.Platform = img, d.Digest.String(), desc.Digest.String(), d.Platform
		return nil
	}
	img, err := desc.Image()
	if err != nil {
		return explainRemote(r, err)
	}
	src.Image, src.Digest = img, desc.Digest.String()
	return checkPlatform(src, want, explicit)
}

// explainRemote turns registry errors into messages that say what to do.
func explainRemote(r name.Reference, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("registry %s: authentication required or credentials rejected for %s (log in with docker login, or pass --username and --password-stdin): %w",
				r.Context().RegistryStr(), r.Context().RepositoryStr(), err)
		case http.StatusForbidden:
			return fmt.Errorf("registry %s: access to %s denied for these credentials: %w", r.Context().RegistryStr(), r.Context().RepositoryStr(), err)
		case http.StatusNotFound:
			return fmt.Errorf("registry %s: %s not found: %w", r.Context().RegistryStr(), r, err)
		}
	}
	return fmt.Errorf("registry %s: %w", r.Context().RegistryStr(), err)
}

// ErrPlainHTTP is returned when a registry would be reached over plain
// HTTP without being listed in Options.InsecureRegistries.
var ErrPlainHTTP = errors.New("plain HTTP is not allowed for this registry (list it in the insecure registries to allow it)")

// registryTransport refuses plain HTTP to every host not allowed, and
// applies the connect and response-header timeout.
func registryTransport(opts Options, insecure map[string]bool) http.RoundTripper {
	base := opts.Transport
	if base == nil {
		timeout := opts.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		t := remote.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
		t.TLSHandshakeTimeout = timeout
		t.ResponseHeaderTimeout = timeout
		base = t
	}
	return httpGuard{base: base, insecure: insecure}
}

type httpGuard struct {
	base     http.RoundTripper
	insecure map[string]bool
}

func (g httpGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.insecure[req.URL.Host] {
		return nil, fmt.Errorf("%s: %w", req.URL.Host, ErrPlainHTTP)
	}
	return g.base.RoundTrip(req)
}

// candidate is one image of an index, with its platform.
type candidate struct {
	desc v1.Descriptor
	idx  v1.ImageIndex
}

// chooseFromIndex picks the image for a platform from an index, looking
// into nested indexes (an OCI layout's index.json often points at one).
// An index holding a single image gives it whatever the platform unless
// the caller named one.
func chooseFromIndex(idx v1.ImageIndex, want v1.Platform, explicit bool) (v1.Image, v1.Descriptor, error) {
	var cands []candidate
	if err := collectImages(idx, &cands, 0); err != nil {
		return nil, v1.Descriptor{}, err
	}
	if len(cands) == 0 {
		return nil, v1.Descriptor{}, errors.New("index holds no image")
	}
	// Attestations and other artifacts carry platform unknown/unknown.
	var real []candidate
	for _, c := range cands {
		if c.desc.Platform != nil && c.desc.Platform.OS == "unknown" {
			continue
		}
		real = append(real, c)
	}
	if len(real) == 1 && !explicit {
		img, err := real[0].idx.Image(real[0].desc.Digest)
		return img, real[0].desc, err
	}
	var avail []string
	for _, c := range real {
		p := c.desc.Platform
		if p == nil {
			img, err := c.idx.Image(c.desc.Digest)
			if err != nil {
				return nil, v1.Descriptor{}, fmt.Errorf("image %s: %w", c.desc.Digest, err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				return nil, v1.Descriptor{}, fmt.Errorf("image %s: config: %w", c.desc.Digest, err)
			}
			p = cf.Platform()
			if p == nil {
				continue
			}
			c.desc.Platform = p
		}
		if platformMatches(*p, want) {
			img, err := c.idx.Image(c.desc.Digest)
			return img, c.desc, err
		}
		avail = append(avail, p.String())
	}
	sort.Strings(avail)
	return nil, v1.Descriptor{}, fmt.Errorf("no image for platform %s in the index; available: %s", want.String(), strings.Join(avail, ", "))
}

func collectImages(idx v1.ImageIndex, out *[]candidate, depth int) error {
	if depth > 4 {
		return errors.New("indexes nested too deep")
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range m.Manifests {
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return fmt.Errorf("index %s: %w", d.Digest, err)
			}
			if err := collectImages(child, out, depth+1); err != nil {
				return err
			}
		case d.MediaType.IsImage():
			*out = append(*out, candidate{desc: d, idx: idx})
		}
	}
	return nil
}

// platformMatches compares os and architecture, and the variant when both
// name one; arm64's variant defaults to v8.
func platformMatches(have, want v1.Platform) bool {
	if have.OS != want.OS || have.Architecture != want.Architecture {
		return false
	}
	hv, wv := have.Variant, want.Variant
	if have.Architecture == "arm64" {
		if hv == "" {
			hv = "v8"
		}
		if wv == "" {
			wv = "v8"
		}
	}
	return wv == "" || hv == wv
}
