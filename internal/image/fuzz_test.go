package image

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fuzzLimits keep each fuzz input cheap.
var fuzzLimits = Limits{MaxEntries: 10000, MaxTotalBytes: 1 << 20, MaxFileSize: 64 << 10, MaxUncompressedBytes: 16 << 20}

// FuzzWalkLayer applies an arbitrary layer (plain or gzip tar) over a fixed
// base layer. Any input may fail, none may panic, hang or produce a path
// outside the root; whatever is listed must be readable or report why not.
func FuzzWalkLayer(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	base := tarBytes(f, d("etc/"), f2("etc/passwd", "root:x:0:0"), d("usr/"), d("usr/bin/"), sl("bin", "usr/bin"), f2("usr/bin/sh", "sh"), hl("usr/bin/bash", "usr/bin/sh"))
	f.Fuzz(func(t *testing.T, layer []byte) {
		img := fakeImg(rawLayer("base", base), rawLayer("fuzz", layer))
		timer := time.AfterFunc(60*time.Second, func() {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			panic("walk took over 60s:\n" + string(buf[:n]))
		})
		defer timer.Stop()
		fsys, err := Walk(context.Background(), img, SelectAll(), fuzzLimits)
		if err != nil {
			if !strings.Contains(err.Error(), "layer 1 (sha256:") {
				t.Fatalf("error does not name the layer: %v", err)
			}
			return
		}
		for _, e := range fsys.Entries() {
			if strings.HasPrefix(e.Path, "/") || strings.Contains("/"+e.Path+"/", "/../") || !fs.ValidPath(e.Path) {
				t.Fatalf("path %q escapes or is not canonical", e.Path)
			}
		}
		_ = fs.WalkDir(fsys, ".", func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if de.Type().IsRegular() {
				_, _ = fs.ReadFile(fsys, p)
			}
			_, _ = fs.Stat(fsys, p)
			return nil
		})
	})
}

func f2(name, body string) te { return f(name, body) }

// fuzzSeeds are the hostile and tricky layers of the table tests, so the
// fuzzer starts from the interesting cases. With PALISADE_WRITE_FUZZ_SEEDS=1
// they are also written to testdata/fuzz/FuzzWalkLayer.
func fuzzSeeds(t testing.TB) [][]byte {
	seeds := map[string][]byte{
		"whiteouts":  tarBytes(t, f(".wh.etc", ""), d("etc/"), f("etc/new", "n"), f("usr/.wh..wh..opq", "")),
		"symlinks":   tarBytes(t, sl("a", "/etc"), f("a/x", "1"), sl("up", "../../../../etc/passwd"), sl("loop", "loop")),
		"traversal":  tarBytes(t, f("../../evil", "x")),
		"hardlinks":  tarBytes(t, hl("h", "etc/passwd"), hl("h2", "missing"), hl("h3", "h")),
		"replace":    tarBytes(t, f("etc", "file now"), d("usr/bin/sh/")),
		"gzip":       gz(t, tarBytes(t, f("z", "zipped"), te{kind: 'c', name: "dev/null"})),
		"truncated":  tarBytes(t, f("big", strings.Repeat("x", 3000)))[:1500],
		"empty":      {},
		"throughbin": tarBytes(t, f("bin/new", "via symlink"), f("bin/.wh.sh", "")),
	}
	var out [][]byte
	for name, s := range seeds {
		out = append(out, s)
		if os.Getenv("PALISADE_WRITE_FUZZ_SEEDS") == "1" {
			dir := filepath.Join("testdata", "fuzz", "FuzzWalkLayer")
			_ = os.MkdirAll(dir, 0o755)
			_ = os.WriteFile(filepath.Join(dir, name), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)), 0o644)
		}
	}
	return out
}
