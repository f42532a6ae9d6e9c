package supplychain

import (
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestKeylessGitLabIdentity: the GitLab CI identity documented in
// docs/supply-chain.md, read from the page itself, accepts a certificate
// shaped as Fulcio issues for a gitlab.com pipeline and refuses one for
// another project, a merge-request pipeline or a self-hosted runner. The
// certificates come from sigstore-go's test signing infrastructure
// (newTestSigstore), not from gitlab.com's Fulcio.
func TestKeylessGitLabIdentity(t *testing.T) {
	doc, err := os.ReadFile("../../docs/supply-chain.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "**GitLab CI**")
	if !ok {
		t.Fatal("docs/supply-chain.md has no GitLab CI example")
	}
	_, block, ok := strings.Cut(after, "```yaml\n")
	if !ok {
		t.Fatal("the GitLab CI example has no yaml block")
	}
	block, _, _ = strings.Cut(block, "```")
	var signer struct {
		Keyless Identity `json:"keyless"`
	}
	if err := yaml.UnmarshalStrict([]byte(block), &signer); err != nil {
		t.Fatalf("the documented GitLab identity: %v", err)
	}
	id := &signer.Keyless

	const (
		glIssuer  = "https://gitlab.com"
		glSubject = "https://gitlab.com/acme/shop//.gitlab-ci.yml@refs/heads/main"
	)
	// Fulcio's gitlab-pipeline mapping: 9 buildSignerURI, 11
	// runnerEnvironment, 12 sourceRepositoryURI, 14 sourceRepositoryRef,
	// 18 buildConfigURI, 20 buildTrigger.
	claims := func(repo, runner, trigger string) map[int]string {
		return map[int]string{9: glSubject, 11: runner, 12: repo, 14: "refs/heads/main", 18: glSubject, 20: trigger}
	}
	ts := newTestSigstore(t)
	stmt := statement(t, testDigest, slsaV1, provenance("https://gitlab.com/acme/shop"))
	for _, tt := range []struct {
		name    string
		subject string
		claims  map[int]string
		wantErr string
	}{
		{"verified: main branch pipeline on a GitLab-hosted runner", glSubject, claims("https://gitlab.com/acme/shop", "gitlab-hosted", "push"), ""},
		{"refused: another project", "https://gitlab.com/evil/shop//.gitlab-ci.yml@refs/heads/main", claims("https://gitlab.com/evil/shop", "gitlab-hosted", "push"), "no matching CertificateIdentity"},
		{"refused: merge request pipeline", glSubject, claims("https://gitlab.com/acme/shop", "gitlab-hosted", "merge_request_event"), "no matching CertificateIdentity"},
		{"refused: self-hosted runner", glSubject, claims("https://gitlab.com/acme/shop", "self-hosted", "push"), "no matching CertificateIdentity"},
		{"refused: feature branch", "https://gitlab.com/acme/shop//.gitlab-ci.yml@refs/heads/feature", claims("https://gitlab.com/acme/shop", "gitlab-hosted", "push"), "no matching CertificateIdentity"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBundle(ts.keylessBundle(t, stmt, keylessOpts{Subject: tt.subject, Issuer: glIssuer, Claims: tt.claims}))
			if err != nil {
				t.Fatal(err)
			}
			kind, pt, err := classify(b)
			if err != nil {
				t.Fatal(err)
			}
			v := &Verifier{Root: ts.trusted}
			_, err = v.Check(&Evidence{Kind: kind, Format: FormatBundle, Source: "test", Bundle: b, PredicateType: pt}, Signer{Name: "gitlab", Identity: id}, testDigest)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Check error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
