package sbom

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestReadOwnDocuments: Palisade's own CycloneDX and SPDX output reads
// back as the packages it was written from — CycloneDX exactly, by its
// palisade:* properties; SPDX by Package URL, so a package without one is
// reported unidentified, never dropped silently.
func TestReadOwnDocuments(t *testing.T) {
	doc := testDocument()
	type key struct{ eco, name, version, source string }
	for _, tt := range []struct {
		format       string
		write        func(*bytes.Buffer) error
		unidentified []string
	}{
		{format: "CycloneDX", write: func(b *bytes.Buffer) error { return WriteCycloneDX(b, doc) }},
		{format: "SPDX", write: func(b *bytes.Buffer) error { return WriteSPDX(b, doc) }, unidentified: []string{"bash@5.1.8-6.el9 (no package URL)"}},
	} {
		t.Run(tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.write(&buf); err != nil {
				t.Fatal(err)
			}
			got, err := ReadDocument(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if got.Format != tt.format || got.OS == nil || got.OS.ID != "debian" {
				t.Fatalf("format %q, OS %+v", got.Format, got.OS)
			}
			want := map[key]int{}
			for _, p := range doc.Packages {
				if tt.format == "SPDX" && p.PURL == "" {
					continue
				}
				want[key{p.Ecosystem, p.Name, p.Version, p.SourceName}]++
			}
			have := map[key]int{}
			for _, p := range got.Packages {
				have[key{p.Ecosystem, p.Name, p.Version, p.SourceName}]++
			}
			if fmt.Sprint(have) != fmt.Sprint(want) {
				t.Fatalf("packages\n got %v\nwant %v", have, want)
			}
			if fmt.Sprint(got.Unidentified) != fmt.Sprint(tt.unidentified) {
				t.Fatalf("unidentified %q, want %q", got.Unidentified, tt.unidentified)
			}
		})
	}
}

