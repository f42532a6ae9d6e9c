package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/palisade-sec/palisade/internal/finding"
	. "github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
	"github.com/palisade-sec/palisade/internal/supplychain"
	"github.com/palisade-sec/palisade/internal/supplychain/sigstoretest"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

// Credentials baked into the test image; no output may show them whole.
const (
	testAWSKeyID  = "AKIAZ7Q2WXK4N5P3R6T7"
	testAWSSecret = "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"
)

// imageFixture is a real registry holding an image with a Go binary built
// against golang.org/x/text v0.3.5, a dpkg database and AWS credentials,
// single-arch (app:1) and as a linux/amd64 + linux/arm64 index (app:multi),
// and a cache directory with the Go database's x/text records and
// hand-made Debian records imported by `palisade db import`.
type imageFixture struct {
	reg               *testregistry.Registry
	single, multi     string
	cacheDir          string
	armLayer, armDig  string
	amdLayer, idxDig  string
	singleDig, tmpDir string
}

func newImageFixture(t *testing.T) *imageFixture {
	t.Helper()
	if testing.Short() {
		t.Skip("builds Go binaries and starts a registry")
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials of the host
	fx := &imageFixture{reg: testregistry.Start(t, testregistry.Options{}), tmpDir: t.TempDir()}
	base := Layer(t,
		File("etc/os-release", OSRelease),
		File("var/lib/dpkg/status", DpkgStatus(
			DpkgStanza("libssl3", "3.0.11-1~deb12u2", "openssl"),
			DpkgStanza("zlib1g", "1:1.2.13.dfsg-1", "zlib"),
		)),
	)
	creds := File("root/.aws/credentials", "[default]\naws_access_key_id = "+testAWSKeyID+"\naws_secret_access_key = "+testAWSSecret+"\n")
	amdApp := Layer(t, Exec("usr/local/bin/app", VulnApp(t, "amd64")), creds)
	armApp := Layer(t, Exec("usr/local/bin/app", VulnApp(t, "arm64")), creds)
	amd := Image(t, "linux/amd64", base, amdApp)
	arm := Image(t, "linux/arm64", base, armApp)
	idx := Index(t, amd, arm)
	fx.amdLayer, fx.armLayer, fx.armDig, fx.idxDig, fx.singleDig = Digest(t, amdApp), Digest(t, armApp), Digest(t, arm), Digest(t, idx), Digest(t, amd)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fx.single, fx.multi = fx.reg.Host+"/team/app:1", fx.reg.Host+"/team/app:multi"
	sref, _ := name.ParseReference(fx.single, name.Insecure)
	if err := remote.Write(sref, amd, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	mref, _ := name.ParseReference(fx.multi, name.Insecure)
	if err := remote.WriteIndex(mref, idx, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}

	fx.cacheDir = t.TempDir()
	goRecs := GoVulnRecords(t, "golang.org/x/text")
	debRecs := WriteRecords(t, map[string][]byte{
		"DEBIAN-CVE-2024-0727": DebianRecord("DEBIAN-CVE-2024-0727", "CVE-2024-0727", "openssl", "3.0.13-1~deb12u1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H"),
		"DEBIAN-CVE-2023-0001": DebianRecord("DEBIAN-CVE-2023-0001", "CVE-2023-0001", "openssl", "3.0.9-1", ""), // fixed below
		"DEBIAN-CVE-2099-0777": DebianRecord("DEBIAN-CVE-2099-0777", "CVE-2099-0777", "zlib", "", ""),           // no fix yet
	})
	for _, imp := range [][2]string{{goRecs, "go-vulndb"}, {debRecs, "debian"}} {
		if _, stderr, code := palisade(t, "", "db", "import", imp[0], "--name", imp[1], "--cache-dir", fx.cacheDir); code != 0 {
			t.Fatalf("db import %s: exit %d: %s", imp[1], code, stderr)
		}
	}
	return fx
}

// scanJSON runs scan image -o json and decodes the report.
func scanJSON(t *testing.T, stdin string, args ...string) (*finding.Report, string, int) {
	t.Helper()
	out, stderr, code := palisade(t, stdin, append([]string{"scan", "image", "-o", "json"}, args...)...)
	if code == exitError {
		return nil, stderr, code
	}
	var r finding.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("JSON report: %v\n%s\nstderr: %s", err, out, stderr)
	}
	return &r, stderr, code
}

func byRule(r *finding.Report) map[string][]finding.Finding {
	m := map[string][]finding.Finding{}
	for _, f := range r.Findings {
		m[f.RuleID] = append(m[f.RuleID], f)
	}
	return m
}

func TestScanImageRegistry(t *testing.T) {
	fx := newImageFixture(t)
	allow := []string{"--insecure-registry", fx.reg.Host, "--cache-dir", fx.cacheDir}

	t.Run("multi-arch index, linux/arm64", func(t *testing.T) {
		r, stderr, code := scanJSON(t, "", append([]string{fx.multi, "--platform", "linux/arm64"}, allow...)...)
		if code != exitFindings {
			t.Fatalf("exit %d, want 1: %s", code, stderr)
		}
		rules := byRule(r)
		for id, fixed := range map[string]string{"GO-2021-0113": "0.3.7", "GO-2022-1059": "0.3.8", "DEBIAN-CVE-2024-0727": "3.0.13-1~deb12u1"} {
			fs := rules[id]
			if len(fs) != 1 {
				t.Errorf("%s: %d findings", id, len(fs))
				continue
			}
			f, v := fs[0], fs[0].Vulnerability
			if v.Fixed != fixed || f.Object.Kind != "Image" || f.Object.Name != fx.multi+"@"+fx.armDig {
				t.Errorf("%s: fixed %q, object %v", id, v.Fixed, f.Object)
			}
			if strings.HasPrefix(id, "GO-") && (v.Layer != fx.armLayer || v.Installed != "v0.3.5" || f.File != "usr/local/bin/app") {
				t.Errorf("%s: layer %s (want the arm64 app layer %s), installed %q, file %q", id, v.Layer, fx.armLayer, v.Installed, f.File)
			}
		}
		if f := rules["GO-2021-0113"]; len(f) == 1 && !contains(f[0].Vulnerability.Aliases, "CVE-2021-38561") {
			t.Errorf("GO-2021-0113 aliases %v", f[0].Vulnerability.Aliases)
		}
		if f := rules["DEBIAN-CVE-2024-0727"]; len(f) == 1 && (f[0].Vulnerability.Package.SourceName != "openssl" || f[0].Vulnerability.Package.Name != "libssl3") {
			t.Errorf("openssl finding by source: %+v", f[0].Vulnerability.Package)
		}
		if len(rules["DEBIAN-CVE-2023-0001"]) != 0 {
			t.Error("a vulnerability fixed below the installed version is reported")
		}
		if f := rules["DEBIAN-CVE-2099-0777"]; len(f) != 1 || f[0].Vulnerability.Fixed != "" {
			t.Errorf("unfixed zlib vulnerability: %v", f)
		}
		keyID, secret := rules["image-secret/aws-access-key-id"], rules["image-secret/aws-secret-access-key"]
		if len(keyID) != 1 || len(secret) != 1 || !strings.Contains(keyID[0].Message, "AKIA****") || keyID[0].File != "/root/.aws/credentials" ||
			!strings.Contains(keyID[0].Message, fx.armLayer) {
			t.Errorf("secret findings: %+v %+v", keyID, secret)
		}
	})

	t.Run("default platform and single image", func(t *testing.T) {
		r, stderr, code := scanJSON(t, "", append([]string{fx.single, "--platform", "linux/amd64"}, allow...)...)
		if code != exitFindings {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if f := byRule(r)["GO-2021-0113"]; len(f) != 1 || f[0].Vulnerability.Layer != fx.amdLayer || f[0].Object.Name != fx.single+"@"+fx.singleDig {
			t.Errorf("GO-2021-0113: %+v", f)
		}
	})

	t.Run("no output shows the credentials", func(t *testing.T) {
		for _, format := range []string{"table", "json", "yaml", "sarif", "junit"} {
			out, stderr, code := palisade(t, "", append([]string{"scan", "image", fx.single, "--platform", "linux/amd64", "-o", format, "--show-suppressed"}, allow...)...)
			if code != exitFindings {
				t.Fatalf("%s: exit %d: %s", format, code, stderr)
			}
			for _, v := range []string{testAWSKeyID, testAWSSecret} {
				if strings.Contains(out+stderr, v) {
					t.Errorf("%s output shows a credential", format)
				}
			}
			if !strings.Contains(out, "GO-2021-0113") {
				t.Errorf("%s output lacks GO-2021-0113", format)
			}
		}
	})

	t.Run("SARIF", func(t *testing.T) {
		out, _, code := palisade(t, "", append([]string{"scan", "image", fx.single, "--platform", "linux/amd64", "-o", "sarif"}, allow...)...)
		if code != exitFindings {
			t.Fatalf("exit %d", code)
		}
		var s struct {
			Version string `json:"version"`
			Runs    []struct {
				Tool struct {
					Driver struct {
						Rules []struct{ ID string } `json:"rules"`
					} `json:"driver"`
				} `json:"tool"`
				Results []struct {
					RuleID     string         `json:"ruleId"`
					Properties map[string]any `json:"properties"`
				} `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal([]byte(out), &s); err != nil || s.Version != "2.1.0" || len(s.Runs) != 1 {
			t.Fatalf("SARIF: %v %s", err, out)
		}
		seen := map[string]bool{}
		for _, res := range s.Runs[0].Results {
			seen[res.RuleID] = true
			if res.RuleID == "GO-2021-0113" && res.Properties["vulnerability"] == nil {
				t.Errorf("GO-2021-0113 without properties.vulnerability: %v", res.Properties)
			}
		}
		for _, id := range []string{"GO-2021-0113", "GO-2022-1059", "DEBIAN-CVE-2024-0727", "image-secret/aws-access-key-id"} {
			if !seen[id] {
				t.Errorf("SARIF lacks %s", id)
			}
		}
	})

	t.Run("VEX and --ignore-unfixed", func(t *testing.T) {
		vex := filepath.Join(t.TempDir(), "app.openvex.json")
		doc := `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/app-1", "author": "test",
 "timestamp": "2026-01-01T00:00:00Z", "version": 1, "statements": [
  {"vulnerability": {"name": "CVE-2021-38561"},
   "products": [{"@id": "pkg:oci/app@` + strings.Replace(fx.singleDig, ":", "%3A", 1) + `", "subcomponents": [{"@id": "pkg:golang/golang.org/x/text"}]}],
   "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}`
		if err := os.WriteFile(vex, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		r, stderr, _ := scanJSON(t, "", append([]string{fx.single, "--platform", "linux/amd64", "--vex", vex, "--ignore-unfixed", "--scanners", "vuln"}, allow...)...)
		if r == nil {
			t.Fatal(stderr)
		}
		rules := byRule(r)
		if f := rules["GO-2021-0113"]; len(f) != 1 || !f[0].Suppressed || f[0].Suppression.Kind != "vex" {
			t.Errorf("GO-2021-0113 not suppressed by VEX: %+v", f)
		}
		if f := rules["GO-2022-1059"]; len(f) != 1 || f[0].Suppressed {
			t.Errorf("GO-2022-1059 must stay: %+v", f)
		}
		if len(rules["DEBIAN-CVE-2099-0777"]) != 0 {
			t.Error("--ignore-unfixed kept a vulnerability without a fix")
		}
		for id := range rules {
			if strings.HasPrefix(id, "image-secret/") {
				t.Errorf("--scanners vuln reported %s", id)
			}
		}
		if r.Summary.Suppressed != 1 {
			t.Errorf("summary %+v", r.Summary)
		}
		// Only the suppressed finding at critical: --fail-on critical passes.
		_, _, code := palisade(t, "", append([]string{"scan", "image", fx.single, "--platform", "linux/amd64", "--vex", vex, "--fail-on", "none"}, allow...)...)
		if code != exitClean {
			t.Errorf("--fail-on none: exit %d", code)
		}
	})

	t.Run("VEX from verified attestations", func(t *testing.T) {
		doc := `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/app-2", "author": "test",
 "timestamp": "2026-01-01T00:00:00Z", "version": 1, "statements": [
  {"vulnerability": {"name": "CVE-2021-38561"},
   "products": [{"@id": "pkg:oci/app@` + strings.Replace(fx.singleDig, ":", "%3A", 1) + `", "subcomponents": [{"@id": "pkg:golang/golang.org/x/text"}]}],
   "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}`
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		repo, err := name.NewRepository(strings.TrimSuffix(fx.single, ":1"), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		var pred map[string]any
		if err := json.Unmarshal([]byte(doc), &pred); err != nil {
			t.Fatal(err)
		}
		env := sigstoretest.SignEnvelope(t, key, sigstoretest.Statement(t, fx.singleDig, "https://openvex.dev/ns/v0.2.0", pred))
		if err := supplychain.AttachLegacyAttestation(context.Background(), repo, fx.singleDig, sigstoretest.EnvelopeJSON(t, env)); err != nil {
			t.Fatal(err)
		}
		policy := func(k *ecdsa.PrivateKey) string {
			der, err := x509.MarshalPKIXPublicKey(k.Public())
			if err != nil {
				t.Fatal(err)
			}
			pemKey := strings.ReplaceAll(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))), "\n", "\n        ")
			path := filepath.Join(t.TempDir(), "policy.yaml")
			body := "apiVersion: palisade.io/v1alpha1\nkind: ImageVerificationPolicy\nmetadata: {name: vex}\nspec:\n  verifyImages:\n  - name: team\n    images: [\"" +
				fx.reg.Host + "/team/*\"]\n    signers:\n    - name: vex key\n      key: |\n        " + pemKey + "\n"
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			return path
		}
		for _, tt := range []struct {
			name       string
			key        *ecdsa.PrivateKey
			suppressed bool
			problem    string
		}{
			{"signed by the policy's key", key, true, "OpenVEX applied from attestation tag sha256-"},
			{"signed by another key", other, false, "no OpenVEX attestation verified"},
		} {
			r, stderr, _ := scanJSON(t, "", append([]string{fx.single, "--platform", "linux/amd64", "--vex-attestations", policy(tt.key), "--scanners", "vuln"}, allow...)...)
			if r == nil {
				t.Fatalf("%s: %s", tt.name, stderr)
			}
			if f := byRule(r)["GO-2021-0113"]; len(f) != 1 || f[0].Suppressed != tt.suppressed || (tt.suppressed && f[0].Suppression.Kind != "vex") {
				t.Errorf("%s: GO-2021-0113 %+v, want suppressed %v", tt.name, f, tt.suppressed)
			}
			var said bool
			for _, p := range r.Problems {
				said = said || strings.Contains(p.Message, tt.problem)
			}
			if !said {
				t.Errorf("%s: no problem saying %q: %+v", tt.name, tt.problem, r.Problems)
			}
		}
	})

	t.Run("packages from a verified SBOM attestation", func(t *testing.T) {
		// The attested SBOM lists libssl3 (vulnerable) and x/text at a
		// fixed version, and not zlib1g: findings follow the SBOM, not
		// the layers, when it verifies.
		sbomDoc := map[string]any{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []any{
			map[string]any{"type": "operating-system", "name": "debian", "version": "12"},
			map[string]any{"type": "library", "name": "libssl3", "version": "3.0.11-1~deb12u2", "purl": "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"},
			map[string]any{"type": "library", "name": "golang.org/x/text", "version": "v0.3.8", "purl": "pkg:golang/golang.org/x/text@v0.3.8"},
		}}
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err := x509.MarshalPKIXPublicKey(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		pemKey := strings.ReplaceAll(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))), "\n", "\n        ")
		policy := filepath.Join(t.TempDir(), "policy.yaml")
		body := "apiVersion: palisade.io/v1alpha1\nkind: ImageVerificationPolicy\nmetadata: {name: sbom}\nspec:\n  verifyImages:\n  - name: team\n    images: [\"" +
			fx.reg.Host + "/sbom/*\"]\n    signers:\n    - name: sbom key\n      key: |\n        " + pemKey + "\n"
		if err := os.WriteFile(policy, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		img, err := remoteImage(fx.single)
		if err != nil {
			t.Fatal(err)
		}
		tampered := func(env []byte) []byte {
			var e map[string]any
			if err := json.Unmarshal(env, &e); err != nil {
				t.Fatal(err)
			}
			payload, _ := base64.StdEncoding.DecodeString(e["payload"].(string))
			e["payload"] = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(payload), "v0.3.8", "v0.3.9", 1)))
			out, _ := json.Marshal(e)
			return out
		}
		for _, tt := range []struct {
			name    string
			key     *ecdsa.PrivateKey // nil: nothing attached
			mutate  func([]byte) []byte
			code    int
			rules   string // the vulnerabilities found, sorted
			problem string
		}{
			{name: "signed by the policy's key", key: key, code: exitFindings, rules: "DEBIAN-CVE-2024-0727", problem: "packages from the attested SBOM (CycloneDX, 2 packages)"},
			{name: "nothing attached", code: exitFindings, rules: "DEBIAN-CVE-2024-0727,DEBIAN-CVE-2099-0777,GO-2021-0113,GO-2022-1059", problem: "packages catalogued from the image's layers: no CycloneDX or SPDX attestation is attached"},
			{name: "signed by another key", key: other, code: exitError, rules: "DEBIAN-CVE-2024-0727,DEBIAN-CVE-2099-0777,GO-2021-0113,GO-2022-1059", problem: "SBOM attestation did not verify, not used"},
			{name: "tampered", key: key, mutate: tampered, code: exitError, rules: "DEBIAN-CVE-2024-0727,DEBIAN-CVE-2099-0777,GO-2021-0113,GO-2022-1059", problem: "SBOM attestation did not verify, not used"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				repo, err := name.NewRepository(fx.reg.Host+"/sbom/"+strings.ReplaceAll(strings.ReplaceAll(tt.name, " ", "-"), "'", ""), name.Insecure)
				if err != nil {
					t.Fatal(err)
				}
				if err := remote.Write(repo.Tag("1"), img); err != nil {
					t.Fatal(err)
				}
				if tt.key != nil {
					env := sigstoretest.EnvelopeJSON(t, sigstoretest.SignEnvelope(t, tt.key, sigstoretest.Statement(t, fx.singleDig, "https://cyclonedx.org/bom", sbomDoc)))
					if tt.mutate != nil {
						env = tt.mutate(env)
					}
					if err := supplychain.AttachLegacyAttestation(context.Background(), repo, fx.singleDig, env); err != nil {
						t.Fatal(err)
					}
				}
				out, stderr, code := palisade(t, "", append([]string{"scan", "image", "-o", "json", repo.Tag("1").String(), "--sbom-attestations", policy, "--scanners", "vuln"}, allow...)...)
				var r finding.Report
				if err := json.Unmarshal([]byte(out), &r); err != nil {
					t.Fatalf("exit %d: %v: %s", code, err, stderr)
				}
				var ids []string // of the advisories that tell the SBOM from the layers
				for id := range byRule(&r) {
					if strings.HasPrefix(id, "DEBIAN-") || id == "GO-2021-0113" || id == "GO-2022-1059" {
						ids = append(ids, id)
					}
				}
				sort.Strings(ids)
				if code != tt.code || strings.Join(ids, ",") != tt.rules {
					t.Errorf("exit %d, findings %v; want exit %d, %s", code, ids, tt.code, tt.rules)
				}
				var said bool
				for _, p := range r.Problems {
					said = said || strings.Contains(p.Message, tt.problem)
				}
				if !said {
					t.Errorf("no problem saying %q: %+v", tt.problem, r.Problems)
				}
			})
		}
	})

	t.Run("credentials from --password-stdin", func(t *testing.T) {
		reg := testregistry.Start(t, testregistry.Options{Auth: true})
		ctx := context.Background()
		img, err := remoteImage(fx.single)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.ParseReference(reg.Host+"/private/app:1", name.Insecure)
		if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithAuth(&authn.Basic{Username: testregistry.User, Password: testregistry.Password})); err != nil {
			t.Fatal(err)
		}
		args := []string{"scan", "image", reg.Host + "/private/app:1", "--insecure-registry", reg.Host, "--scanners", "secret", "--username", testregistry.User, "--password-stdin"}
		if _, stderr, code := palisade(t, testregistry.Password+"\n", args...); code != exitFindings {
			t.Errorf("good password: exit %d: %s", code, stderr)
		}
		_, stderr, code := palisade(t, "wrong\n", args...)
		if code != exitError || !strings.Contains(stderr, "authentication required or credentials rejected") || !strings.Contains(stderr, reg.Host+"/private/app:1") {
			t.Errorf("wrong password: exit %d: %s", code, stderr)
		}
	})

	t.Run("sbom validates against the CycloneDX and SPDX schemas", func(t *testing.T) {
		schemas := map[string]*jsonschema.Schema{
			"cyclonedx": compileSBOMSchema(t, "bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schema.json"),
			"spdx-json": compileSBOMSchema(t, "spdx-schema-2.3.json"),
		}
		for format, s := range schemas {
			out, stderr, code := palisade(t, "", "sbom", fx.multi, "--platform", "linux/arm64", "--insecure-registry", fx.reg.Host, "-o", format)
			if code != 0 {
				t.Fatalf("%s: exit %d: %s", format, code, stderr)
			}
			doc, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(doc); err != nil {
				t.Errorf("%s does not validate: %v", format, err)
			}
			for _, want := range []string{"pkg:golang/golang.org/x/text@v0.3.5", "pkg:deb/debian/libssl3@3.0.11-1~deb12u2", fx.armLayer} {
				if !strings.Contains(out, want) {
					t.Errorf("%s lacks %s", format, want)
				}
			}
			// The validator can fail: drop a required member.
			var m map[string]any
			_ = json.Unmarshal([]byte(out), &m)
			delete(m, map[string]string{"cyclonedx": "bomFormat", "spdx-json": "SPDXID"}[format])
			b, _ := json.Marshal(m)
			broken, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if s.Validate(broken) == nil {
				t.Errorf("%s: a broken document validates", format)
			}
		}
		// The default is CycloneDX.
		out, _, code := palisade(t, "", "sbom", fx.single, "--insecure-registry", fx.reg.Host, "--platform", "linux/amd64")
		if code != 0 || !strings.Contains(out, `"bomFormat": "CycloneDX"`) {
			t.Errorf("default sbom format: exit %d: %.200s", code, out)
		}
	})

	t.Run("bad input exits 2 naming the image", func(t *testing.T) {
		evil := Layout(t, Image(t, "linux/amd64", Layer(t, File("etc/os-release", OSRelease)), RawLayer(t, Tar(t, File("../../../etc/cron.d/evil", "x")))))
		noDB := t.TempDir()
		tests := []struct {
			name  string
			args  []string
			stdin string
			want  []string
		}{
			{"hostile layer", []string{"oci:" + evil}, "", []string{"image oci:" + evil, "layer 1", "climbs out of the image root"}},
			{"missing image", []string{fx.reg.Host + "/team/nope:1", "--insecure-registry", fx.reg.Host}, "", []string{"image " + fx.reg.Host + "/team/nope:1", "not found"}},
			{"unreachable registry", []string{"127.0.0.1:1/team/app:1", "--insecure-registry", "127.0.0.1:1", "--registry-timeout", "3s"}, "", []string{"image 127.0.0.1:1/team/app:1", "connection refused"}},
			{"plain HTTP not allowed", []string{fx.single}, "", []string{"image " + fx.single, "plain HTTP is not allowed"}},
			{"missing layout", []string{"oci:" + filepath.Join(noDB, "none")}, "", []string{"image oci:" + filepath.Join(noDB, "none")}},
			{"platform not in the index", []string{fx.multi, "--insecure-registry", fx.reg.Host, "--platform", "linux/s390x"}, "", []string{"no image for platform linux/s390x", "linux/amd64, linux/arm64"}},
			{"no database", []string{fx.single, "--insecure-registry", fx.reg.Host, "--platform", "linux/amd64", "--cache-dir", noDB}, "", []string{"image " + fx.single, "run `palisade db update` or `palisade db import`"}},
			{"username without password", []string{fx.single, "--username", "u"}, "", []string{"--password-stdin"}},
			{"empty password", []string{fx.single, "--username", "u", "--password-stdin"}, "", []string{"standard input is empty"}},
			{"bad scanner", []string{fx.single, "--scanners", "license"}, "", []string{"unknown scanner"}},
			{"two references", []string{fx.single, fx.multi}, "", []string{"exactly one image reference"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				args := append([]string{"scan", "image", "--cache-dir", fx.cacheDir}, tt.args...)
				start := time.Now()
				_, stderr, code := palisade(t, tt.stdin, args...)
				if code != exitError {
					t.Errorf("exit %d, want 2: %s", code, stderr)
				}
				for _, w := range tt.want {
					if !strings.Contains(stderr, w) {
						t.Errorf("stderr %q lacks %q", stderr, w)
					}
				}
				if d := time.Since(start); d > 30*time.Second {
					t.Errorf("took %v", d)
				}
			})
		}
		_, stderr, code := palisade(t, "", "sbom", "oci:"+evil)
		if code != exitError || !strings.Contains(stderr, "climbs out of the image root") {
			t.Errorf("sbom of a hostile image: exit %d: %s", code, stderr)
		}
	})
}

