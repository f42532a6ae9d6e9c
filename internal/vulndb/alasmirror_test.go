package vulndb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"
)

// repomdXML is a repository's repodata/repomd.xml in the layout Amazon
// Linux's repositories serve (yum's repomd format): the updateinfo entry
// with the SHA-256 of its compressed file and its location.
func repomdXML(sum, href string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1733400000</revision>
  <data type="primary">
    <checksum type="sha256">` + strings.Repeat("a", 64) + `</checksum>
    <location href="repodata/primary.xml.gz"/>
    <timestamp>1733400000</timestamp>
  </data>
  <data type="updateinfo">
    <checksum type="sha256">` + sum + `</checksum>
    <open-checksum type="sha256">` + strings.Repeat("b", 64) + `</open-checksum>
    <location href="` + href + `"/>
    <timestamp>1733400000</timestamp>
    <size>1234</size>
  </data>
</repomd>
`)
}

// TestALASMirrorList follows Amazon Linux's mirror lists from a local
// server laid out as cdn.amazonlinux.com is (mirror.list → a repository
// named by its release's GUID → repodata/repomd.xml → the updateinfo file
// it names): the advisories are imported; an unchanged hash in repomd.xml
// downloads nothing; the same repository answers a conditional request
// with 304; a new release's repository is followed; a mirror that fails
// falls back to the next; a missing or empty mirror list, a repository
// without updateinfo and a file that does not match its hash fail the
// update and leave the database as it was.
func TestALASMirrorList(t *testing.T) {
	ctx := context.Background()
	srv, ts := newOSVServer(t)
	xml2023, err := os.ReadFile("testdata/alas/updateinfo-al2023.xml")
	if err != nil {
		t.Fatal(err)
	}
	gz := gzipBytes(t, xml2023)
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	const list = "/al2023/core/mirrors/latest/x86_64/mirror.list"
	repo := func(guid string) string { return "/al2023/core/guids/" + guid + "/x86_64/" }
	serveRepo := func(guid string, updateinfo []byte, repomdSum string) {
		srv.set(repo(guid)+"repodata/repomd.xml", repomdXML(repomdSum, "repodata/"+guid[:8]+"-updateinfo.xml.gz"), `"md-`+guid+`"`)
		srv.set(repo(guid)+"repodata/"+guid[:8]+"-updateinfo.xml.gz", updateinfo, `"ui-`+guid+`"`)
	}
	guid1 := "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	serveRepo(guid1, gz, sum(gz))
	srv.set(list, []byte(ts.URL+repo(guid1)+"\n"), `"list-1"`)

	c := Cache{Dir: t.TempDir()}
	clock := testNow
	src, err := ParseSource("alas-2023=" + ts.URL + list)
	if err != nil || src.Format != FormatALAS {
		t.Fatalf("ParseSource: %+v, %v", src, err)
	}
	opts := UpdateOptions{Sources: []Source{src}, Now: func() time.Time { return clock }}
	requests := func(path string) int {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		n := 0
		for _, r := range srv.requests {
			if r.URL.Path == path {
				n++
			}
		}
		return n
	}
	uiPath := repo(guid1) + "repodata/" + guid1[:8] + "-updateinfo.xml.gz"

	res, err := c.Update(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sources) != 1 || res.Sources[0].NotModified || res.Sources[0].Records != 2 {
		t.Fatalf("first update: %+v", res.Sources)
	}
	st := res.Metadata.Sources[0]
	if st.Location != ts.URL+list || st.Resolved != ts.URL+uiPath || st.SHA256 != sum(gz) {
		t.Errorf("source state %+v", st)
	}
	checkRecords := func(step string, want int) {
		t.Helper()
		db, err := c.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		recs, err := db.Lookup("Amazon Linux:2023", "openssl-libs")
		if err != nil || len(recs) != want {
			t.Errorf("%s: openssl-libs of Amazon Linux 2023: %d records, %v; want %d", step, len(recs), err, want)
		}
	}
	checkRecords("first update", 1)

	// Same release: repomd.xml announces the hash already imported.
	clock = clock.Add(time.Hour)
	if res, err = c.Update(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if !res.Sources[0].NotModified || requests(uiPath) != 1 {
		t.Errorf("unchanged hash: %+v, %d downloads of updateinfo", res.Sources, requests(uiPath))
	}
	checkRecords("unchanged", 1)

	// A repomd.xml without a SHA-256: the file's request is conditional
	// and the server's 304 keeps the records.
	srv.set(repo(guid1)+"repodata/repomd.xml", bytes.Replace(repomdXML(sum(gz), "repodata/"+guid1[:8]+"-updateinfo.xml.gz"),
		[]byte(`<checksum type="sha256">`+sum(gz)), []byte(`<checksum type="sha1">`+strings.Repeat("c", 40)), 1), `"md-2"`)
	if res, err = c.Update(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if r := srv.lastRequest(uiPath); !res.Sources[0].NotModified || r == nil || r.Header.Get("If-None-Match") != `"ui-`+guid1+`"` {
		t.Errorf("conditional request: %+v, %v", res.Sources, r)
	}
	checkRecords("304", 1)

	// A new release: the mirror list names another repository, whose
	// updateinfo has one advisory more for openssl-libs.
	guid2 := "ffeeddccbbaa99887766554433221100"
	more := bytes.Replace(xml2023, []byte("</updates>"), []byte(`<update author="amazon" from="alas@amazon.com" status="final" type="security" version="2.0">
  <id>ALAS2023-2026-999</id><title>Amazon Linux 2023 - ALAS2023-2026-999: important priority package update for openssl</title>
  <issued date="2026-11-01 00:00:00"/><updated date="2026-11-01 00:00:00"/><severity>important</severity>
  <description>Package updates are available for Amazon Linux 2023 that fix the following vulnerabilities: CVE-2026-0001</description>
  <references><reference href="https://www.cve.org/CVERecord?id=CVE-2026-0001" id="CVE-2026-0001" title="" type="cve"/></references>
  <pkglist><collection short=""><name>Amazon Linux 2023</name>
    <package arch="x86_64" epoch="1" name="openssl-libs" release="1.amzn2023.0.4" version="3.0.8"><filename>Packages/openssl-libs-3.0.8-1.amzn2023.0.4.x86_64.rpm</filename></package>
  </collection></pkglist>
</update>
</updates>`), 1)
	gz2 := gzipBytes(t, more)
	serveRepo(guid2, gz2, sum(gz2))
	srv.set(list, []byte("# Amazon Linux 2023 core\n"+ts.URL+repo(guid2)+"\n"), `"list-2"`)
	if res, err = c.Update(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if res.Sources[0].NotModified || res.Sources[0].Records != 3 {
		t.Errorf("new release: %+v", res.Sources)
	}
	checkRecords("new release", 2)

	// The first mirror fails, the second serves.
	srv.set(list, []byte(ts.URL+"/gone/x86_64/\n"+ts.URL+repo(guid2)+"\n"), `"list-3"`)
	if _, err = c.Update(ctx, opts); err != nil {
		t.Errorf("fallback to the second mirror: %v", err)
	}

	// Failures leave the database as it was.
	before, err := os.ReadFile(c.DBPath())
	if err != nil {
		t.Fatal(err)
	}
	guid3 := "11111111222222223333333344444444"
	for _, tc := range []struct {
		name, list string
		setup      func()
		want       string
	}{
		{"no mirror list", "/missing/mirror.list", func() {}, "mirror list"},
		{"empty mirror list", list, func() { srv.set(list, []byte("\n# nothing\n"), `"list-4"`) }, "names no repository"},
		{"not a URL", list, func() { srv.set(list, []byte("ftp://mirror.example/\n"), `"list-5"`) }, "not an http(s) URL"},
		{"no updateinfo", list, func() {
			srv.set(list, []byte(ts.URL+repo(guid3)+"\n"), `"list-6"`)
			srv.set(repo(guid3)+"repodata/repomd.xml", []byte(`<repomd><data type="primary"><location href="repodata/primary.xml.gz"/></data></repomd>`), `"md-3"`)
		}, "names no updateinfo"},
		{"hash mismatch", list, func() {
			serveRepo(guid3, gz, strings.Repeat("d", 64))
			srv.set(list, []byte(ts.URL+repo(guid3)+"\n"), `"list-7"`)
		}, "checksum mismatch"},
		{"not a repomd", list, func() {
			srv.set(repo(guid3)+"repodata/repomd.xml", []byte(`{"json": true}`), `"md-4"`)
		}, "repomd.xml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			o := opts
			o.Sources = []Source{{Name: "alas-2023", URL: ts.URL + tc.list}}
			_, err := c.Update(ctx, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
			after, rerr := os.ReadFile(c.DBPath())
			if rerr != nil || !bytes.Equal(before, after) {
				t.Error("a failed update changed the database")
			}
		})
	}
}

// TestALASSourceNames: alas-2 and alas-2023 alone are Amazon's mirror
// lists; NAME=URL keeps taking the updateinfo file itself.
func TestALASSourceNames(t *testing.T) {
	for _, tc := range []struct {
		spec, url string
		mirror    bool
	}{
		{"alas-2", AmazonLinux2MirrorList, true},
		{"alas-2023", AmazonLinux2023MirrorList, true},
		{"alas-2023=https://mirror.internal/al2023/repodata/updateinfo.xml.gz", "https://mirror.internal/al2023/repodata/updateinfo.xml.gz", false},
		{"alas-2=https://mirror.internal/al2/mirror.list", "https://mirror.internal/al2/mirror.list", true},
	} {
		s, err := ParseSource(tc.spec)
		if err != nil || s.URL != tc.url || s.Format != FormatALAS || isMirrorList(s.URL) != tc.mirror {
			t.Errorf("%s: %+v, %v (mirror list %v)", tc.spec, s, err, isMirrorList(s.URL))
		}
	}
}

// FuzzMirrorList feeds hostile mirror lists and repomd.xml files to their
// parsers: an error, or repositories and an updateinfo URL that are
// http(s) URLs, never a panic.
func FuzzMirrorList(f *testing.F) {
	f.Add([]byte("https://cdn.amazonlinux.com/al2023/core/guids/abc/x86_64/\n"), repomdXML(strings.Repeat("a", 64), "repodata/updateinfo.xml.gz"))
	f.Add([]byte("# c\n\nhttp://x/y\nftp://z\n"), []byte(`<repomd><data type="updateinfo"><location href="https://other.example/u.xml.gz"/></data></repomd>`))
	f.Add([]byte("http://[::1]:80/a b\n"), []byte(`<repomd><data type="updateinfo"><checksum type="sha256">zz</checksum><location href="../../x"/></data></repomd>`))
	f.Fuzz(func(t *testing.T, list, md []byte) {
		mirrors, err := parseMirrorList(list)
		if err != nil {
			return
		}
		for _, m := range mirrors {
			if m.Scheme != "http" && m.Scheme != "https" {
				t.Fatalf("mirror %s", m)
			}
			r, err := parseRepomd(md, m)
			if err != nil {
				continue
			}
			if !strings.HasPrefix(r.URL, "http://") && !strings.HasPrefix(r.URL, "https://") {
				t.Fatalf("updateinfo URL %q", r.URL)
			}
			if r.SHA256 != "" && len(r.SHA256) != 64 {
				t.Fatalf("SHA-256 %q", r.SHA256)
			}
		}
	})
}
