package admission

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/palisade-sec/palisade/internal/testregistry"
)

// manifestLookups counts the tag resolutions among the requests seen.
func (c *countingTransport) manifestLookups() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, p := range c.paths {
		if strings.HasPrefix(p, http.MethodHead+" ") && strings.Contains(p, "/manifests/") {
			n++
		}
	}
	return n
}

// TestOnePodCannotKnockOutTheWebhook: many containers naming few images
// cost one lookup per image, and a pod spec beyond the limit is refused,
// naming the limit, without a registry request.
func TestOnePodCannotKnockOutTheWebhook(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	repo := reg.Host + "/team/app"
	var images []string
	for i := range 3 {
		img := fmt.Sprintf("%s:v%d", repo, i)
		d := pushImage(t, img)
		sign(t, key, repo, d, d)
		images = append(images, img)
	}
	policy := policyHeader + fmt.Sprintf(`spec:
  rules: [pss-baseline]
  images:
    registry: {timeout: 5s}
    signatures:
      images: ["%s/*"]
      keys:
      - name: k
        pem: |
%s
`, reg.Host, indent(publicPEM(t, &key.PublicKey), 10))
	manyContainers := func(n int) *corev1.Pod {
		cs := make([]corev1.Container, n)
		for i := range cs {
			cs[i] = container(fmt.Sprintf("c%d", i), images[i%len(images)])
		}
		return pod("p", cs...)
	}

	// What checking one image costs, to compare with.
	one := &countingTransport{next: defaultTransport()}
	ts := newTestServer(t, policy, Options{RegistryTransport: one})
	// The mutating endpoint resolves every tag whose signature is
	// required; the validating one then verifies the pinned digests.
	resp, _, body := ts.post(t, EndpointMutate, reviewFor(t, manyContainers(1), podGVK, "prod", reviewOpts{}))
	if !resp.Allowed || resp.Patch == nil {
		t.Fatalf("signed image not pinned: %s", body)
	}

	for _, tt := range []struct {
		name          string
		containers    int
		maxContainers int
		allowed       bool
		want          string
	}{
		{"2,000 containers of 3 images", 2000, 2500, true, ""},
		{"over the limit", 257, 0, false, "257 containers (containers, initContainers and ephemeralContainers together), over the webhook's limit of 256"},
		{"10,000 containers", 10000, 0, false, "over the webhook's limit of 256"},
		{"10,000 containers, limit raised", 10000, 5000, false, "over the webhook's limit of 5000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := &countingTransport{next: defaultTransport()}
			ts := newTestServer(t, policy, Options{RegistryTransport: tr, MaxContainers: tt.maxContainers, ReviewConcurrency: 2, GlobalConcurrency: 3})
			resp, _, body := ts.post(t, EndpointMutate, reviewFor(t, manyContainers(tt.containers), podGVK, "prod", reviewOpts{}))
			if resp.Allowed != tt.allowed {
				t.Fatalf("allowed %v, want %v: %.500s", resp.Allowed, tt.allowed, body)
			}
			if !tt.allowed {
				if !strings.Contains(resp.Result.Message, tt.want) {
					t.Errorf("message %q, want %q", resp.Result.Message, tt.want)
				}
				if tr.count() != 0 {
					t.Errorf("%d registry requests for a refused spec", tr.count())
				}
				return
			}
			if n := tr.manifestLookups(); n > len(images) {
				t.Errorf("%d tag lookups for %d distinct images", n, len(images))
			}
			if n, per := tr.count(), one.count(); n > len(images)*per {
				t.Errorf("%d registry requests, one image costs %d: want at most %d", n, per, len(images)*per)
			}
		})
	}
}

// TestFailingRegistryLookedUpOncePerImage: failures are not cached, so
// without deduplication every container would retry the registry.
func TestFailingRegistryLookedUpOncePerImage(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	policy := policyHeader + fmt.Sprintf(`spec:
  rules: [pss-baseline]
  images:
    registry: {timeout: 2s, failurePolicy: Ignore}
    signatures:
      keys:
      - name: k
        pem: |
%s
`, indent(publicPEM(t, &key.PublicKey), 10))
	review := func(n int) []byte {
		cs := make([]corev1.Container, n)
		for i := range cs {
			cs[i] = container(fmt.Sprintf("c%d", i), fmt.Sprintf("registry.example.com/app:v%d", i%3))
		}
		return reviewFor(t, pod("p", cs...), podGVK, "prod", reviewOpts{})
	}
	one := &countingTransport{}
	newTestServer(t, policy, Options{RegistryTransport: one}).post(t, EndpointValidate, review(1))
	tr := &countingTransport{}
	ts := newTestServer(t, policy, Options{RegistryTransport: tr, MaxContainers: 2000})
	resp, _, body := ts.post(t, EndpointValidate, review(2000))
	if !resp.Allowed || len(resp.Warnings) != 2000 {
		t.Fatalf("want allowed with one warning per container: %.300s", body)
	}
	if n, per := tr.count(), one.count(); per == 0 || n > 3*per {
		t.Errorf("%d registry requests for 3 images, one costs %d", n, per)
	}
}
