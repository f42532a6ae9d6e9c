package vulndb

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestCacheDir(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvCacheDir {
				return v
			}
			return ""
		}
	}
	if got, _ := CacheDir("/flag", env("/env")); got != "/flag" {
		t.Errorf("flag: %q", got)
	}
	if got, _ := CacheDir("", env("/env")); got != "/env" {
		t.Errorf("env: %q", got)
	}
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got, _ := CacheDir("", env("")); got != "/xdg/palisade" {
		t.Errorf("default: %q", got)
	}
}

func TestImportOSVDirectory(t *testing.T) {
	ctx := context.Background()
	c := Cache{Dir: t.TempDir()}
	if _, err := c.Open(ctx); !errors.Is(err, ErrNoDatabase) {
		t.Fatalf("Open before import: %v, want ErrNoDatabase", err)
	}
	res, err := c.ImportOSV(ctx, "testdata/osv", "fixtures", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if res.Source.Records != 2 || res.Source.Skipped != 2 || res.Withdrawn != 1 {
		t.Errorf("import: records %d, skipped %d, withdrawn %d; want 2, 2, 1 (errors %v)", res.Source.Records, res.Source.Skipped, res.Withdrawn, res.Errors)
	}
	db, err := c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tt := range []struct {
		eco, name string
		want      []string
	}{
		{"Debian:12", "openssl", []string{"DEBIAN-CVE-2024-0727"}},
		{"Debian", "openssl", []string{"DEBIAN-CVE-2024-0727"}},
		{"debian:11", "openssl", []string{"DEBIAN-CVE-2024-0727"}},
		{"PyPI", "zope-interface", []string{"PYSEC-2099-1"}},
		{"PyPI", "ZOPE_INTERFACE", []string{"PYSEC-2099-1"}},
		{"npm", "left-pad", nil},
		{"Debian:12", "glibc", nil},
	} {
		recs, err := db.Lookup(tt.eco, tt.name)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		if len(ids) != len(tt.want) || (len(ids) > 0 && ids[0] != tt.want[0]) {
			t.Errorf("Lookup(%q, %q) = %v, want %v", tt.eco, tt.name, ids, tt.want)
		}
	}
	if rec, err := db.Get("PYSEC-2099-1"); err != nil || rec == nil || rec.Aliases[0] != "CVE-2099-1111" {
		t.Errorf("Get: %v %v", rec, err)
	}
	m := db.Metadata()
	if m.Ecosystems["Debian"] != 1 || m.Ecosystems["PyPI"] != 1 || m.Records != 2 {
		t.Errorf("metadata counts: %+v", m)
	}

	st, err := c.Status(ctx, testNow.Add(8*24*time.Hour), DefaultMaxAge)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Exists || !st.Stale || st.Records != 2 || st.Age != 8*24*time.Hour || len(st.Sources) != 1 {
		t.Errorf("status: %+v", st)
	}
	if w := m.StaleWarning(testNow.Add(time.Hour), DefaultMaxAge, ""); w != "" {
		t.Errorf("fresh database warns: %s", w)
	}
	// The warning names the binary its caller gives, palisade by default.
	for program, want := range map[string]string{"": "run `palisade db update`", "palisade-scan": "run `palisade-scan db update`"} {
		if w := m.StaleWarning(testNow.Add(30*24*time.Hour), DefaultMaxAge, program); !strings.Contains(w, want) {
			t.Errorf("stale database, program %q: warning %q, want %q in it", program, w, want)
		}
	}
}

// TestImportKeepsOtherSources imports two sources, then re-imports one: the
// other's records stay, the re-imported one's are replaced.
func TestImportKeepsOtherSources(t *testing.T) {
	ctx := context.Background()
	c := Cache{Dir: t.TempDir()}
	a := writeZip(t, map[string]string{"A-1.json": recordJSON("A-1", "Go", "example.com/a")})
	b := writeZip(t, map[string]string{"B-1.json": recordJSON("B-1", "npm", "b")})
	for _, p := range []struct{ path, name string }{{a, "a"}, {b, "b"}} {
		if _, err := c.ImportOSV(ctx, p.path, p.name, testNow); err != nil {
			t.Fatal(err)
		}
	}
	a2 := writeZip(t, map[string]string{"A-2.json": recordJSON("A-2", "Go", "example.com/a")})
	if _, err := c.ImportOSV(ctx, a2, "a", testNow); err != nil {
		t.Fatal(err)
	}
	db, err := c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	assertIDs(t, db, "Go", "example.com/a", "A-2")
	assertIDs(t, db, "npm", "b", "B-1")
	if n := len(db.Metadata().Sources); n != 2 {
		t.Errorf("%d sources, want 2", n)
	}
}

func TestImportCorruptZipKeepsDatabase(t *testing.T) {
	ctx := context.Background()
	c := Cache{Dir: t.TempDir()}
	good := writeZip(t, map[string]string{"A-1.json": recordJSON("A-1", "Go", "example.com/a")})
	if _, err := c.ImportOSV(ctx, good, "a", testNow); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(c.DBPath())
	data, _ := os.ReadFile(good)
	bad := filepath.Join(t.TempDir(), "bad.zip")
	os.WriteFile(bad, data[:len(data)/2], 0o644)
	if _, err := c.ImportOSV(ctx, bad, "a", testNow); err == nil {
		t.Fatal("import of a truncated zip succeeded")
	}
	after, _ := os.ReadFile(c.DBPath())
	if !bytes.Equal(before, after) {
		t.Fatal("failed import changed the database")
	}
	assertNoTempFiles(t, c)
}

func recordJSON(id, eco, name string) string {
	return `{"id":"` + id + `","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"` + eco + `","name":"` + name + `"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}]}`
}

func zipBytes(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeZip(t testing.TB, files map[string]string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "all.zip")
	if err := os.WriteFile(p, zipBytes(t, files), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func assertIDs(t *testing.T, db *DB, eco, name string, want ...string) {
	t.Helper()
	recs, err := db.Lookup(eco, name)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.ID)
	}
	if len(got) != len(want) {
		t.Fatalf("Lookup(%s, %s) = %v, want %v", eco, name, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("Lookup(%s, %s) = %v, want %v", eco, name, got, want)
		}
	}
}

func assertNoTempFiles(t *testing.T, c Cache) {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Dir(c.DBPath()))
	for _, e := range entries {
		if e.Name() != "osv.db" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
