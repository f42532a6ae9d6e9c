package hubbench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/hub"
	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/supplychain"
	"github.com/palisade-sec/palisade/internal/supplychain/sigstoretest"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

// verifySetup is what the verifying agent of TestAgentRSS needs: a
// registry holding n small images, each signed keylessly (a Sigstore
// bundle referrer from sigstoretest's in-process Fulcio, Rekor and TSA),
// pods running them by digest, and a verification bundle on the hub
// trusting that Sigstore (its trusted root inline).
type verifySetup struct {
	registry string
	n        int
}

// setupImageVerify pushes and signs n images, publishes the verification
// bundle and creates one pod per image across the namespaces.
func setupImageVerify(t *testing.T, ctx context.Context, client kubernetes.Interface, nss []string, h *hub.Hub, n int) *verifySetup {
	t.Helper()
	reg := testregistry.Start(t, testregistry.Options{})
	ss := sigstoretest.New(t)
	rootJSON, err := os.ReadFile(ss.RootPath)
	if err != nil {
		t.Fatal(err)
	}
	const (
		issuer  = "https://token.actions.githubusercontent.com"
		builder = "https://github.com/acme/builder/.github/workflows/build.yml@refs/heads/main"
	)
	policy := fmt.Appendf(nil, `apiVersion: palisade.io/v1alpha1
kind: ImageVerificationPolicy
metadata: {name: fleet}
spec:
  trustedRoot: %s
  verifyImages:
  - name: built by us
    images: ["%s/bench/*"]
    signers:
    - name: acme builder
      keyless: {issuer: %s, subject: %s}
`, rootJSON, reg.Host, issuer, builder)
	if _, err := h.PublishBundle(ctx, fleetapi.BundleVerification, "fleet", "", policy); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			img, err := random.Image(256, 1)
			if err != nil {
				t.Error(err)
				return
			}
			ref, err := name.ParseReference(fmt.Sprintf("%s/bench/app-%d:1", reg.Host, i), name.Insecure)
			if err != nil {
				t.Error(err)
				return
			}
			if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
				t.Error(err)
				return
			}
			d, _ := img.Digest()
			b := ss.KeylessBundle(t, sigstoretest.Statement(t, d.String(), supplychain.SignPredicateType, map[string]any{}), sigstoretest.KeylessOpts{Subject: builder, Issuer: issuer})
			if _, err := supplychain.AttachBundle(ctx, ref.Context(), d.String(), b); err != nil {
				t.Error(err)
				return
			}
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("verify-%d", i), Namespace: nss[i%len(nss)]},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: ref.Context().Digest(d.String()).String()}}}}
			if _, err := client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	return &verifySetup{registry: reg.Host, n: n}
}

// done reports whether the cluster's agent reported a verification of
// every image.
func (s *verifySetup) done(ctx context.Context, t *testing.T, st store.Store, clusterID string) bool {
	rows, _, _, err := st.QueryImageVerifications(ctx, store.VerificationQuery{ClusterID: clusterID, Search: s.registry + "/bench/", Limit: s.n + 10})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, r := range rows {
		if !r.CheckedAt.IsZero() {
			checked++
		}
	}
	return checked >= s.n
}

// summary counts the verifications on the hub by state.
func (s *verifySetup) summary(ctx context.Context, t *testing.T, st store.Store, clusterID string) string {
	rows, _, _, err := st.QueryImageVerifications(ctx, store.VerificationQuery{ClusterID: clusterID, Search: s.registry + "/bench/", Limit: s.n + 10})
	if err != nil {
		t.Fatal(err)
	}
	by := map[fleetapi.VerificationState]int{}
	for _, r := range rows {
		by[r.State]++
	}
	var out []string
	for st, n := range by {
		out = append(out, fmt.Sprintf("%s %d", st, n))
	}
	return strings.Join(out, ", ")
}
