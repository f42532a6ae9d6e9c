package admission

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/testregistry"
)

// signaturePolicy requires every image to be signed by key.
func signaturePolicy(t *testing.T, key *ecdsa.PrivateKey) string {
	return policyHeader + fmt.Sprintf(`spec:
  rules: [pss-baseline]
  images:
    registry: {timeout: 2s}
    signatures:
      keys:
      - name: k
        pem: |
%s
`, indent(publicPEM(t, &key.PublicKey), 10))
}

// TestMovedTagNotAdmitted: a signed tag that moves to an unsigned image
// does not let the unsigned image run. The mutating endpoint pins the tag
// to a digest, the validating one verifies that digest and denies a tag
// left unpinned.
func TestMovedTagNotAdmitted(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	repo := reg.Host + "/team/app"
	tag := repo + ":moving"
	signed := pushImage(t, tag)
	sign(t, key, repo, signed, signed)
	ts := newTestServer(t, signaturePolicy(t, key), Options{})

	// pinned returns the image the mutating endpoint pins tag to.
	pinned := func(t *testing.T) string {
		t.Helper()
		resp, _, body := ts.post(t, EndpointMutate, reviewFor(t, pod("p", container("a", tag)), podGVK, "prod", reviewOpts{}))
		var ops []patchOp
		if !resp.Allowed || json.Unmarshal(resp.Patch, &ops) != nil || len(ops) != 1 || ops[0].Path != "/spec/containers/0/image" {
			t.Fatalf("want one patch of the image: %s", body)
		}
		return ops[0].Value
	}
	validate := func(t *testing.T, image string) (bool, string) {
		t.Helper()
		resp, _, body := ts.post(t, EndpointValidate, reviewFor(t, pod("p", container("a", image)), podGVK, "prod", reviewOpts{}))
		return resp.Allowed, body
	}

	before := pinned(t)
	if before != tag+"@"+signed {
		t.Fatalf("pinned to %s, want %s", before, tag+"@"+signed)
	}
	if ok, body := validate(t, before); !ok {
		t.Fatalf("signed digest denied: %s", body)
	}
	if ok, body := validate(t, tag); ok || !strings.Contains(body, "is not pinned by digest") {
		t.Errorf("unpinned signed tag: want denied as not pinned: %s", body)
	}

	unsigned := pushImage(t, tag) // the tag moves to an unsigned image
	if ok, body := validate(t, tag); ok {
		t.Errorf("tag moved to an unsigned image admitted: %s", body)
	}
	if ok, body := validate(t, tag+"@"+unsigned); ok || !strings.Contains(body, "no cosign signature found") {
		t.Errorf("unsigned digest: want denied: %s", body)
	}
	// Whatever digest the mutating endpoint pins the moved tag to, the
	// validating one admits it only when it is the signed one.
	after := pinned(t)
	if ok, body := validate(t, after); ok != (after == tag+"@"+signed) {
		t.Errorf("pinned to %s: allowed %v: %s", after, ok, body)
	}
}

// TestSigningAnImageTakesEffect: an image denied as unsigned is admitted
// soon after it is signed, while a verified signature stays cached.
func TestSigningAnImageTakesEffect(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	repo := reg.Host + "/team/app"
	digest := pushImage(t, repo+":v1")
	image := repo + "@" + digest
	ts := newTestServer(t, signaturePolicy(t, key), Options{})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ts.decider.images.signatures.now = func() time.Time { return now }
	validate := func() (bool, string) {
		resp, _, body := ts.post(t, EndpointValidate, reviewFor(t, pod("p", container("a", image)), podGVK, "prod", reviewOpts{}))
		return resp.Allowed, body
	}
	if ok, body := validate(); ok {
		t.Fatalf("unsigned image admitted: %s", body)
	}
	sign(t, key, repo, digest, digest)
	for _, step := range []struct {
		after   time.Duration
		allowed bool
	}{
		{time.Second, false}, // the negative result is still cached
		{unsignedTTL, true},
		{signatureTTL - time.Minute, true},
	} {
		now = now.Add(step.after)
		if ok, body := validate(); ok != step.allowed {
			t.Errorf("%s later: allowed %v, want %v: %s", step.after, ok, step.allowed, body)
		}
	}
}
