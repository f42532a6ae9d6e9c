package imagescan

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
)

// bookwormRecords are hand-made OSV Debian records for source packages of
// the debootstrap bookworm image, with fixed versions above and below the
// installed ones (glibc 2.36-9+deb12u14, zlib 1:1.2.13.dfsg-1, gnutls28
// 3.7.9-2+deb12u7, bash source 5.2.15-2 built as binary 5.2.15-2+b13).
func bookwormRecords() map[string][]byte {
	const v = "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N"
	return map[string][]byte{
		"DEBIAN-CVE-2099-0001": DebianRecord("DEBIAN-CVE-2099-0001", "CVE-2099-0001", "glibc", "2.36-9+deb12u15", v), // above: affected
		"DEBIAN-CVE-2099-0002": DebianRecord("DEBIAN-CVE-2099-0002", "CVE-2099-0002", "glibc", "2.36-9+deb12u3", v),  // below: fixed
		"DEBIAN-CVE-2099-0003": DebianRecord("DEBIAN-CVE-2099-0003", "CVE-2099-0003", "zlib", "1:1.2.13.dfsg-1+deb12u1", ""),
		"DEBIAN-CVE-2099-0004": DebianRecord("DEBIAN-CVE-2099-0004", "CVE-2099-0004", "gnutls28", "3.7.9-2+deb12u5", v), // below
		// Source version 5.2.15-2 is below the fix, the binary's 5.2.15-2+b13
		// above it: Debian advisories are about the source package.
		"DEBIAN-CVE-2099-0005": DebianRecord("DEBIAN-CVE-2099-0005", "CVE-2099-0005", "bash", "5.2.15-2+b1", v),
		"DEBIAN-CVE-2099-0006": DebianRecord("DEBIAN-CVE-2099-0006", "CVE-2099-0006", "not-in-the-image", "1.0-1", v),
	}
}

// TestScanBookworm scans the real debootstrap bookworm image (88 dpkg
// packages, one layer) against Debian records written for it.
func TestScanBookworm(t *testing.T) {
	dir := Bookworm(t)
	cacheDir := debianDB(t, bookwormRecords(), time.Now())
	start := time.Now()
	res, err := Scan(context.Background(), "oci:"+dir, Options{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bookworm: full scan in %v", time.Since(start))
	if len(res.SBOM.Packages) != 88 || res.SBOM.OS == nil || res.SBOM.OS.ID != "debian" || res.SBOM.OS.VersionID != "12" {
		t.Fatalf("%d packages, OS %+v", len(res.SBOM.Packages), res.SBOM.OS)
	}
	layer := res.Image.Layers[0].Digest
	for _, p := range res.SBOM.Packages {
		if p.LayerDigest != layer || p.Ecosystem != "Debian:12" {
			t.Errorf("%s: layer %q, ecosystem %q", p.Name, p.LayerDigest, p.Ecosystem)
		}
	}
	var got []string
	secrets := 0
	for _, f := range res.Report.Findings {
		v := f.Vulnerability
		if v == nil {
			secrets++
			continue
		}
		src := v.Package.SourceName
		if src == "" {
			src = v.Package.Name
		}
		got = append(got, fmt.Sprintf("%s %s(%s) %s<%s", f.RuleID, v.Package.Name, src, v.Installed, v.Fixed))
		if v.Layer != layer {
			t.Errorf("%s: layer %q", f.RuleID, v.Layer)
		}
	}
	sort.Strings(got)
	want := []string{
		"DEBIAN-CVE-2099-0001 libc-bin(glibc) 2.36-9+deb12u14<2.36-9+deb12u15",
		"DEBIAN-CVE-2099-0001 libc6(glibc) 2.36-9+deb12u14<2.36-9+deb12u15",
		"DEBIAN-CVE-2099-0003 zlib1g(zlib) 1:1.2.13.dfsg-1<1:1.2.13.dfsg-1+deb12u1",
		"DEBIAN-CVE-2099-0005 bash(bash) 5.2.15-2<5.2.15-2+b1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// debootstrap's own log has one password assignment (docs/images.md).
	if secrets != 1 {
		t.Errorf("%d secret findings, want 1", secrets)
	}
}
