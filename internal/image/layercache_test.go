package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// memLayerCache is a LayerCache in a map.
type memLayerCache struct {
	mu   sync.Mutex
	recs map[string]*LayerRecord
}

func (c *memLayerCache) GetLayer(d string) (*LayerRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.recs[d]
	return r, ok
}

func (c *memLayerCache) PutLayer(d string, r *LayerRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.recs == nil {
		c.recs = map[string]*LayerRecord{}
	}
	c.recs[d] = r
}

// readCounter counts the layer blobs opened, by digest.
type readCounter struct {
	mu    sync.Mutex
	reads map[string]int
}

type countedLayer struct {
	v1.Layer
	c *readCounter
}

func (l countedLayer) Compressed() (io.ReadCloser, error) {
	d, _ := l.Digest()
	l.c.mu.Lock()
	l.c.reads[d.String()]++
	l.c.mu.Unlock()
	return l.Layer.Compressed()
}

func (c *readCounter) image(t *testing.T, img v1.Image) v1.Image {
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Layer
	for _, l := range ls {
		out = append(out, countedLayer{l, c})
	}
	return fakeImg(out...)
}

func (c *readCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.reads {
		n += v
	}
	return n
}

// cachedSel keeps every file under etc/ and var/, streams files under bin/
// through a byte counter with a JSON codec, and streams secrets/ through
// one without a codec (such layers are never cached).
func cachedSel() Selector {
	enc, dec := JSONCodec[int64]()
	count := Stream{Name: "count", KeepHidden: true, Encode: enc, Decode: dec, Read: func(_ string, r io.Reader) (any, error) {
		n, err := io.Copy(io.Discard, r)
		if n == 3 {
			return n, errors.New("three bytes")
		}
		return n, err
	}}
	plain := Stream{Name: "plain", Read: func(_ string, r io.Reader) (any, error) { return io.Copy(io.Discard, r) }}
	return func(p string, _ *tar.Header) Want {
		switch {
		case strings.HasPrefix(p, "etc/"), strings.HasPrefix(p, "var/"):
			return Want{Keep: true}
		case strings.HasPrefix(p, "usr/bin/"):
			return Want{Streams: []Stream{count}}
		case strings.HasPrefix(p, "secrets/"):
			return Want{Streams: []Stream{plain}}
		}
		return Want{}
	}
}

// renderResults adds the stream results (visible and hidden) to render.
func renderResults(fsys *FS) string {
	var b strings.Builder
	b.WriteString(render(fsys))
	for _, r := range fsys.Results("count") {
		fmt.Fprintf(&b, "\ncount %s=%v err=%v @%d", r.Path, r.Value, r.Err, r.Layer)
	}
	for _, r := range fsys.HiddenResults("count") {
		fmt.Fprintf(&b, "\nhidden %s=%v @%d", r.Path, r.Value, r.Layer)
	}
	for _, p := range fsys.Problems() {
		fmt.Fprintf(&b, "\nproblem %s: %s", p.Path, p.Message)
	}
	return b.String()
}

