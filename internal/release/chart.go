package release

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"

	"github.com/palisade-sec/palisade/internal/admission/cosign"
)

// Media types of a Helm chart stored as an OCI artifact, as `helm push`
// writes them (helm.sh/helm/v4/pkg/registry), so `helm pull oci://…` and
// `helm install oci://…` read what the release pushes.
const (
	ChartConfigMediaType  = "application/vnd.cncf.helm.config.v1+json"
	ChartContentMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
)

// A chart's image values are maps holding `repository` and `digest`
// (deploy/helm/palisade/values.yaml); its templates are not manifests and
// never name an image themselves.
func isChartDir(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "Chart.yaml"))
	return err == nil
}

func isValuesFile(path string) bool {
	b := filepath.Base(path)
	return (strings.HasPrefix(b, "values") && (strings.HasSuffix(b, ".yaml") || strings.HasSuffix(b, ".yml")))
}

// chartValueImage is one {repository, digest} map in a values file.
type chartValueImage struct {
	repository string
	digest     string
	line       int // of the digest's value
}

// chartValueImages finds every mapping with scalar `repository` and
// `digest` keys in a values file.
func chartValueImages(path string, data []byte) ([]chartValueImage, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []chartValueImage
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if n == nil || depth > 64 {
			return
		}
		if n.Kind == yaml.MappingNode {
			var img chartValueImage
			var hasRepo, hasDigest bool
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if v.Kind != yaml.ScalarNode {
					continue
				}
				switch k.Value {
				case "repository":
					img.repository, hasRepo = v.Value, true
				case "digest":
					img.digest, img.line, hasDigest = v.Value, v.Line, true
				}
			}
			if hasRepo && hasDigest {
				out = append(out, img)
			}
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(&doc, 0)
	return out, nil
}

// chartValuesFiles calls fn with each values file of the chart in dir,
// its content and the images it names, in directory order.
func chartValuesFiles(dir string, fn func(path string, data []byte, imgs []chartValueImage) error) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if e.IsDir() || !isValuesFile(path) {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		imgs, err := chartValueImages(path, data)
		if err != nil {
			return err
		}
		if err := fn(path, data, imgs); err != nil {
			return err
		}
	}
	return nil
}

// chartImages lists the images of the values files of the chart in dir.
func chartImages(dir string) ([]ImageRef, error) {
	var refs []ImageRef
	err := chartValuesFiles(dir, func(path string, _ []byte, imgs []chartValueImage) error {
		for _, img := range imgs {
			if img.digest == "" {
				// Another file's map (values-edge.yaml overriding
				// resources) without an image of its own.
				continue
			}
			refs = append(refs, ImageRef{File: path, Line: img.line, Ref: img.repository + "@" + img.digest})
		}
		return nil
	})
	return refs, err
}

