package imagescan

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	. "github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// runtimeBinary is a stand-in for a runtime's build: padding around the
// version string its build embeds, as the runtime cataloger reads it.
func runtimeBinary(marker string) []byte {
	pad := bytes.Repeat([]byte{0x7f, 'E', 'L', 'F', 0}, 400)
	return append(append(append([]byte{}, pad...), marker...), pad...)
}

// TestScanRuntimesByCPE scans an image laid out as the official node,
// python and eclipse-temurin images are (runtimes built into /usr/local
// and /opt): with NVD's feed imported, each runtime is matched by its CPE
// configurations and the scan has no unchecked packages; without it,
// they are reported unchecked (an error), never clean.
func TestScanRuntimesByCPE(t *testing.T) {
	img := Image(t, "linux/amd64", Layer(t,
		File("etc/os-release", OSRelease),
		File("var/lib/dpkg/status", DpkgStatus(DpkgStanza("libc6", "2.36-9+deb12u4", "glibc"))),
		Exec("usr/local/bin/node", runtimeBinary("\x00node.js/v20.11.0\x00")),
		Exec("usr/local/lib/libpython3.11.so.1.0", runtimeBinary("\x003.11.3\x00")),
		Exec("usr/local/lib/libcrypto.so.3", runtimeBinary("\x00OpenSSL 3.0.12 24 Oct 2023\x00")),
		File("opt/java/openjdk/release", "IMPLEMENTOR=\"Eclipse Adoptium\"\nJAVA_VERSION=\"17.0.9\"\n"),
	))
	dir := Layout(t, img)
	cacheDir := debianDB(t, map[string][]byte{
		"DEBIAN-CVE-2026-1000": DebianRecord("DEBIAN-CVE-2026-1000", "CVE-2026-1000", "glibc", "2.36-9+deb12u5", ""),
	}, time.Now())

	res, err := Scan(context.Background(), "oci:"+dir, Options{CacheDir: cacheDir, MaxDBAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	var unchecked []string
	for _, p := range res.Report.Problems {
		if p.Level == finding.LevelError {
			unchecked = append(unchecked, p.Message)
		}
	}
	if len(unchecked) != 4 {
		t.Errorf("without NVD: %d errors, want the four runtimes unchecked: %v", len(unchecked), unchecked)
	}

	c := vulndb.Cache{Dir: cacheDir}
	if _, err := c.Import(context.Background(), "../vulndb/testdata/enrich/nvdcve-2.0-cpe.json", "nvd-2024", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err = Scan(context.Background(), "oci:"+dir, Options{CacheDir: cacheDir, MaxDBAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Report.Problems {
		if p.Level == finding.LevelError {
			t.Errorf("with NVD: error %s", p.Message)
		}
	}
	var got []string
	for _, f := range res.Report.Findings {
		v := f.Vulnerability
		got = append(got, v.Package.Ecosystem+" "+v.Installed+" "+f.RuleID+" "+v.Fixed+" "+f.Severity.String())
	}
	sort.Strings(got)
	want := []string{
		"CPython 3.11.3 NVD-CVE-2023-24329 3.11.4 HIGH",
		"Debian:12 2.36-9+deb12u4 DEBIAN-CVE-2026-1000 2.36-9+deb12u5 UNKNOWN",
		"Node.js 20.11.0 NVD-CVE-2024-22019 20.11.1 HIGH",
		"OpenJDK 17.0.9 NVD-CVE-2024-20918  HIGH",
		"OpenSSL 3.0.12 NVD-CVE-2023-5678 3.0.13 MEDIUM",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