// remoteImage pulls an image of the fixture's plain-HTTP registry.
func remoteImage(ref string) (v1.Image, error) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return nil, err
	}
	return remote.Image(r, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
}

func compileSBOMSchema(t *testing.T, main string, more ...string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	var mainID string
	for _, f := range append([]string{main}, more...) {
		b, err := os.ReadFile(filepath.Join("..", "..", "internal", "sbom", "testdata", "schema", f))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if err := c.AddResource(id, doc); err != nil {
			t.Fatal(err)
		}
		if f == main {
			mainID = id
		}
	}
	s, err := c.Compile(mainID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// An image in which no package is found was checked against nothing: exit
// 2 with the reason, never "No findings" and exit 0, unless
// --allow-missing-data accepts it (then a warning).
func TestScanImageNothingChecked(t *testing.T) {
	cache := t.TempDir()
	if _, stderr, code := palisade(t, "", "db", "import", GoVulnRecords(t, "golang.org/x/text"), "--name", "go-vulndb", "--cache-dir", cache); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, stderr)
	}
	empty := "rootfs:" + t.TempDir()
	out, stderr, code := palisade(t, "", "scan", "image", empty, "--cache-dir", cache)
	if code != exitError || !strings.Contains(stderr+out, "no package found") {
		t.Errorf("empty image: exit %d, output %q %q; want exit %d naming that no package was found", code, out, stderr, exitError)
	}
	r, _, code := scanJSON(t, "", empty, "--cache-dir", cache, "--allow-missing-data")
	if code != exitClean || r == nil || len(r.Problems) != 1 || r.Problems[0].Level != finding.LevelWarning {
		t.Errorf("--allow-missing-data: exit %d, report %+v; want exit 0 and one warning", code, r)
	}
}
