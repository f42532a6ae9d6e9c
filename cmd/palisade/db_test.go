package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDBCommands(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	priv, pub := filepath.Join(dir, "db.key"), filepath.Join(dir, "db.pub")

	// No database yet: status exits 1.
	if _, _, code := palisade(t, "", "db", "status", "--cache-dir", cache); code != exitFindings {
		t.Errorf("status without a database: exit %d, want 1", code)
	}
	if out, stderr, code := palisade(t, "", "db", "keygen", "--private-key", priv, "--public-key", pub); code != 0 || !strings.Contains(out, "key ID") {
		t.Fatalf("keygen: %d %s %s", code, out, stderr)
	}
	if _, _, code := palisade(t, "", "db", "keygen", "--private-key", priv, "--public-key", pub); code != exitError {
		t.Errorf("keygen over an existing key: exit %d, want 2", code)
	}
	osvDir := "../../internal/vulnmatch/testdata/osv"
	out, stderr, code := palisade(t, "", "db", "import", osvDir, "--name", "fixtures", "--cache-dir", cache)
	if code != 0 || !strings.Contains(out, "imported 10 records") {
		t.Fatalf("import dir: %d %s %s", code, out, stderr)
	}

	// PALISADE_CACHE_DIR stands in for --cache-dir.
	t.Setenv("PALISADE_CACHE_DIR", cache)
	out, stderr, code = palisade(t, "", "db", "status", "-o", "json")
	if code != 0 {
		t.Fatalf("status: %d %s", code, stderr)
	}
	var st struct {
		Exists     bool
		Records    int
		Ecosystems map[string]int
		Sources    []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if !st.Exists || st.Records != 10 || st.Ecosystems["Debian"] != 6 || len(st.Sources) != 1 || st.Sources[0].Name != "fixtures" {
		t.Errorf("status: %+v", st)
	}
	if out, _, code = palisade(t, "", "db", "status"); code != 0 || !strings.Contains(out, "Debian") || !strings.Contains(out, "fresh") {
		t.Errorf("status table: %d\n%s", code, out)
	}
	if _, _, code = palisade(t, "", "db", "status", "--max-age", "1ns"); code != exitFindings {
		t.Errorf("stale status: exit %d, want 1", code)
	}
	if _, _, code = palisade(t, "", "db", "status", "-o", "sarif"); code != exitError {
		t.Errorf("status -o sarif: exit %d, want 2", code)
	}

	bundle := filepath.Join(dir, "bundle.tar.gz")
	if out, stderr, code = palisade(t, "", "db", "export", bundle, "--private-key", priv); code != 0 || !strings.Contains(out, "signed by key") {
		t.Fatalf("export: %d %s %s", code, out, stderr)
	}
	if _, _, code = palisade(t, "", "db", "export", filepath.Join(dir, "x.tar.gz")); code != exitError {
		t.Errorf("export without a key: exit %d", code)
	}

	edge := filepath.Join(dir, "edge")
	if _, _, code = palisade(t, "", "db", "import", bundle, "--cache-dir", edge); code != exitError {
		t.Errorf("bundle import without --public-key: exit %d, want 2", code)
	}
	_, otherPub := filepath.Join(dir, "o.key"), filepath.Join(dir, "o.pub")
	palisade(t, "", "db", "keygen", "--private-key", filepath.Join(dir, "o.key"), "--public-key", otherPub)
	if _, stderr, code = palisade(t, "", "db", "import", bundle, "--public-key", otherPub, "--cache-dir", edge); code != exitError || !strings.Contains(stderr, "signature") {
		t.Errorf("bundle import with the wrong key: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(edge, "vulndb", "osv.db")); !os.IsNotExist(err) {
		t.Errorf("rejected bundle left a database: %v", err)
	}
	if out, stderr, code = palisade(t, "", "db", "import", bundle, "--public-key", pub, "--cache-dir", edge); code != 0 || !strings.Contains(out, "10 records") {
		t.Fatalf("bundle import: %d %s %s", code, out, stderr)
	}
	if _, _, code = palisade(t, "", "db", "import", "db_test.go"); code != exitError {
		t.Errorf("import of a Go file: exit %d, want 2", code)
	}
}

func TestDBUpdateCommand(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("GO-1.json")
	w.Write([]byte(`{"id":"GO-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"example.com/a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}]}`))
	zw.Close()
	body := buf.Bytes()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"1"`)
		if r.URL.Path == "/bad.zip" {
			w.Write(body[:10])
			return
		}
		w.Write(body)
	}))
	defer ts.Close()
	cache := t.TempDir()
	out, stderr, code := palisade(t, "", "db", "update", "--cache-dir", cache, "--source", "go="+ts.URL+"/all.zip")
	if code != 0 || !strings.Contains(out, "go: downloaded") || !strings.Contains(out, "1 records") {
		t.Fatalf("update: %d %s %s", code, out, stderr)
	}
	out, _, code = palisade(t, "", "db", "update", "--cache-dir", cache, "--source", "go="+ts.URL+"/all.zip", "-o", "json")
	if code != 0 || !strings.Contains(out, `"notModified": true`) {
		t.Errorf("second update: %d %s", code, out)
	}
	if _, stderr, code = palisade(t, "", "db", "update", "--cache-dir", cache, "--source", "go="+ts.URL+"/bad.zip"); code != exitError || !strings.Contains(stderr, "zip") {
		t.Errorf("corrupt update: exit %d, %s", code, stderr)
	}
	if _, _, code = palisade(t, "", "db", "update", "--cache-dir", cache, "--source", "x=ftp://a/b"); code != exitError {
		t.Errorf("bad --source: exit %d", code)
	}
}