var digestValue = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\s*digest:\s*["']?)[^"'\s#]*(["']?.*)$`) })

// pinChart sets the digest of every image of repo in the chart's values
// files in dir, keeping comments and layout. It returns the files changed.
func pinChart(dir, repo, digest string) ([]string, error) {
	var changed []string
	err := chartValuesFiles(dir, func(path string, data []byte, imgs []chartValueImage) error {
		lines := strings.Split(string(data), "\n")
		for _, img := range imgs {
			if img.repository != repo || img.digest == "" || img.line < 1 || img.line > len(lines) {
				continue
			}
			l := lines[img.line-1]
			if !digestValue().MatchString(l) {
				return fmt.Errorf("%s:%d: digest of %s is not on a `digest: VALUE` line", path, img.line, repo)
			}
			lines[img.line-1] = digestValue().ReplaceAllString(l, "${1}"+digest+"${2}")
		}
		out := strings.Join(lines, "\n")
		if out == string(data) {
			return nil
		}
		info, err := os.Stat(path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(out), info.Mode().Perm()); err != nil {
			return err
		}
		changed = append(changed, path)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return changed, nil
}

// Chart is a packaged chart: the .tgz helm reads and its Chart.yaml as
// the JSON config of the OCI artifact.
type Chart struct {
	Name, Version string
	Archive       []byte
	Config        []byte
}

// PackageChart packages the chart in dir as `helm package` does, with its
// version and appVersion set to version, and every file time set to epoch
// (the same sources give the same archive and digest).
func PackageChart(dir, version string, epoch time.Time) (*Chart, error) {
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", dir, err)
	}
	if version != "" {
		ch.Metadata.Version = strings.TrimPrefix(version, "v")
		ch.Metadata.AppVersion = version
	}
	if err := ch.Validate(); err != nil {
		return nil, fmt.Errorf("chart %s: %w", dir, err)
	}
	ch.ModTime, ch.SchemaModTime = epoch, epoch
	for _, f := range ch.Raw {
		f.ModTime = epoch
	}
	for _, f := range ch.Templates {
		f.ModTime = epoch
	}
	for _, f := range ch.Files {
		f.ModTime = epoch
	}
	tmp, err := os.MkdirTemp("", "palisade-chart-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	file, err := chartutil.Save(ch, tmp)
	if err != nil {
		return nil, fmt.Errorf("chart %s: package: %w", dir, err)
	}
	archive, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	config, err := json.Marshal(ch.Metadata)
	if err != nil {
		return nil, err
	}
	return &Chart{Name: ch.Metadata.Name, Version: ch.Metadata.Version, Archive: archive, Config: config}, nil
}

// chartManifest is the OCI image manifest of a chart.
type chartManifest struct {
	raw []byte
}

func (m chartManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m chartManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// PublishChart pushes c to repo under its version as the tag (as `helm
// push` does; OCI tags cannot hold "+", so it becomes "_"), then signs the
// manifest's digest with key exactly as Publish signs the images, so
// `palisade release verify` and the admission webhook's verification
// accept it. It returns the manifest digest.
func PublishChart(ctx context.Context, c *Chart, repo string, key crypto.Signer, opts ...remote.Option) (string, error) {
	r, err := name.NewRepository(repo, name.WeakValidation)
	if err != nil {
		return "", fmt.Errorf("repository %q: %w", repo, err)
	}
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	config := static.NewLayer(c.Config, ChartConfigMediaType)
	content := static.NewLayer(c.Archive, ChartContentMediaType)
	desc := func(l v1.Layer, mt string) (v1.Descriptor, error) {
		d, err := l.Digest()
		if err != nil {
			return v1.Descriptor{}, err
		}
		size, err := l.Size()
		return v1.Descriptor{MediaType: types.MediaType(mt), Digest: d, Size: size}, err
	}
	cd, err := desc(config, ChartConfigMediaType)
	if err != nil {
		return "", err
	}
	ld, err := desc(content, ChartContentMediaType)
	if err != nil {
		return "", err
	}
	for _, l := range []v1.Layer{config, content} {
		if err := remote.WriteLayer(r, l, opts...); err != nil {
			return "", fmt.Errorf("push chart %s to %s: %w", c.Name, repo, err)
		}
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cd, Layers: []v1.Descriptor{ld},
		Annotations: map[string]string{"org.opencontainers.image.title": c.Name, "org.opencontainers.image.version": c.Version}}
	raw, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return "", err
	}
	tag := strings.ReplaceAll(c.Version, "+", "_")
	if err := remote.Put(r.Tag(tag), chartManifest{raw}, opts...); err != nil {
		return "", fmt.Errorf("push chart %s:%s: %w", repo, tag, err)
	}
	digest := h.String()
	payload := cosign.Payload(r.String(), digest)
	sig, err := cosign.Sign(key, payload)
	if err != nil {
		return "", fmt.Errorf("sign %s@%s: %w", repo, digest, err)
	}
	if err := cosign.Attach(ctx, r, digest, []cosign.Signature{{Payload: payload, Signature: sig}}, opts...); err != nil {
		return "", err
	}
	return digest, nil
}

// maxChartArchive bounds what FetchChart reads (Palisade's chart is a few
// tens of KB; Helm itself refuses charts over 20 MiB).
const maxChartArchive = 20 << 20

// FetchChart pulls the chart archive of repo@digest, checking the
// artifact's media types.
func FetchChart(ctx context.Context, repo, digest string, opts ...remote.Option) ([]byte, error) {
	r, err := name.NewRepository(repo, name.WeakValidation)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(r.Digest(digest), append([]remote.Option{remote.WithContext(ctx)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("chart %s@%s: %w", repo, digest, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("chart %s@%s: %w", repo, digest, err)
	}
	if m.Config.MediaType != ChartConfigMediaType || len(m.Layers) != 1 || m.Layers[0].MediaType != ChartContentMediaType {
		return nil, fmt.Errorf("chart %s@%s: not a Helm chart artifact (config %s, %d layers)", repo, digest, m.Config.MediaType, len(m.Layers))
	}
	l, err := img.LayerByDigest(m.Layers[0].Digest)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(rc, maxChartArchive+1)); err != nil {
		return nil, fmt.Errorf("chart %s@%s: %w", repo, digest, err)
	}
	if buf.Len() > maxChartArchive {
		return nil, fmt.Errorf("chart %s@%s: archive larger than %d bytes", repo, digest, maxChartArchive)
	}
	return buf.Bytes(), nil
}
