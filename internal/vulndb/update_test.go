package vulndb

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// osvServer serves OSV zips the way OSV's bucket does: with an ETag and
// Last-Modified, answering conditional requests with 304.
type osvServer struct {
	mu       sync.Mutex
	files    map[string][]byte // path -> body
	etags    map[string]string
	requests []*http.Request
	// mutate, when set, changes the response after the ETag is computed.
	mutate func(w http.ResponseWriter, body []byte) []byte
}

func (s *osvServer) set(path string, body []byte, etag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path], s.etags[path] = body, etag
}

func (s *osvServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	body, ok := s.files[r.URL.Path]
	etag := s.etags[r.URL.Path]
	s.requests = append(s.requests, r)
	mutate := s.mutate
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Last-Modified", "Mon, 02 Jan 2026 15:04:05 GMT")
	sum := md5.Sum(body)
	w.Header().Set("X-Goog-Hash", "crc32c=AAAAAA==,md5="+base64.StdEncoding.EncodeToString(sum[:]))
	if mutate != nil {
		body = mutate(w, body)
	}
	// crc32c of the body is not computed by this server; drop the claim.
	w.Header().Set("X-Goog-Hash", strings.Replace(w.Header().Get("X-Goog-Hash"), "crc32c=AAAAAA==,", "", 1))
	w.Write(body)
}

func newOSVServer(t *testing.T) (*osvServer, *httptest.Server) {
	s := &osvServer{files: map[string][]byte{}, etags: map[string]string{}}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

func (s *osvServer) lastRequest(path string) *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.requests) - 1; i >= 0; i-- {
		if s.requests[i].URL.Path == path {
			return s.requests[i]
		}
	}
	return nil
}

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	srv, ts := newOSVServer(t)
	srv.set("/Go/all.zip", zipBytes(t, map[string]string{
		"GO-1.json": recordJSON("GO-1", "Go", "example.com/a"),
		"bad.json":  `{"id":"bad id"}`,
	}), `"v1"`)
	srv.set("/npm/all.zip", zipBytes(t, map[string]string{"GHSA-1.json": recordJSON("GHSA-1", "npm", "b")}), `"n1"`)
	c := Cache{Dir: t.TempDir()}
	clock := testNow
	opts := UpdateOptions{
		Sources: []Source{{Name: "Go", URL: ts.URL + "/Go/all.zip"}, {Name: "npm", URL: ts.URL + "/npm/all.zip"}},
		Now:     func() time.Time { return clock },
	}

	// First update: both downloaded.
	res, err := c.Update(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sources) != 2 || res.Sources[0].NotModified || res.Sources[0].Records != 1 || res.Sources[0].Skipped != 1 {
		t.Fatalf("first update: %+v", res.Sources)
	}
	if r := srv.lastRequest("/Go/all.zip"); r.Header.Get("If-None-Match") != "" {
		t.Errorf("first request was conditional: %v", r.Header)
	}

	// Second update: the Go export changed, npm did not (304).
	clock = clock.Add(time.Hour)
	srv.set("/Go/all.zip", zipBytes(t, map[string]string{
		"GO-1.json": recordJSON("GO-1", "Go", "example.com/a"),
		"GO-2.json": recordJSON("GO-2", "Go", "example.com/a"),
	}), `"v2"`)
	if res, err = c.Update(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if r := srv.lastRequest("/npm/all.zip"); r.Header.Get("If-None-Match") != `"n1"` || r.Header.Get("If-Modified-Since") == "" {
		t.Errorf("second request not conditional: %v", r.Header)
	}
	if res.Sources[0].NotModified || !res.Sources[1].NotModified || res.Sources[1].Records != 1 {
		t.Errorf("second update: %+v", res.Sources)
	}
	db, err := c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	assertIDs(t, db, "Go", "example.com/a", "GO-1", "GO-2")
	assertIDs(t, db, "npm", "b", "GHSA-1")
	m := db.Metadata()
	db.Close()
	if !m.Updated.Equal(clock) || m.Records != 3 {
		t.Errorf("metadata: updated %v, records %d", m.Updated, m.Records)
	}
	for _, s := range m.Sources {
		if s.Name == "npm" && (!s.Checked.Equal(clock) || !s.Fetched.Equal(testNow)) {
			t.Errorf("npm: checked %v, fetched %v", s.Checked, s.Fetched)
		}
	}

	// Failures leave the database byte for byte as it was.
	before, _ := os.ReadFile(c.DBPath())
	good := zipBytes(t, map[string]string{"GO-3.json": recordJSON("GO-3", "Go", "example.com/a")})
	for _, tt := range []struct {
		name   string
		body   []byte
		mutate func(w http.ResponseWriter, body []byte) []byte
		source Source
	}{
		{name: "corrupt zip", body: append([]byte("PK\x03\x04garbage"), good[20:]...)},
		{name: "truncated zip", body: good[:len(good)/2]},
		{name: "flipped byte (zip CRC)", body: flipRecordByte(t, good)},
		{name: "md5 mismatch", body: good, mutate: func(w http.ResponseWriter, body []byte) []byte {
			w.Header().Set("X-Goog-Hash", "md5=AAAAAAAAAAAAAAAAAAAAAA==")
			return body
		}},
		{name: "short body", body: good, mutate: func(w http.ResponseWriter, body []byte) []byte {
			w.Header().Set("Content-Length", "100000")
			return body
		}},
		{name: "pinned sha256 mismatch", body: good, source: Source{SHA256: strings.Repeat("0", 64)}},
		{name: "HTTP 500", body: nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv.mu.Lock()
			srv.mutate = tt.mutate
			srv.mu.Unlock()
			defer func() { srv.mu.Lock(); srv.mutate = nil; srv.mu.Unlock() }()
			path := "/Go/all.zip"
			if tt.body == nil {
				path = "/missing.zip"
			} else {
				srv.set(path, tt.body, `"`+tt.name+`"`)
			}
			src := tt.source
			src.Name, src.URL = "Go", ts.URL+path
			_, err := c.Update(ctx, UpdateOptions{Sources: []Source{src, opts.Sources[1]}, Now: opts.Now})
			if err == nil {
				t.Fatal("update succeeded")
			}
			after, _ := os.ReadFile(c.DBPath())
			if !bytes.Equal(before, after) {
				t.Fatal("failed update changed the database")
			}
			assertNoTempFiles(t, c)
		})
	}

	// Checksum sidecar that matches: the update goes through.
	srv.set("/Go/all.zip", good, `"v3"`)
	srv.set("/Go/all.zip.sha256", []byte(sha256Hex(good)+"  all.zip\n"), `"s"`)
	_, err = c.Update(ctx, UpdateOptions{Sources: []Source{{Name: "Go", URL: ts.URL + "/Go/all.zip", ChecksumURL: ts.URL + "/Go/all.zip.sha256"}}, Now: opts.Now})
	if err != nil {
		t.Fatal(err)
	}
	db, err = c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	assertIDs(t, db, "Go", "example.com/a", "GO-3")
	// npm is no longer configured: dropped.
	assertIDs(t, db, "npm", "b")
}

