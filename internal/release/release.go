// Package release builds Palisade's own container images without a
// container daemon, the way the project's guidelines ask application
// images to be built: a static Go binary appended as a layer onto a
// minimal base made from scratch (no shell, no package manager, a
// non-root user, CA certificates, a writable /tmp only if a volume is
// mounted there), one OCI index for linux/amd64 and linux/arm64, and
// reproducible: the same commit gives the same digest (fixed timestamps
// from SOURCE_DATE_EPOCH, sorted tar entries, fixed owners and modes,
// -trimpath, no build ID).
//
// Each image is then described by a CycloneDX SBOM (internal/sbom,
// cataloguing the Go binary's build information) and signed in cosign's
// format with a key; both are attached in the registry as cosign does
// (tags sha256-<hex>.sig and sha256-<hex>.sbom), and verified with the
// admission controller's own verification code.
package release

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/palisade-sec/palisade/internal/buildinfo"
)

// Identity of the non-root user the image runs as (distroless' "nonroot").
const (
	UID      = 65532
	GID      = 65532
	UserName = "nonroot"
	// BinaryPath is where the binary lives in the image.
	BinaryPath = "/usr/bin/palisade"
	// CACertsPath is where the base layer puts the CA bundle.
	CACertsPath = "/etc/ssl/certs/ca-certificates.crt"
	// DefaultCACerts is the host's Debian ca-certificates bundle.
	DefaultCACerts = "/etc/ssl/certs/ca-certificates.crt"
)

// Platforms are the platforms a release is built for.
var Platforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// BuildOptions say what to build.
type BuildOptions struct {
	// ModuleDir is the Go module's root; Package the main package in it.
	ModuleDir, Package string
	// OutDir receives one binary per platform: palisade-linux-amd64 ...
	OutDir string
	// Version, Commit are stamped into internal/buildinfo.
	Version, Commit string
	// Epoch is SOURCE_DATE_EPOCH: every timestamp of the release.
	Epoch time.Time
	// LDFlagsPackage is the package holding version, commit and date
	// variables; "" means Palisade's internal/buildinfo.
	LDFlagsPackage string
	// Env is added to the go command's environment (GOCACHE, GOPROXY...).
	Env []string
}

// BuildBinary builds one static binary for a platform, reproducibly:
// CGO_ENABLED=0, -trimpath, buildinfo.GoBuildTags, an empty build ID, no VCS stamping (the
// commit is stamped explicitly), and the file's modification time set to
// the epoch. It returns the binary's path.
func BuildBinary(ctx context.Context, o BuildOptions, p v1.Platform) (string, error) {
	pkg := o.LDFlagsPackage
	if pkg == "" {
		pkg = "github.com/palisade-sec/palisade/internal/buildinfo"
	}
	out := filepath.Join(o.OutDir, fmt.Sprintf("palisade-%s-%s", p.OS, p.Architecture))
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return "", fmt.Errorf("build %s/%s: %w", p.OS, p.Architecture, err)
	}
	ldflags := []string{"-s", "-w", "-buildid="}
	for k, v := range map[string]string{"version": o.Version, "commit": o.Commit, "date": o.Epoch.UTC().Format(time.RFC3339)} {
		if v != "" {
			ldflags = append(ldflags, fmt.Sprintf("-X %s.%s=%s", pkg, k, v))
		}
	}
	sort.Strings(ldflags[3:])
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-tags", buildinfo.GoBuildTags, "-ldflags", strings.Join(ldflags, " "), "-o", out, o.Package)
	cmd.Dir = o.ModuleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture, "GOFLAGS=-mod=readonly")
	cmd.Env = append(cmd.Env, o.Env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s/%s: %w\n%s", p.OS, p.Architecture, err, b)
	}
	if err := os.Chtimes(out, o.Epoch, o.Epoch); err != nil {
		return "", fmt.Errorf("build %s/%s: %w", p.OS, p.Architecture, err)
	}
	return out, nil
}

// tarEntry is one file of a layer.
type tarEntry struct {
	name string // no leading slash; directories end without a slash
	mode int64
	dir  bool
	data []byte
}

