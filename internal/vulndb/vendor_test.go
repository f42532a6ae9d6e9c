package vulndb

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// tarDir packs a testdata directory's regular files into a tar archive,
// compressed as the vendor publishes it ("gz", "zst" or "" for none).
func tarDir(t testing.TB, dir, compress string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	switch compress {
	case "gz":
		return gzipBytes(t, buf.Bytes())
	case "zst":
		var out bytes.Buffer
		zw, err := zstd.NewWriter(&out)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(buf.Bytes())
		zw.Close()
		return out.Bytes()
	}
	return buf.Bytes()
}

// vendorUpdate serves body at path from a local server with an ETag and
// runs `db update` of one source through it, as the vendors' servers are
// used: a first download, a conditional request answered 304, and three
// failures (HTTP 500, a body shorter than its Content-Length, a corrupt
// archive) that each leave the database byte for byte as it was. It
// returns the open database of the first download and its result.
func vendorUpdate(t *testing.T, name, path string, body []byte) (*DB, SourceResult) {
	t.Helper()
	ctx := context.Background()
	srv, ts := newOSVServer(t)
	srv.set(path, body, `"e1"`)
	c := Cache{Dir: t.TempDir()}
	opts := UpdateOptions{Sources: []Source{{Name: name, URL: ts.URL + path}}, Now: func() time.Time { return testNow }}
	res, err := c.Update(ctx, opts)
	if err != nil {
		t.Fatalf("%s: update: %v", name, err)
	}
	first := res.Sources[0]
	if res, err = c.Update(ctx, opts); err != nil || !res.Sources[0].NotModified || res.Sources[0].Records != first.Records {
		t.Fatalf("%s: second update not a 304 keeping %d records: %+v, %v", name, first.Records, res, err)
	}
	if r := srv.lastRequest(path); r.Header.Get("If-None-Match") != `"e1"` {
		t.Errorf("%s: second request not conditional: %v", name, r.Header)
	}
	before, _ := os.ReadFile(c.DBPath())
	for _, tc := range []struct {
		what   string
		path   string
		body   []byte
		mutate func(w http.ResponseWriter, body []byte) []byte
	}{
		{what: "HTTP 500", path: "/missing"},
		{what: "partial download", path: path, body: body, mutate: func(w http.ResponseWriter, b []byte) []byte {
			w.Header().Set("Content-Length", "99999999")
			return b[:len(b)/2]
		}},
		{what: "corrupt archive", path: path, body: append([]byte{0x1f, 0x8b, 8, 0}, body[:len(body)/3]...)},
	} {
		if tc.body != nil {
			srv.set(path, tc.body, `"`+tc.what+`"`)
		}
		srv.mu.Lock()
		srv.mutate = tc.mutate
		srv.mu.Unlock()
		_, err := c.Update(ctx, UpdateOptions{Sources: []Source{{Name: name, URL: ts.URL + tc.path}}, Now: opts.Now})
		srv.mu.Lock()
		srv.mutate = nil
		srv.mu.Unlock()
		if err == nil {
			t.Errorf("%s: %s: update succeeded", name, tc.what)
		}
		if after, _ := os.ReadFile(c.DBPath()); !bytes.Equal(before, after) {
			t.Errorf("%s: %s: failed update changed the database", name, tc.what)
		}
		assertNoTempFiles(t, c)
	}
	db, err := c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, first
}

func writeFile(p, body string) error { return os.WriteFile(p, []byte(body), 0o644) }
