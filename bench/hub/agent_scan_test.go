package hubbench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/hub/store"
	"github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
	"github.com/palisade-sec/palisade/internal/testregistry"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// scanSetup is what the scanning agent of TestAgentRSS needs: a registry
// holding the images its pods run, and a vulnerability database.
type scanSetup struct {
	registry string
	dbDir    string
	digests  []string
}

// setupImageScan pushes the debootstrap bookworm image, and bookworm with
// one more small layer, to a real registry; runs ten pods of them by
// digest across the namespaces; and builds a database of Debian advisories
// for bookworm's packages.
func setupImageScan(t *testing.T, ctx context.Context, client kubernetes.Interface, nss []string) *scanSetup {
	t.Helper()
	reg := testregistry.Start(t, testregistry.Options{})
	idx, err := layout.ImageIndexFromPath(imagescantest.Bookworm(t))
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) == 0 {
		t.Fatalf("bookworm layout: %v", err)
	}
	bookworm, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	extended, err := mutate.AppendLayers(bookworm, imagescantest.Layer(t, imagescantest.File("etc/palisade-bench", "second digest\n")))
	if err != nil {
		t.Fatal(err)
	}
	s := &scanSetup{registry: reg.Host, dbDir: t.TempDir()}
	for i, img := range []v1.Image{bookworm, extended} {
		ref, err := name.ParseReference(fmt.Sprintf("%s/bench/bookworm:%d", reg.Host, i))
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		s.digests = append(s.digests, imagescantest.Digest(t, img))
	}
	for i := range 10 {
		image := reg.Host + "/bench/bookworm@" + s.digests[i%2]
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bookworm-%d", i), Namespace: nss[i%len(nss)]},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}
		if _, err := client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	recs := map[string][]byte{}
	for _, r := range []struct{ id, src, fixed string }{
		{"DEBIAN-CVE-2099-0001", "glibc", "2.36-9+deb12u15"}, {"DEBIAN-CVE-2099-0003", "zlib", "1:1.2.13.dfsg-1+deb12u1"},
		{"DEBIAN-CVE-2099-0005", "bash", "5.2.15-2+b1"}, {"DEBIAN-CVE-2099-0007", "systemd", ""},
		{"DEBIAN-CVE-2099-0008", "util-linux", "2.38.1-5+deb12u4"},
	} {
		recs[r.id] = imagescantest.DebianRecord(r.id, "CVE"+r.id[len("DEBIAN-CVE"):], r.src, r.fixed, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
	}
	if _, err := (vulndb.Cache{Dir: s.dbDir}).ImportOSV(ctx, imagescantest.WriteRecords(t, recs), "debian-bench", time.Now()); err != nil {
		t.Fatal(err)
	}
	return s
}

// done reports whether the hub holds a scan of every digest for the
// cluster; a scan error fails the test.
func (s *scanSetup) done(ctx context.Context, t *testing.T, st store.Store, cluster string) bool {
	imgs, err := st.ListImages(ctx, cluster)
	if err != nil {
		return false
	}
	scanned := map[string]bool{}
	for _, im := range imgs {
		if im.ScanError != "" {
			t.Fatalf("scan of %s failed: %s", im.Ref, im.ScanError)
		}
		if !im.ScannedAt.IsZero() {
			scanned[im.Digest] = true
		}
	}
	for _, d := range s.digests {
		if !scanned[d] {
			return false
		}
	}
	return true
}

// summary lists each digest's vulnerabilities on the hub.
func (s *scanSetup) summary(ctx context.Context, t *testing.T, st store.Store, cluster string) string {
	var out []string
	for _, d := range s.digests {
		vs, err := st.ImageVulnerabilities(ctx, cluster, d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s: %d vulnerabilities", d[:19], len(vs)))
	}
	return strings.Join(out, "; ")
}
