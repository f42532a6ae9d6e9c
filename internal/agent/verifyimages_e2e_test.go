package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/supplychain"
	"github.com/palisade-sec/palisade/internal/supplychain/sigstoretest"
	"github.com/palisade-sec/palisade/internal/testenv"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

// hostRecorder records every host the agent's registry client reaches.
type hostRecorder struct {
	base  http.RoundTripper
	mu    sync.Mutex
	hosts map[string]int
}

func (h *hostRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts[r.URL.Host]++
	h.mu.Unlock()
	return h.base.RoundTrip(r)
}

// TestAgentVerifiesImagesEndToEnd: the hub distributes a verification
// policy with its trusted root inline in a signed bundle; the agent
// verifies each image its cluster runs with it, offline (keyless
// signatures from the in-process Sigstore of sigstoretest, verified from
// the proofs in their bundles and the distributed root; the only host
// reached is the local registry), and reports verified (with the signer),
// unsigned, failed (with why) and not checked (no rule); the hub answers
// which clusters run images without provenance from the builder, and how
// old the trusted root is.
func TestAgentVerifiesImagesEndToEnd(t *testing.T) {
	env := testenv.Shared(t)
	reg := testregistry.Start(t, testregistry.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := env.AdminClient(t)
	p := newHubProc(t)
	ns := env.CreateNamespace(ctx, t, "", nil).Name
	ss := sigstoretest.New(t)
	rootJSON, err := os.ReadFile(ss.RootPath)
	if err != nil {
		t.Fatal(err)
	}
	const (
		issuer  = "https://token.actions.githubusercontent.com"
		builder = "https://github.com/acme/builder/.github/workflows/build.yml@refs/heads/main"
	)
	pushImage := func(repo string) (name.Repository, string) {
		img, err := random.Image(128, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(reg.Host+"/"+repo+":1", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return ref.Context(), push(t, ref.String(), img)
	}
	signKeyless := func(repo name.Repository, digest, subject string) {
		b := ss.KeylessBundle(t, sigstoretest.Statement(t, digest, supplychain.SignPredicateType, map[string]any{}), sigstoretest.KeylessOpts{Subject: subject, Issuer: issuer})
		if _, err := supplychain.AttachBundle(ctx, repo, digest, b); err != nil {
			t.Fatal(err)
		}
	}
	shopRepo, shop := pushImage("shop/app")
	signKeyless(shopRepo, shop, builder)
	_, unsigned := pushImage("shop/unsigned")
	forgedRepo, forged := pushImage("shop/forged")
	signKeyless(forgedRepo, forged, "https://github.com/evil/fork/.github/workflows/build.yml@refs/heads/main")
	_, other := pushImage("other/app")

	policy := func(trustedRoot string) []byte {
		return fmt.Appendf(nil, `apiVersion: palisade.io/v1alpha1
kind: ImageVerificationPolicy
metadata: {name: fleet}
spec:
  trustedRoot: %s
  verifyImages:
  - name: built by us
    images: ["%s/shop/*"]
    signers:
    - name: acme builder
      keyless: {issuer: %s, subject: %s}
`, trustedRoot, reg.Host, issuer, builder)
	}
	// A bundle naming a file would mean nothing on the edge: refused.
	if _, err := p.h.PublishBundle(ctx, fleetapi.BundleVerification, "fleet", "", policy("trusted_root.json")); err == nil || !strings.Contains(err.Error(), "cannot be used here") {
		t.Fatalf("a verification bundle naming a trusted root file: %v", err)
	}
	b, err := p.h.PublishBundle(ctx, fleetapi.BundleVerification, "fleet", "", policy(string(rootJSON)))
	if err != nil {
		t.Fatal(err)
	}

	hosts := &hostRecorder{base: http.DefaultTransport.(*http.Transport).Clone(), hosts: map[string]int{}}
	tok, _, err := p.h.CreateBootstrapToken(ctx, "edge-verify", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a, stop := startAgent(t, ctx, p, client, ns, tok, t.TempDir(), func(c *agent.Config) {
		c.Images = &agent.RegistryScanConfig{InsecureRegistries: []string{reg.Host}, Transport: hosts}
	})
	defer stop()
	if err := a.FetchBundles(ctx); err != nil {
		t.Fatal(err)
	}
	images := map[string]string{"shop": reg.Host + "/shop/app@" + shop, "unsigned": reg.Host + "/shop/unsigned:1@" + unsigned,
		"forged": reg.Host + "/shop/forged@" + forged, "other": reg.Host + "/other/app@" + other}
	for n, im := range images {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: ns}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: im}}}}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	byDigest := func() map[string]store.ImageVerificationRow {
		rows, _, _, err := p.st.QueryImageVerifications(ctx, store.VerificationQuery{ClusterID: a.ClusterID()})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]store.ImageVerificationRow{}
		for _, r := range rows {
			if !r.CheckedAt.IsZero() {
				out[r.Digest] = r
			}
		}
		return out
	}
	waitFor(t, "the four images' verifications on the hub", time.Minute, func() bool { return len(byDigest()) == 4 })
	got := byDigest()
	for _, tt := range []struct {
		digest string
		state  fleetapi.VerificationState
		want   string
	}{
		{shop, fleetapi.VerificationVerified, "signature: acme builder"},
		{unsigned, fleetapi.VerificationUnsigned, "nothing is attached"},
		{forged, fleetapi.VerificationFailed, "none valid for a trusted signer"},
		{other, fleetapi.VerificationNotChecked, "no verifyImages rule"},
	} {
		r := got[tt.digest]
		text := strings.Join(r.Signers, "; ") + " | " + r.Reason
		if r.State != tt.state || !strings.Contains(text, tt.want) || r.Policy != fmt.Sprintf("fleet v%d", b.Version) {
			t.Errorf("%s: %s %q (policy %q), want %s with %q", r.Ref, r.State, text, r.Policy, tt.state, tt.want)
		}
		if !r.TrustedRootUpdated.Equal(b.CreatedAt.Truncate(time.Millisecond)) {
			t.Errorf("%s: trusted root updated %v, want the bundle's publication %v", r.Ref, r.TrustedRootUpdated, b.CreatedAt)
		}
	}
	// Which clusters run images without provenance from our builder?
	_, total, sums, err := p.st.QueryImageVerifications(ctx, store.VerificationQuery{Missing: true, Signer: "acme builder"})
	if err != nil || total != 3 || len(sums) != 1 || sums[0].ClusterID != a.ClusterID() {
		t.Errorf("without provenance: %d in %+v (%v)", total, sums, err)
	}
	hosts.mu.Lock()
	defer hosts.mu.Unlock()
	for h := range hosts.hosts {
		if h != reg.Host {
			t.Errorf("the agent reached %s: verification must need the registry alone", h)
		}
	}
}