// layerTar writes entries sorted by name, owned by root, with fixed
// modes and the epoch as every time, so the same entries always give the
// same bytes.
func layerTar(entries []tarEntry, epoch time.Time) ([]byte, error) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		// USTAR headers carry no access or change times, so the same
		// entries always give the same bytes.
		h := &tar.Header{Name: e.name, Mode: e.mode, ModTime: epoch, Format: tar.FormatUSTAR}
		if e.dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if !e.dir {
			if _, err := tw.Write(e.data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func layerFrom(data []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// BaseLayer is the minimal base: the non-root user and group, /tmp, the
// CA bundle, and nothing to run (no shell, no libc: the binary is static).
func BaseLayer(caCerts []byte, epoch time.Time) (v1.Layer, error) {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:/home/%s:/sbin/nologin\n", UserName, UID, GID, UserName, UserName)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", UserName, GID)
	entries := []tarEntry{
		{name: "etc", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/ssl", mode: 0o755, dir: true},
		{name: "etc/ssl/certs", mode: 0o755, dir: true},
		{name: strings.TrimPrefix(CACertsPath, "/"), mode: 0o644, data: caCerts},
		{name: "home", mode: 0o755, dir: true},
		{name: "home/" + UserName, mode: 0o700, dir: true},
		{name: "tmp", mode: 0o1777, dir: true},
		{name: "usr", mode: 0o755, dir: true},
		{name: "usr/bin", mode: 0o755, dir: true},
	}
	data, err := layerTar(entries, epoch)
	if err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	return layerFrom(data)
}

// BinaryLayer holds the binary at BinaryPath, executable by everyone and
// writable by no one.
func BinaryLayer(binary []byte, epoch time.Time) (v1.Layer, error) {
	data, err := layerTar([]tarEntry{{name: strings.TrimPrefix(BinaryPath, "/"), mode: 0o555, data: binary}}, epoch)
	if err != nil {
		return nil, fmt.Errorf("binary layer: %w", err)
	}
	return layerFrom(data)
}

// ImageOptions describe the image's metadata.
type ImageOptions struct {
	Epoch time.Time
	// Labels are OCI annotations such as org.opencontainers.image.revision.
	Labels map[string]string
	// BuilderID is the SLSA provenance's builder (default
	// DefaultBuilderID): a CI workflow's identity where one exists.
	BuilderID string
}

// Image assembles one platform's image from the base and the binary.
// The config runs the binary as 65532:65532 with no shell in the image;
// nothing is written to the root file system (mount an emptyDir on /tmp
// when it is read-only), so it runs with readOnlyRootFilesystem.
func Image(base, bin v1.Layer, p v1.Platform, o ImageOptions) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	created := v1.Time{Time: o.Epoch.UTC()}
	img, err := mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "palisade release: minimal base (user 65532, /tmp, CA certificates)"}},
		mutate.Addendum{Layer: bin, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "palisade release: " + BinaryPath}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = created
	cf.Author = "palisade release"
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", UID, GID),
		Entrypoint: []string{BinaryPath},
		Env:        []string{"PATH=/usr/bin", "SSL_CERT_FILE=" + CACertsPath, "HOME=/home/" + UserName},
		WorkingDir: "/home/" + UserName,
		Labels:     o.Labels,
	}
	return mutate.ConfigFile(img, cf)
}

// Index puts one image per platform into an OCI index, in Platforms order.
func Index(imgs map[string]v1.Image) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, p := range Platforms {
		img, ok := imgs[p.String()]
		if !ok {
			return nil, fmt.Errorf("index: no image for %s", p)
		}
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		size, err := img.Size()
		if err != nil {
			return nil, err
		}
		pl := p
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: d, Size: size, Platform: &pl}})
	}
	return mutate.AppendManifests(idx, adds...), nil
}

// Artifacts is a built release, not yet pushed.
type Artifacts struct {
	Index    v1.ImageIndex
	Images   map[string]v1.Image // by platform string
	Binaries map[string]string   // by platform string: path on disk
}

// Assemble builds the images and the index from binaries already built
// (by platform string), with the CA bundle from caCertsFile.
func Assemble(binaries map[string]string, caCertsFile string, o ImageOptions) (*Artifacts, error) {
	ca, err := os.ReadFile(caCertsFile)
	if err != nil {
		return nil, fmt.Errorf("CA certificates (install Debian's ca-certificates): %w", err)
	}
	base, err := BaseLayer(ca, o.Epoch)
	if err != nil {
		return nil, err
	}
	a := &Artifacts{Images: map[string]v1.Image{}, Binaries: binaries}
	for _, p := range Platforms {
		path, ok := binaries[p.String()]
		if !ok {
			return nil, fmt.Errorf("no binary for %s", p)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		bin, err := BinaryLayer(data, o.Epoch)
		if err != nil {
			return nil, err
		}
		img, err := Image(base, bin, p, o)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", p, err)
		}
		a.Images[p.String()] = img
	}
	if a.Index, err = Index(a.Images); err != nil {
		return nil, err
	}
	return a, nil
}

// EpochFromEnv reads SOURCE_DATE_EPOCH (seconds); unset means def.
func EpochFromEnv(getenv func(string) string, def time.Time) (time.Time, error) {
	v := getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return def.UTC(), nil
	}
	var sec int64
	if _, err := fmt.Sscanf(v, "%d", &sec); err != nil || sec < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds", v)
	}
	return time.Unix(sec, 0).UTC(), nil
}
