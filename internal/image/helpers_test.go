package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// te is one tar entry of a test layer. Kind: 'f' file, 'd' dir, 'l'
// symlink, 'h' hardlink, 'c' char device.
type te struct {
	kind byte
	name string
	body string // file content, or link target
	mode int64
}

func f(name, body string) te    { return te{kind: 'f', name: name, body: body} }
func d(name string) te          { return te{kind: 'd', name: name} }
func sl(name, target string) te { return te{kind: 'l', name: name, body: target} }
func hl(name, target string) te { return te{kind: 'h', name: name, body: target} }

func tarBytes(t testing.TB, entries ...te) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		switch e.kind {
		case 'f':
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
		case 'd':
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		case 'l':
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.body
		case 'h':
			h.Typeflag, h.Linkname = tar.TypeLink, e.body
		case 'c':
			h.Typeflag, h.Devmajor, h.Devminor = tar.TypeChar, 1, 3
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.kind == 'f' {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// imageOf builds a real v1.Image (mutate over empty) from layers of entries.
func imageOf(t testing.TB, layers ...[]te) v1.Image {
	t.Helper()
	var ls []v1.Layer
	for _, l := range layers {
		ls = append(ls, static.NewLayer(gz(t, tarBytes(t, l...)), types.OCILayer))
	}
	img, err := mutate.AppendLayers(empty.Image, ls...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// fakeImage serves generated layers; Walk only needs Layers and ConfigFile.
type fakeImage struct {
	v1.Image
	layers []v1.Layer
}

func (i fakeImage) Layers() ([]v1.Layer, error)         { return i.layers, nil }
func (i fakeImage) ConfigFile() (*v1.ConfigFile, error) { return &v1.ConfigFile{}, nil }

// genLayer produces its compressed bytes on the fly, so tests can feed
// gigabytes without holding them.
type genLayer struct {
	v1.Layer
	name string
	gen  func(w io.Writer) error
}

func (g genLayer) Digest() (v1.Hash, error) {
	s := sha256.Sum256([]byte(g.name))
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", s)}, nil
}

func (g genLayer) Compressed() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(g.gen(pw)) }()
	return pr, nil
}

func rawLayer(name string, b []byte) genLayer {
	return genLayer{name: name, gen: func(w io.Writer) error { _, err := w.Write(b); return err }}
}

func fakeImg(ls ...v1.Layer) fakeImage { return fakeImage{layers: ls} }

// render lists an FS as sorted "path kind [detail] @layer" lines.
func render(fsys *FS) string {
	var lines []string
	for _, e := range fsys.Entries() {
		var s string
		switch {
		case e.Mode.IsDir():
			s = e.Path + "/"
		case e.Linkname != "":
			s = e.Path + " -> " + e.Linkname
		case e.Mode.IsRegular():
			body := "?"
			if b, err := fsys.ReadFile(e.Path); err == nil {
				body = string(b)
			}
			s = e.Path + " = " + body
			if e.HardlinkTo != "" {
				s += " (hard " + e.HardlinkTo + ")"
			}
		default:
			s = e.Path + " " + e.Mode.Type().String()
		}
		lines = append(lines, fmt.Sprintf("%s @%d", s, e.Layer.Index))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

type tarHeader = tar.Header

type fakeLayerT = genLayer

func toLayers(ls []genLayer) []v1.Layer {
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = l
	}
	return out
}
