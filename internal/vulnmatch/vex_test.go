package vulnmatch

import (
	"context"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/sbom"
)

func TestVEXSuppresses(t *testing.T) {
	db := openFixtures(t)
	vex, err := LoadVEX("testdata/vex/image.openvex.json")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := []sbom.Package{
		deb("libc6", "2.36-9+deb12u4", "glibc", "2.36-9+deb12u4"),
		deb("libssl3", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2"),
		deb("login", "1:4.13+dfsg1-1", "shadow", "1:4.13+dfsg1-1"),
	}
	res, err := Match(context.Background(), db, pkgs, Options{VEX: vex, Products: []string{"pkg:oci/app@sha256%3Aabc?repository_url=registry.example.com/app"}})
	if err != nil {
		t.Fatal(err)
	}
	suppressed := map[string]string{}
	for _, f := range res.Findings {
		if f.Suppressed {
			if f.Suppression.Kind != "vex" {
				t.Errorf("%s: suppression kind %q", f.RuleID, f.Suppression.Kind)
			}
			suppressed[f.Vulnerability.Package.Name+" "+f.RuleID] = f.Suppression.Reason
		}
	}
	for key, reason := range map[string]string{
		// Named by upstream CVE alias, as a subcomponent of the image.
		"libc6 DEBIAN-CVE-2024-2961": "not_affected: vulnerable_code_not_in_execute_path: iconv is never called",
		// "fixed" counts too; the PURL version is compared unescaped.
		"libc6 DEBIAN-CVE-2010-4756": "fixed",
	} {
		if got, ok := suppressed[key]; !ok || !strings.HasPrefix(got, reason) {
			t.Errorf("%s: suppression %q, want it to start with %q", key, got, reason)
		}
	}
	// A later "affected" statement overrides the earlier not_affected; a
	// statement about another product (passwd) does not apply to login.
	for _, key := range []string{"libssl3 DEBIAN-CVE-2024-0727", "login DEBIAN-CVE-2023-4641"} {
		if _, ok := suppressed[key]; ok {
			t.Errorf("%s suppressed", key)
		}
	}
	if len(suppressed) != 2 {
		t.Errorf("suppressed: %v", suppressed)
	}

	// Without the image among the products, the image-scoped statement
	// does not apply.
	res, _ = Match(context.Background(), db, pkgs[:1], Options{VEX: vex})
	for _, f := range res.Findings {
		if f.RuleID == "DEBIAN-CVE-2024-2961" && f.Suppressed {
			t.Error("image-scoped statement applied to another image")
		}
	}
}

func TestVEXInvalid(t *testing.T) {
	for _, tt := range []struct{ name, doc, want string }{
		{"not openvex", `{"@context":"https://cyclonedx.org","statements":[]}`, "not OpenVEX"},
		{"bad status", `{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"name":"CVE-1"},"products":[{"@id":"pkg:npm/a"}],"status":"maybe"}]}`, "unknown status"},
		{"no products", `{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"name":"CVE-1"},"status":"fixed"}]}`, "no products"},
		{"no vulnerability", `{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{},"products":["pkg:npm/a"],"status":"fixed"}]}`, "vulnerability"},
		{"not json", `{`, "unexpected end"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := (&VEX{}).Add("doc.json", strings.NewReader(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "doc.json") {
				t.Errorf("Add: %v, want an error naming doc.json and containing %q", err, tt.want)
			}
		})
	}
	// OpenVEX v0.0.1's string forms.
	v := &VEX{}
	if err := v.Add("old.json", strings.NewReader(`{"@context":"https://openvex.dev/ns","statements":[{"vulnerability":"CVE-1","products":["pkg:npm/a@1.0.0"],"status":"not_affected"}]}`)); err != nil {
		t.Fatal(err)
	}
	if len(v.statements) != 1 || v.statements[0].vulnerability[0] != "CVE-1" || v.statements[0].products[0].id != "pkg:npm/a@1.0.0" {
		t.Errorf("v0.0.1 statement: %+v", v.statements)
	}
}
