package vulnmatch

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// TestMatchCPE: runtimes found as binaries and Conan's C libraries are
// matched by NVD's CPE configurations (the vulndb fixture written after
// NVD's items for Node.js, CPython, OpenSSL, OpenJDK and zlib), in the
// generic version order (OpenSSL's letter releases, CPython's
// pre-releases), with NVD's severity; a Conan package without a CPE
// mapping is reported unchecked, never clean.
func TestMatchCPE(t *testing.T) {
	c := vulndb.Cache{Dir: t.TempDir()}
	if _, err := c.Import(context.Background(), "../vulndb/testdata/enrich/nvdcve-2.0-cpe.json", "nvd-2024", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	db := openCache(t, c)
	for _, tc := range []struct {
		eco, name, version string
		want               string // "ID fixed severity", "" for no finding
	}{
		{sbom.EcosystemNodeJS, "node", "20.11.0", "NVD-CVE-2024-22019 20.11.1 HIGH"},
		{sbom.EcosystemNodeJS, "node", "20.11.1", ""},
		{sbom.EcosystemNodeJS, "node", "18.19.0", "NVD-CVE-2024-22019 18.19.1 HIGH"},
		{sbom.EcosystemNodeJS, "node", "16.20.2", ""},
		{sbom.EcosystemCPython, "python", "3.11.3", "NVD-CVE-2023-24329 3.11.4 HIGH"},
		{sbom.EcosystemCPython, "python", "3.12.0a1", "NVD-CVE-2023-24329  HIGH"},
		{sbom.EcosystemCPython, "python", "3.12.0", ""},
		{sbom.EcosystemCPython, "python", "3.7.16", "NVD-CVE-2023-24329 3.7.17 HIGH"},
		{sbom.EcosystemOpenSSL, "openssl", "1.1.1w", "NVD-CVE-2023-5678 1.1.1x MEDIUM"},
		{sbom.EcosystemOpenSSL, "openssl", "1.1.1x", ""},
		{sbom.EcosystemOpenSSL, "openssl", "1.0.2zi", "NVD-CVE-2023-5678 1.0.2zj MEDIUM"},
		{sbom.EcosystemOpenSSL, "openssl", "3.0.12", "NVD-CVE-2023-5678 3.0.13 MEDIUM"},
		{sbom.EcosystemOpenSSL, "openssl", "3.0.13", ""},
		{sbom.EcosystemOpenSSL, "openssl", "3.2.0", ""},
		{sbom.EcosystemOpenJDK, "openjdk", "17.0.9", "NVD-CVE-2024-20918  HIGH"},
		{sbom.EcosystemOpenJDK, "openjdk", "17.0.10", ""},
		{sbom.EcosystemConan, "zlib", "1.2.12", "NVD-CVE-2022-37434  CRITICAL"},
		{sbom.EcosystemConan, "zlib", "1.2.13", ""},
		// versionStartExcluding 1.3: 1.3 itself is not affected, what
		// follows it is, up to the fix.
		{sbom.EcosystemConan, "zlib", "1.3", ""},
		{sbom.EcosystemConan, "zlib", "1.3.0.1", "NVD-CVE-2022-37434 1.3.1 CRITICAL"},
		{sbom.EcosystemConan, "zlib", "1.3.1", ""},
		{sbom.EcosystemConan, "openssl", "3.0.12", "NVD-CVE-2023-5678 3.0.13 MEDIUM"},
	} {
		t.Run(tc.eco+"/"+tc.version, func(t *testing.T) {
			res, err := Match(context.Background(), db, []sbom.Package{{Name: tc.name, Version: tc.version, Ecosystem: tc.eco}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range res.Findings {
				got = append(got, fmt.Sprintf("%s %s %s", f.Vulnerability.ID, f.Vulnerability.Fixed, f.Severity))
				if f.Vulnerability.SeveritySource != "NVD" || !slices.Contains(f.Vulnerability.Aliases, strings.TrimPrefix(f.Vulnerability.ID, "NVD-")) {
					t.Errorf("%s: severity from %q, aliases %v", f.Vulnerability.ID, f.Vulnerability.SeveritySource, f.Vulnerability.Aliases)
				}
			}
			want := []string(nil)
			if tc.want != "" {
				want = []string{tc.want}
			}
			if !slices.Equal(got, want) || len(res.Problems) != 0 {
				t.Errorf("%v, problems %v; want %v", got, res.Problems, want)
			}
		})
	}

	// A Conan recipe no CPE names is unchecked: an error unless missing
	// data is allowed.
	res, err := Match(context.Background(), db, []sbom.Package{
		{Name: "fmt", Version: "10.2.1", Ecosystem: sbom.EcosystemConan},
		{Name: "spdlog", Version: "1.13.0", Ecosystem: sbom.EcosystemConan},
		{Name: "zlib", Version: "1.3.1", Ecosystem: sbom.EcosystemConan},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unchecked) != 1 || !res.Unchecked[0].NoCPE || res.Unchecked[0].Packages != 2 || len(res.Problems) != 1 ||
		res.Problems[0].Level != finding.LevelError || !strings.Contains(res.Problems[0].Message, "no CPE product") {
		t.Errorf("unmapped Conan packages: %+v %+v", res.Unchecked, res.Problems)
	}

	// Without NVD's feeds, runtimes are unchecked and the error says where
	// their advisories come from.
	empty := openRecords(t, vulndb.Record{ID: "GO-1", Affected: []vulndb.Affected{affected("Go", "example.com/a", "1.0.0")}})
	res, err = Match(context.Background(), empty, []sbom.Package{{Name: "node", Version: "20.11.0", Ecosystem: sbom.EcosystemNodeJS}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Message, "NVD's CPE configurations") {
		t.Errorf("runtime without NVD data: %+v", res.Problems)
	}
}
