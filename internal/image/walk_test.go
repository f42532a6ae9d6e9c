package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/klauspost/compress/gzip"
)

// TestLayerSemantics checks the final file system of layer stacks against
// what a container runtime produces (OCI image spec, layer.md: whiteouts,
// opaque whiteouts, changesets; containerd's applier for writes below
// symlinked directories).
func TestLayerSemantics(t *testing.T) {
	tests := []struct {
		name   string
		layers [][]te
		want   string
	}{
		{
			name:   "upper layer replaces a file",
			layers: [][]te{{d("etc/"), f("etc/a", "old")}, {f("etc/a", "new")}},
			want:   "etc/ @0\netc/a = new @1",
		},
		{
			name:   "whiteout removes a file",
			layers: [][]te{{f("a", "1"), f("b", "2")}, {f(".wh.a", "")}},
			want:   "b = 2 @0",
		},
		{
			name:   "whiteout removes a directory and everything below",
			layers: [][]te{{d("x/"), d("x/y/"), f("x/y/z", "1"), f("k", "2")}, {f(".wh.x", "")}},
			want:   "k = 2 @0",
		},
		{
			name:   "whiteout then same-layer re-creation keeps the new files only",
			layers: [][]te{{d("x/"), f("x/old", "1")}, {f(".wh.x", ""), d("x/"), f("x/new", "2")}},
			want:   "x/ @1\nx/new = 2 @1",
		},
		{
			name:   "whiteout does not hide a file of its own layer, in either order",
			layers: [][]te{{f("x/a", "0")}, {f("x/a", "1"), f("x/.wh.a", "")}},
			want:   "x/ @0\nx/a = 1 @1",
		},
		{
			name:   "opaque directory hides lower children, keeps its layer's",
			layers: [][]te{{d("o/"), f("o/lower", "1"), d("o/sub/"), f("o/sub/deep", "2")}, {d("o/"), f("o/upper", "3"), f("o/.wh..wh..opq", "")}},
			want:   "o/ @1\no/upper = 3 @1",
		},
		{
			name:   "opaque marker without a directory entry creates the directory",
			layers: [][]te{{f("o/lower", "1")}, {f("o/.wh..wh..opq", "")}},
			want:   "o/ @0",
		},
		{
			name:   "whiteout of a missing path and aufs metadata are ignored",
			layers: [][]te{{f("a", "1")}, {f(".wh.nothing", ""), f(".wh..wh.plnk/123", ""), f(".wh..wh.aufs", "")}},
			want:   "a = 1 @0",
		},
		{
			name:   "file replaces a directory tree",
			layers: [][]te{{d("p/"), f("p/q", "1")}, {f("p", "file")}},
			want:   "p = file @1",
		},
		{
			name:   "directory replaces a file",
			layers: [][]te{{f("p", "file")}, {d("p/"), f("p/q", "1")}},
			want:   "p/ @1\np/q = 1 @1",
		},
		{
			name:   "directory entry in an upper layer keeps lower children",
			layers: [][]te{{d("p/"), f("p/q", "1")}, {d("p/")}},
			want:   "p/ @1\np/q = 1 @0",
		},
		{
			name:   "missing parents are created",
			layers: [][]te{{f("a/b/c", "1")}},
			want:   "a/ @0\na/b/ @0\na/b/c = 1 @0",
		},
		{
			name:   "names with ./ and / prefixes are normalised",
			layers: [][]te{{d("./"), f("./a", "1"), f("/b", "2"), f("c/../d", "3")}},
			want:   "a = 1 @0\nb = 2 @0\nd = 3 @0",
		},
		{
			name:   "a write below a symlinked directory lands in its target",
			layers: [][]te{{d("usr/"), d("usr/bin/"), sl("bin", "usr/bin")}, {f("bin/tool", "x")}},
			want:   "bin -> usr/bin @0\nusr/ @0\nusr/bin/ @0\nusr/bin/tool = x @1",
		},
		{
			name:   "absolute symlinked directory resolves inside the root",
			layers: [][]te{{d("real/"), sl("lnk", "/real")}, {f("lnk/f", "x")}},
			want:   "lnk -> /real @0\nreal/ @0\nreal/f = x @1",
		},
		{
			name:   "whiteout through a symlinked directory",
			layers: [][]te{{d("usr/"), d("usr/bin/"), f("usr/bin/gone", "1"), sl("bin", "usr/bin")}, {f("bin/.wh.gone", "")}},
			want:   "bin -> usr/bin @0\nusr/ @0\nusr/bin/ @0",
		},
		{
			name:   "replacing a symlink replaces the link, not its target",
			layers: [][]te{{f("t", "target"), sl("l", "t")}, {f("l", "own")}},
			want:   "l = own @1\nt = target @0",
		},
		{
			name:   "hardlink in the same layer shares content",
			layers: [][]te{{f("a", "data"), hl("b", "a")}},
			want:   "a = data @0\nb = data (hard a) @0",
		},
		{
			name:   "hardlink to a lower layer's file",
			layers: [][]te{{f("a", "data")}, {hl("b", "/a")}},
			want:   "a = data @0\nb = data (hard a) @1",
		},
		{
			name:   "hardlinked file survives removal of the original",
			layers: [][]te{{f("a", "data"), hl("b", "a")}, {f(".wh.a", "")}},
			want:   "b = data (hard a) @0",
		},
		{
			name:   "device files are listed, never read",
			layers: [][]te{{d("dev/"), {kind: 'c', name: "dev/null"}}},
			want:   "dev/ @0\ndev/null Dc---------",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys, err := Walk(context.Background(), imageOf(t, tc.layers...), SelectAll(), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			got := render(fsys)
			if strings.Contains(tc.want, "Dc") {
				got = strings.ReplaceAll(got, " @0", "")
				tc.want = strings.ReplaceAll(tc.want, " @0", "")
			}
			if got != tc.want {
				t.Errorf("final file system:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestSymlinkResolution(t *testing.T) {
	img := imageOf(t,
		[]te{
			d("etc/"), f("etc/passwd", "image-passwd"), f("etc/real", "real"),
			sl("etc/abs", "/etc/real"),
			d("a/"), d("a/b/"), sl("a/b/up", "../../../../../../etc/passwd"),
			sl("loop1", "loop2"), sl("loop2", "loop1"),
			sl("dangling", "/nope"),
			sl("dirlink", "etc"),
		},
	)
	fsys, err := Walk(context.Background(), img, SelectAll(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want string
		wantErr    bool
	}{
		{"etc/abs", "real", false},
		{"a/b/up", "image-passwd", false}, // ".." stops at the image root
		{"dirlink/passwd", "image-passwd", false},
		{"dirlink/../etc/real", "", true}, // fs.ValidPath rejects ".."
		{"loop1", "", true},
		{"dangling", "", true},
	}
	for _, tc := range tests {
		b, err := fs.ReadFile(fsys, tc.path)
		if (err != nil) != tc.wantErr || string(b) != tc.want {
			t.Errorf("ReadFile(%s) = %q, %v; want %q (error %v)", tc.path, b, err, tc.want, tc.wantErr)
		}
	}
	if l, err := fsys.ReadLink("etc/abs"); err != nil || l != "/etc/real" {
		t.Errorf("ReadLink = %q, %v", l, err)
	}
	if fi, err := fsys.Lstat("dirlink"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat(dirlink) = %v, %v", fi, err)
	}
	if fi, err := fs.Stat(fsys, "dirlink"); err != nil || !fi.IsDir() {
		t.Errorf("Stat(dirlink) = %v, %v", fi, err)
	}
}

func TestFSConformance(t *testing.T) {
	img := imageOf(t,
		[]te{d("etc/"), f("etc/os-release", "ID=debian\n"), d("usr/"), d("usr/bin/"), f("usr/bin/env", "ELF"), sl("bin", "usr/bin")},
		[]te{f("etc/hostname", "h"), f("usr/bin/.wh.env", ""), f("usr/bin/sh", "#!")},
	)
	fsys, err := Walk(context.Background(), img, SelectAll(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(fsys, "etc/os-release", "etc/hostname", "usr/bin/sh"); err != nil {
		t.Fatal(err)
	}
	if b, err := fs.ReadFile(fsys, "bin/sh"); err != nil || string(b) != "#!" {
		t.Errorf("ReadFile(bin/sh) = %q, %v", b, err)
	}
	var walked []string
	if err := fs.WalkDir(fsys, ".", func(p string, _ fs.DirEntry, err error) error {
		walked = append(walked, p)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(walked, " "); got != ". bin etc etc/hostname etc/os-release usr usr/bin usr/bin/sh" {
		t.Errorf("WalkDir = %s", got)
	}
	l, ok := fsys.LayerOf("bin/sh")
	if !ok || l.Index != 1 || !strings.HasPrefix(l.Digest, "sha256:") || !strings.HasPrefix(l.DiffID, "sha256:") {
		t.Errorf("LayerOf(bin/sh) = %+v, %v", l, ok)
	}
	if l, _ := fsys.LayerOf("etc/os-release"); l.Index != 0 {
		t.Errorf("LayerOf(etc/os-release) = %+v", l)
	}
}

func TestSelection(t *testing.T) {
	img := imageOf(t, []te{f("keep", "k"), f("skip", "s"), f("big", strings.Repeat("x", 100))})
	sel := Combine(SelectPaths("/keep"), func(p string, _ *tar.Header) Want {
		if p == "big" {
			return Want{Keep: true, MaxSize: 10}
		}
		return Want{}
	})
	fsys, err := Walk(context.Background(), img, sel, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := fs.ReadFile(fsys, "keep"); err != nil || string(b) != "k" {
		t.Errorf("keep: %q %v", b, err)
	}
	if _, err := fs.ReadFile(fsys, "skip"); !errors.Is(err, ErrNotSelected) {
		t.Errorf("skip: %v, want ErrNotSelected", err)
	}
	if _, err := fs.ReadFile(fsys, "big"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("big: %v, want ErrTooLarge", err)
	}
	if fi, err := fs.Stat(fsys, "skip"); err != nil || fi.Size() != 1 {
		t.Errorf("Stat(skip) = %v, %v", fi, err)
	}
	if p := fsys.Problems(); len(p) != 1 || p[0].Path != "big" {
		t.Errorf("problems = %v", p)
	}
}

// TestStreams feeds a file larger than every in-memory cap to two streams
// at once, and checks that results follow the final file system.
func TestStreams(t *testing.T) {
	const size = 40 << 20
	marker := []byte("\xff Go buildinf:")
	big := genLayer{name: "big", gen: func(w io.Writer) error {
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		tw := tar.NewWriter(zw)
		if err := tw.WriteHeader(&tar.Header{Name: "app", Mode: 0o755, Size: size, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		chunk := make([]byte, 1<<20)
		for i := 0; i < size/len(chunk); i++ {
			if i == size/len(chunk)-1 {
				copy(chunk[len(chunk)-len(marker):], marker)
			}
			if _, err := tw.Write(chunk); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: "gone", Mode: 0o755, Size: 1, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write([]byte("g")); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: "app2", Typeflag: tar.TypeLink, Linkname: "app"}); err != nil {
			return err
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return zw.Close()
	}}
	upper := rawLayer("upper", gz(t, tarBytes(t, f(".wh.gone", ""))))
	count := Stream{Name: "count", Read: func(_ string, r io.Reader) (any, error) {
		n, err := io.Copy(io.Discard, r)
		return n, err
	}}
	find := Stream{Name: "buildinfo", Read: func(_ string, r io.Reader) (any, error) {
		// A cataloger would scan for the marker with a sliding window;
		// here the whole stream is searched chunk by chunk.
		buf := make([]byte, 64<<10)
		var carry []byte
		var off int64
		for {
			n, err := r.Read(buf)
			hay := append(carry, buf[:n]...)
			if i := bytes.Index(hay, marker); i >= 0 {
				return off - int64(len(carry)) + int64(i), nil
			}
			off += int64(n)
			if len(hay) >= len(marker) {
				carry = append([]byte(nil), hay[len(hay)-len(marker)+1:]...)
			}
			if err == io.EOF {
				return int64(-1), nil
			}
			if err != nil {
				return nil, err
			}
		}
	}}
	sel := func(string, *tar.Header) Want { return Want{Streams: []Stream{count, find}} }
	fsys, err := Walk(context.Background(), fakeImg(big, upper), sel, Limits{MaxFileSize: 1 << 20, MaxTotalBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	r, ok := fsys.Result("app", "count")
	if !ok || r.Value.(int64) != size || r.Err != nil {
		t.Errorf("count(app) = %+v", r)
	}
	r, ok = fsys.Result("app", "buildinfo")
	if !ok || r.Value.(int64) != size-int64(len(marker)) {
		t.Errorf("buildinfo(app) = %+v, want offset %d", r, size-len(marker))
	}
	if r, ok := fsys.Result("app2", "count"); !ok || r.Value.(int64) != size {
		t.Errorf("hardlink result = %+v, %v", r, ok)
	}
	res := fsys.Results("count")
	if len(res) != 2 || res[0].Path != "app" || res[1].Path != "app2" {
		t.Errorf("Results = %+v (the whited-out file must not appear)", res)
	}
}

// TestHostileLayers: every hostile layer is an error naming the layer,
// never a panic, a hang or unbounded memory.
func TestHostileLayers(t *testing.T) {
	zeros := func(w io.Writer, n int64) error {
		_, err := io.CopyN(w, zeroReader{}, n)
		return err
	}
	// A gzip member of 64 MiB of zeros repeated: 1000:1 per member.
	zmember := func() []byte {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_ = zeros(zw, 64<<20)
		zw.Close()
		return b.Bytes()
	}()
	bomb := genLayer{name: "bomb", gen: func(w io.Writer) error {
		var hb bytes.Buffer
		tw := tar.NewWriter(&hb)
		_ = tw.WriteHeader(&tar.Header{Name: "zeros", Mode: 0o644, Size: 1 << 40, Typeflag: tar.TypeReg})
		tw.Flush()
		if _, err := w.Write(gz(t, hb.Bytes())); err != nil {
			return err
		}
		for range 16384 { // 1 TiB if nothing stops it
			if _, err := w.Write(zmember); err != nil {
				return err
			}
		}
		return nil
	}}
	tests := []struct {
		name    string
		layer   func() genLayer
		lim     Limits
		sel     Selector
		wantErr error
		wantMsg string
	}{
		{"path traversal", func() genLayer { return rawLayer("trav", tarBytes(t, f("../../etc/passwd", "x"))) }, Limits{}, nil, ErrMalformed, "climbs out"},
		{"traversal inside a path", func() genLayer { return rawLayer("trav2", tarBytes(t, f("a/../../b", "x"))) }, Limits{}, nil, ErrMalformed, "climbs out"},
		{"hardlink traversal", func() genLayer { return rawLayer("hl", tarBytes(t, hl("x", "../../etc/shadow"))) }, Limits{}, nil, ErrMalformed, "climbs out"},
		{"hardlink to nothing", func() genLayer { return rawLayer("hl2", tarBytes(t, hl("x", "nope"))) }, Limits{}, nil, ErrMalformed, "does not exist"},
		{"hardlink to a directory", func() genLayer { return rawLayer("hl3", tarBytes(t, d("d/"), hl("x", "d"))) }, Limits{}, nil, ErrMalformed, "directory"},
		{"file below a file", func() genLayer { return rawLayer("nd", tarBytes(t, f("a", "1"), f("a/b", "2"))) }, Limits{}, nil, ErrMalformed, "not a directory"},
		{"symlink loop as parent", func() genLayer {
			return rawLayer("loop", tarBytes(t, sl("x", "y"), sl("y", "x"), f("x/f", "1")))
		}, Limits{}, nil, ErrMalformed, "symbolic links"},
		{"long path", func() genLayer { return rawLayer("long", tarBytes(t, f(strings.Repeat("a/", 3000)+"f", "1"))) }, Limits{}, nil, ErrLimit, "longer than"},
		{"malformed tar", func() genLayer { return rawLayer("junk", bytes.Repeat([]byte("not a tar "), 200)) }, Limits{}, nil, ErrMalformed, ""},
		{"truncated tar", func() genLayer {
			b := tarBytes(t, f("a", strings.Repeat("x", 5000)))
			return rawLayer("trunc", b[:2000])
		}, Limits{}, SelectAll(), ErrMalformed, ""},
		{"truncated gzip", func() genLayer {
			b := gz(t, tarBytes(t, f("a", strings.Repeat("xy", 50000))))
			return rawLayer("truncgz", b[:len(b)/2])
		}, Limits{}, nil, ErrMalformed, ""},
		{"total kept bytes", func() genLayer {
			return rawLayer("total", tarBytes(t, f("a", strings.Repeat("x", 600)), f("b", strings.Repeat("x", 600))))
		}, Limits{MaxTotalBytes: 1000}, SelectAll(), ErrLimit, "total"},
		{"uncompressed total", func() genLayer {
			return genLayer{name: "unc", gen: func(w io.Writer) error {
				tw := tar.NewWriter(w)
				_ = tw.WriteHeader(&tar.Header{Name: "z", Size: 10 << 20, Mode: 0o644, Typeflag: tar.TypeReg})
				return zeros(tw, 10<<20)
			}}
		}, Limits{MaxUncompressedBytes: 1 << 20}, nil, ErrLimit, "decompressed bytes"},
		{"gzip bomb", func() genLayer { return bomb }, Limits{}, nil, ErrLimit, "decompression bomb"},
		{"gzip CRC-32 mismatch", func() genLayer {
			b := gz(t, tarBytes(t, f("a", strings.Repeat("xy", 50000)), f("b", "1")))
			b[len(b)-6] ^= 1 // the trailer's CRC-32
			return rawLayer("badcrc", b)
		}, Limits{}, nil, ErrMalformed, "checksum"},
		{"gzip CRC-32 mismatch, selected files", func() genLayer {
			b := gz(t, tarBytes(t, f("a", strings.Repeat("xy", 50000)), f("b", "1")))
			b[len(b)-6] ^= 1
			return rawLayer("badcrc2", b)
		}, Limits{}, SelectAll(), ErrMalformed, "checksum"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.layer()
			fsys, err := Walk(context.Background(), fakeImg(l), tc.sel, tc.lim)
			if err == nil {
				t.Fatalf("no error; final view:\n%s", render(fsys))
			}
			dg, _ := l.Digest()
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), dg.String()) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q; want %v naming %s and saying %q", err, tc.wantErr, dg, tc.wantMsg)
			}
		})
	}
}

// TestHugeFileNotKept: a 300 MiB selected file is listed, not kept.
func TestHugeFileNotKept(t *testing.T) {
	l := genLayer{name: "huge", gen: func(w io.Writer) error {
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		tw := tar.NewWriter(zw)
		_ = tw.WriteHeader(&tar.Header{Name: "huge", Size: 300 << 20, Mode: 0o644, Typeflag: tar.TypeReg})
		if _, err := io.CopyN(tw, zeroReader{}, 300<<20); err != nil {
			return err
		}
		tw.Close()
		return zw.Close()
	}}
	fsys, err := Walk(context.Background(), fakeImg(l), SelectAll(), Limits{MaxCompressionRatio: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.ReadFile(fsys, "huge"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadFile = %v, want ErrTooLarge", err)
	}
	if fi, _ := fs.Stat(fsys, "huge"); fi.Size() != 300<<20 {
		t.Errorf("size = %d", fi.Size())
	}
}

// TestManyEntries: a layer of more than a million tiny entries stops at
// the entry cap.
func TestManyEntries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 1M-entry layer")
	}
	l := genLayer{name: "many", gen: func(w io.Writer) error {
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		tw := tar.NewWriter(zw)
		for i := range 1_000_001 {
			if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%03d/f%d", i%1000, i), Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
				return err
			}
		}
		tw.Close()
		return zw.Close()
	}}
	_, err := Walk(context.Background(), fakeImg(l), nil, Limits{})
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "entries") {
		t.Fatalf("error %v, want the entry limit", err)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Walk(ctx, imageOf(t, []te{f("a", "1")}), nil, Limits{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