func TestParseSource(t *testing.T) {
	for _, tt := range []struct {
		in, name, url, err string
		format             string
	}{
		{"Debian", "Debian", OSVExportBase + "Debian/all.zip", "", ""},
		{"Red Hat", "Red Hat", OSVExportBase + "Red%20Hat/all.zip", "", ""},
		{"mirror=https://mirror.example/osv/Go/all.zip", "mirror", "https://mirror.example/osv/Go/all.zip", "", FormatOSV},
		{"x=ftp://host/a.zip", "", "", "not an http", ""},
		{"https://host/a.zip", "", "", "want NAME=URL", ""},
		{"nvd-2024", "nvd-2024", NVDFeedBase + "nvdcve-2.0-2024.json.gz", "", FormatNVD},
		{"NVD-modified", "nvd-modified", NVDFeedBase + "nvdcve-2.0-modified.json.gz", "", FormatNVD},
		{"kev", "kev", KEVURL, "", FormatKEV},
		{"epss", "epss", EPSSURL, "", FormatEPSS},
		{"debian-tracker", "debian-tracker", DebianTrackerURL, "", FormatDebianTracker},
		{"nvd=https://mirror.example/nvd/2024.json.gz", "nvd", "https://mirror.example/nvd/2024.json.gz", "", FormatNVD},
		{"kev-mirror=https://mirror.example/kev.json", "kev-mirror", "https://mirror.example/kev.json", "", FormatKEV},
	} {
		s, err := ParseSource(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseSource(%q): %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || s.Name != tt.name || s.URL != tt.url || s.Format != tt.format {
			t.Errorf("ParseSource(%q) = %+v, %v", tt.in, s, err)
		}
	}
}

// flipRecordByte returns an archive whose only record is stored
// uncompressed, with one byte changed so that the entry's CRC-32 no longer
// matches.
func flipRecordByte(t *testing.T, _ []byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "GO-3.json", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(recordJSON("GO-3", "Go", "example.com/a")))
	zw.Close()
	out := buf.Bytes()
	i := bytes.Index(out, []byte(`"GO-3"`))
	out[i+1] = 'X'
	return out
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestFetchChecksHeaderHashes checks each hash header a download may
// carry, right and wrong: the hashes are computed only when a header
// asks, so each must still be checked when it does.
func TestFetchChecksHeaderHashes(t *testing.T) {
	body := []byte("an archive's bytes")
	md := md5.Sum(body)
	goodMD5 := base64.StdEncoding.EncodeToString(md[:])
	var c [4]byte
	binary.BigEndian.PutUint32(c[:], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	goodCRC := base64.StdEncoding.EncodeToString(c[:])
	for _, tc := range []struct {
		name    string
		headers map[string]string
		ok      bool
	}{
		{"no hash headers", nil, true},
		{"Content-MD5 right", map[string]string{"Content-MD5": goodMD5}, true},
		{"Content-MD5 wrong", map[string]string{"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}, false},
		{"x-goog-hash both right", map[string]string{"X-Goog-Hash": "crc32c=" + goodCRC + ",md5=" + goodMD5}, true},
		{"x-goog-hash md5 wrong", map[string]string{"X-Goog-Hash": "crc32c=" + goodCRC + ",md5=AAAAAAAAAAAAAAAAAAAAAA=="}, false},
		{"x-goog-hash crc32c wrong", map[string]string{"X-Goog-Hash": "crc32c=AAAAAA==,md5=" + goodMD5}, false},
		{"x-goog-hash crc32c alone, right", map[string]string{"X-Goog-Hash": "crc32c=" + goodCRC}, true},
		{"x-goog-hash crc32c alone, wrong", map[string]string{"X-Goog-Hash": "crc32c=AAAAAA=="}, false},
		{"x-goog-hash md5 empty", map[string]string{"X-Goog-Hash": "md5="}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.headers {
					w.Header().Set(k, v)
				}
				w.Write(body)
			}))
			defer ts.Close()
			opts := UpdateOptions{Client: ts.Client(), MaxDownload: 1 << 20}
			path, _, err := fetch(context.Background(), opts, Source{Name: "s", URL: ts.URL}, SourceState{}, false, t.TempDir())
			if (err == nil) != tc.ok {
				t.Fatalf("fetch error %v, want ok %v", err, tc.ok)
			}
			if tc.ok && path == "" {
				t.Fatal("no archive")
			}
		})
	}
}
