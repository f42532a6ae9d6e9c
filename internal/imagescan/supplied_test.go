package imagescan

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
	"github.com/palisade-sec/palisade/internal/sbom"
)

// TestSuppliedPackages: packages supplied by the caller (an attested SBOM)
// are matched instead of what the layers hold, and the layers are still
// read for secrets; nothing is cached for the image.
func TestSuppliedPackages(t *testing.T) {
	const vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
	img := Image(t, "linux/amd64", Layer(t,
		File("etc/os-release", OSRelease),
		File("var/lib/dpkg/status", DpkgStatus(DpkgStanza("libc6", "2.36-9+deb12u4", "glibc"))),
		File("app/config.env", "AWS_ACCESS_KEY_ID="+awsKey+"\n"),
	))
	dir := Layout(t, img)
	cacheDir := debianDB(t, map[string][]byte{
		"DEBIAN-CVE-2026-1000": DebianRecord("DEBIAN-CVE-2026-1000", "CVE-2026-1000", "glibc", "2.36-9+deb12u5", vector),
		"DEBIAN-CVE-2026-1002": DebianRecord("DEBIAN-CVE-2026-1002", "CVE-2026-1002", "zlib", "", ""),
	}, time.Now())
	supplied := &SuppliedPackages{OS: &sbom.OS{ID: "debian", VersionID: "12"}, Packages: []sbom.Package{
		{Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Ecosystem: "Debian:12", Type: "deb", SourceName: "zlib", SourceVersion: "1:1.2.13.dfsg-1", Cataloger: "sbom-attestation"},
	}}
	for _, tt := range []struct {
		name     string
		supplied *SuppliedPackages
		scanners Scanners
		want     string
	}{
		{name: "catalogued", want: "DEBIAN-CVE-2026-1000,secret"},
		{name: "supplied", supplied: supplied, want: "DEBIAN-CVE-2026-1002,secret"},
		{name: "supplied, vulnerabilities only", supplied: supplied, scanners: Scanners{Vuln: true}, want: "DEBIAN-CVE-2026-1002"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cache := NewMemoryCache(4)
			res, err := Scan(context.Background(), "oci:"+dir, Options{CacheDir: cacheDir, Cache: cache, Packages: tt.supplied, Scanners: tt.scanners, MaxDBAge: -1})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range res.Report.Findings {
				id := f.RuleID
				if f.Vulnerability == nil {
					id = "secret"
				}
				got = append(got, id)
			}
			sort.Strings(got)
			if strings.Join(got, ",") != tt.want {
				t.Fatalf("findings %v, want %s", got, tt.want)
			}
			if wantCached := tt.supplied == nil; (cache.Len() == 1) != wantCached {
				t.Fatalf("cache has %d entries", cache.Len())
			}
			if tt.supplied != nil && (len(res.SBOM.Packages) != 1 || res.SBOM.Packages[0].Name != "zlib1g") {
				t.Fatalf("SBOM %+v", res.SBOM.Packages)
			}
		})
	}
}