// TestReadForeignPURLs: other tools' documents name packages by Package
// URL only; each type lands in the ecosystem and naming the catalogers
// use, and what cannot be placed is listed, with why.
func TestReadForeignPURLs(t *testing.T) {
	for _, tt := range []struct {
		purl, eco, name, version, source, unidentified string
	}{
		{purl: "pkg:deb/debian/libc6@2.36-9%2Bdeb12u7?arch=amd64&distro=debian-12.8&upstream=glibc", eco: "Debian:12", name: "libc6", version: "2.36-9+deb12u7", source: "glibc"},
		{purl: "pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1.15?distro=ubuntu-22.04", eco: "Ubuntu:22.04", name: "openssl", version: "3.0.2-0ubuntu1.15"},
		{purl: "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=alpine-3.20.3&upstream=busybox", eco: "Alpine:v3.20", name: "busybox", version: "1.36.1-r29", source: "busybox"},
		{purl: "pkg:rpm/rocky/openssl-libs@3.0.7-27.el9?distro=rocky-9.4&upstream=openssl-3.0.7-27.el9.src.rpm", eco: "Rocky Linux:9", name: "openssl-libs", version: "3.0.7-27.el9", source: "openssl-3.0.7-27.el9.src.rpm"},
		{purl: "pkg:golang/golang.org/x/net@v0.20.0", eco: "Go", name: "golang.org/x/net", version: "v0.20.0"},
		{purl: "pkg:npm/%40babel/core@7.24.0", eco: "npm", name: "@babel/core", version: "7.24.0"},
		{purl: "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", eco: "Maven", name: "org.apache.logging.log4j:log4j-core", version: "2.14.1"},
		{purl: "pkg:pypi/django@4.2.1", eco: "PyPI", name: "django", version: "4.2.1"},
		{purl: "pkg:gem/rails@7.1.0", eco: "RubyGems", name: "rails", version: "7.1.0"},
		{purl: "pkg:cargo/serde@1.0.200", eco: "crates.io", name: "serde", version: "1.0.200"},
		{purl: "pkg:composer/monolog/monolog@3.5.0", eco: "Packagist", name: "monolog/monolog", version: "3.5.0"},
		{purl: "pkg:oci/app@sha256%3Aabcd?repository_url=registry.example/app"}, // the subject: neither package nor unidentified
		{purl: "pkg:github/actions/checkout@v4", unidentified: `purl type "github" has no vulnerability ecosystem`},
		{purl: "pkg:deb/devuan/libc6@2.36", unidentified: "no distribution Palisade knows"},
		{purl: "pkg:pypi/django", unidentified: "no version"},
		{purl: "pkg:npm/%zz@1", unidentified: "name:"},
		{purl: "http://example.com/x", unidentified: "not a package URL"},
		{purl: "", unidentified: "no package URL"},
	} {
		t.Run(tt.purl, func(t *testing.T) {
			doc := fmt.Sprintf(`{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"library","name":"x","version":"1","purl":%q}]}`, tt.purl)
			got, err := ReadDocument([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if tt.unidentified != "" {
				if len(got.Packages) != 0 || len(got.Unidentified) != 1 || !strings.Contains(got.Unidentified[0], tt.unidentified) {
					t.Fatalf("packages %+v, unidentified %q; want unidentified with %q", got.Packages, got.Unidentified, tt.unidentified)
				}
				return
			}
			if tt.eco == "" {
				if len(got.Packages)+len(got.Unidentified) != 0 {
					t.Fatalf("the subject was read as %+v %q", got.Packages, got.Unidentified)
				}
				return
			}
			if len(got.Packages) != 1 {
				t.Fatalf("packages %+v, unidentified %q", got.Packages, got.Unidentified)
			}
			p := got.Packages[0]
			if p.Ecosystem != tt.eco || p.Name != tt.name || p.Version != tt.version || p.SourceName != tt.source || p.PURL != tt.purl {
				t.Fatalf("got %+v", p)
			}
		})
	}
}

// TestReadRefuses: what is not an SBOM, or is over the bounds, is an
// error, never an empty (clean) package list.
func TestReadRefuses(t *testing.T) {
	nested := `{"bomFormat":"CycloneDX","components":[` + strings.Repeat(`{"type":"library","name":"x","components":[`, 20) + strings.Repeat(`]}`, 20) + `]}`
	many := `{"spdxVersion":"SPDX-2.3","packages":[` + strings.TrimSuffix(strings.Repeat(`{"name":"x"},`, MaxReadComponents+1), ",") + `]}`
	for _, tt := range []struct{ name, doc, want string }{
		{"not JSON", `{`, "SBOM:"},
		{"neither format", `{"_type":"https://in-toto.io/Statement/v1"}`, "neither CycloneDX"},
		{"SPDX 3", `{"spdxVersion":"SPDX-3.0"}`, "not supported"},
		{"components nested too deep", nested, "nested more than"},
		{"too many packages", many, "more than"},
		{"too large", `{"bomFormat":"CycloneDX","x":"` + strings.Repeat("a", MaxReadBytes) + `"}`, "over the"},
		{"components not a list", `{"bomFormat":"CycloneDX","components":{}}`, "CycloneDX:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadDocument([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %+v, %v; want an error with %q", got, err, tt.want)
			}
		})
	}
}

// FuzzReadDocument: any input reads or fails, without a panic; what reads
// has a format and packages with an ecosystem, name and version.
func FuzzReadDocument(f *testing.F) {
	var buf bytes.Buffer
	if err := WriteCycloneDX(&buf, testDocument()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	buf.Reset()
	if err := WriteSPDX(&buf, testDocument()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"bomFormat":"CycloneDX","components":[{"purl":"pkg:deb/debian/a@1?distro=debian-12&upstream=b@2"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ReadDocument(data)
		if err != nil {
			return
		}
		if got.Format == "" {
			t.Fatal("no format")
		}
		for _, p := range got.Packages {
			if p.Ecosystem == "" || p.Name == "" || p.Version == "" {
				t.Fatalf("package without ecosystem, name or version: %+v", p)
			}
		}
	})
}