// TestLayerCacheReplay walks images cold, then again from the cache: the
// warm walk must read no blob (or only the layers whose files a stream
// without codec wanted) and give exactly the cold walk's file system,
// stream results and problems.
func TestLayerCacheReplay(t *testing.T) {
	tests := []struct {
		name      string
		layers    [][]te
		warmReads int
	}{
		{"package database replaced by a later layer", [][]te{
			{d("var/"), d("var/lib/"), f("var/lib/status", "a 1\n"), f("etc/os-release", "ID=x")},
			{f("var/lib/status", "a 1\nb 2\n")},
		}, 0},
		{"whiteouts and opaque directories", [][]te{
			{d("etc/"), f("etc/a", "1"), f("etc/b", "2"), d("etc/o/"), f("etc/o/x", "3")},
			{f("etc/.wh.a", ""), f("etc/o/.wh..wh..opq", ""), f("etc/o/y", "4")},
		}, 0},
		{"symlinked directory moves a later file", [][]te{
			{d("usr/"), d("usr/bin/"), sl("bin", "usr/bin")},
			{f("bin/tool", "abcd"), f("bin/three", "abc"), hl("usr/bin/tool2", "usr/bin/tool")},
			{f("usr/bin/.wh.tool", "")},
		}, 0},
		{"stream without codec: its layer is read again", [][]te{
			{f("etc/a", "1")},
			{f("secrets/k", "x")},
		}, 1},
		{"file above the size cap stays a problem", [][]te{
			{f("etc/big", strings.Repeat("x", 100))},
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := imageOf(t, tt.layers...)
			lim := Limits{MaxFileSize: 64}
			want, err := Walk(t.Context(), img, cachedSel(), lim)
			if err != nil {
				t.Fatal(err)
			}
			cache := &memLayerCache{}
			cold, err := WalkCached(t.Context(), img, cachedSel(), lim, cache)
			if err != nil {
				t.Fatal(err)
			}
			if got := renderResults(cold); got != renderResults(want) {
				t.Fatalf("cold walk with a cache:\n%s\nwant\n%s", got, renderResults(want))
			}
			rc := &readCounter{reads: map[string]int{}}
			warm, err := WalkCached(t.Context(), rc.image(t, img), cachedSel(), lim, cache)
			if err != nil {
				t.Fatal(err)
			}
			if got := renderResults(warm); got != renderResults(want) {
				t.Errorf("warm walk:\n%s\nwant\n%s", got, renderResults(want))
			}
			if n := rc.total(); n != tt.warmReads {
				t.Errorf("warm walk read %d layer blobs, want %d", n, tt.warmReads)
			}
			if len(warm.Cached())+tt.warmReads != len(tt.layers) {
				t.Errorf("cached layers %v", warm.Cached())
			}
		})
	}
}

// TestLayerCacheSharedBase: a second image on the same base reads only
// its own layer, and sees its own package database over the base's.
func TestLayerCacheSharedBase(t *testing.T) {
	base := []te{d("etc/"), f("etc/os-release", "ID=debian"), d("var/"), f("var/status", "base")}
	a := imageOf(t, base, []te{f("etc/a", "A")})
	b := imageOf(t, base, []te{f("var/status", "base+b"), f("etc/.wh.os-release", "")})
	cache := &memLayerCache{}
	if _, err := WalkCached(t.Context(), a, cachedSel(), Limits{}, cache); err != nil {
		t.Fatal(err)
	}
	rc := &readCounter{reads: map[string]int{}}
	got, err := WalkCached(t.Context(), rc.image(t, b), cachedSel(), Limits{}, cache)
	if err != nil {
		t.Fatal(err)
	}
	bl, _ := b.Layers()
	own, _ := bl[1].Digest()
	if rc.total() != 1 || rc.reads[own.String()] != 1 {
		t.Errorf("reads %v, want only %s", rc.reads, own)
	}
	if r := render(got); r != "etc/ @0\nvar/ @0\nvar/status = base+b @1" {
		t.Errorf("got\n%s", r)
	}
}

// TestLayerCacheOtherBase: a cached layer replayed over a base where a
// symlink moves its files elsewhere is wanted differently; the walk reads
// every layer again and is right.
func TestLayerCacheOtherBase(t *testing.T) {
	top := []te{f("lib/x", "abcd")}
	plain := imageOf(t, []te{d("lib/")}, top)
	linked := imageOf(t, []te{d("usr/"), d("usr/bin/"), sl("lib", "usr/bin")}, top)
	cache := &memLayerCache{}
	if _, err := WalkCached(t.Context(), plain, cachedSel(), Limits{}, cache); err != nil {
		t.Fatal(err)
	}
	want, err := Walk(t.Context(), linked, cachedSel(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := WalkCached(t.Context(), linked, cachedSel(), Limits{}, cache)
	if err != nil {
		t.Fatal(err)
	}
	if renderResults(got) != renderResults(want) || !strings.Contains(renderResults(got), "count usr/bin/x=4") {
		t.Errorf("got\n%s\nwant\n%s", renderResults(got), renderResults(want))
	}
}

// TestLayerCacheRecordBound: a layer whose record would pass
// MaxRecordBytes is not cached (and is read again next time).
func TestLayerCacheRecordBound(t *testing.T) {
	img := imageOf(t, []te{f("etc/a", strings.Repeat("x", 4000))}, []te{f("etc/b", "1")})
	cache := &memLayerCache{}
	if _, err := WalkCached(t.Context(), img, cachedSel(), Limits{MaxRecordBytes: 2000}, cache); err != nil {
		t.Fatal(err)
	}
	if len(cache.recs) != 1 {
		t.Errorf("%d layers cached, want 1 (the small one)", len(cache.recs))
	}
}
