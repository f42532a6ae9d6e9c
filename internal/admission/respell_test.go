package admission

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

// countingTransport answers every registry request with an error (or the
// next transport's answer) and counts them.
type countingTransport struct {
	mu    sync.Mutex
	paths []string
	next  http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.paths = append(c.paths, r.Method+" "+r.URL.Host+r.URL.Path)
	c.mu.Unlock()
	if c.next == nil {
		return nil, errors.New("registry unreachable in this test")
	}
	return c.next.RoundTrip(r)
}

func (c *countingTransport) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.paths)
}

// TestRespeltRegistriesDecideAlike: a registry written in another case,
// with its default port, under another Docker Hub name or another name of
// the local host is the same registry for the allow-list, the signature
// requirement and the vulnerability gate.
func TestRespeltRegistriesDecideAlike(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := "@sha256:" + strings.Repeat("2", 64)
	scanner := &fakeScanner{findings: map[string][]finding.Finding{
		"sha256:" + strings.Repeat("2", 64): {{RuleID: "vuln", Title: "CVE-2026-0001", Severity: finding.SeverityCritical}},
	}}
	policy := func(images string) string {
		return policyHeader + fmt.Sprintf(`spec:
  rules: [pss-baseline]
  images:
    registry: {timeout: 1s}
    signatures:
      images: [%[1]s]
      keys:
      - name: k
        pem: |
%[2]s
    vulnerabilities: {severity: HIGH, images: [%[1]s]}
`, images, indent(publicPEM(t, &key.PublicKey), 10))
	}
	allowPolicy := func(images string) string {
		return policyHeader + fmt.Sprintf("spec:\n  rules: [hardening/registry-not-allowed]\n  images:\n    allowedRegistries: [%s]\n", images)
	}
	tests := []struct {
		name, glob, image string
		// required: the signature and vulnerability checks apply;
		// allowed: the allow-list admits the image.
		required, allowed bool
	}{
		{"upper case", "registry.example.com/*", "REGISTRY.EXAMPLE.COM/app" + digest, true, true},
		{"mixed case", "registry.example.com/*", "Registry.Example.Com/app" + digest, true, true},
		{"default port", "registry.example.com/*", "registry.example.com:443/app" + digest, true, true},
		{"glob in upper case", "REGISTRY.EXAMPLE.COM/*", "registry.example.com/app" + digest, true, true},
		{"other port", "registry.example.com/*", "registry.example.com:5000/app" + digest, false, false},
		{"index.docker.io", "docker.io/library/*", "index.docker.io/nginx" + digest, true, true},
		{"registry-1.docker.io", "docker.io/library/*", "registry-1.docker.io/library/nginx" + digest, true, true},
		{"short Docker Hub name", "docker.io/library/nginx", "nginx" + digest, true, true},
		{"localhost for 127.0.0.1", "127.0.0.1:5000/*", "localhost:5000/app" + digest, true, false},
		{"127.0.0.1 for localhost", "localhost:5000/*", "127.0.0.1:5000/app" + digest, true, false},
		{"other host", "registry.example.com/*", "registry.example.org/app" + digest, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &countingTransport{}
			ts := newTestServer(t, policy(fmt.Sprintf("%q", tt.glob)), Options{Scanner: scanner, RegistryTransport: tr})
			resp, _, body := ts.post(t, EndpointValidate, reviewFor(t, pod("p", container("a", tt.image)), podGVK, "prod", reviewOpts{}))
			if resp.Allowed == tt.required {
				t.Fatalf("allowed %v, want the checks to apply = %v: %s", resp.Allowed, tt.required, body)
			}
			if tt.required {
				for _, id := range []string{RuleSignature, RuleVulnerabilities} {
					if !strings.Contains(resp.Result.Message, "["+id+"]") {
						t.Errorf("%s did not decide: %s", id, resp.Result.Message)
					}
				}
			}
			ts = newTestServer(t, allowPolicy(fmt.Sprintf("%q", tt.glob)), Options{RegistryTransport: tr})
			resp, _, body = ts.post(t, EndpointValidate, reviewFor(t, pod("p", container("a", tt.image)), podGVK, "prod", reviewOpts{}))
			if resp.Allowed != tt.allowed {
				t.Errorf("allow-list: allowed %v, want %v: %s", resp.Allowed, tt.allowed, body)
			}
		})
	}
}
