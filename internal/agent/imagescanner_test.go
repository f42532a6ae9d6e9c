package agent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
	. "github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
	"github.com/palisade-sec/palisade/internal/testenv"
	"github.com/palisade-sec/palisade/internal/testregistry"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// registryCounter counts the requests the scanner sends to registries,
// through the real HTTP transport.
type registryCounter struct {
	base http.RoundTripper
	mu   sync.Mutex
	all  int
	blob int // GETs of blobs (layers and configs)
	// blobs counts GETs by blob digest.
	blobs map[string]int
}

func newRegistryCounter() *registryCounter {
	return &registryCounter{base: http.DefaultTransport.(*http.Transport).Clone()}
}

func (c *registryCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.all++
	if _, d, ok := strings.Cut(r.URL.Path, "/blobs/"); ok && r.Method == http.MethodGet && strings.HasPrefix(d, "sha256:") {
		c.blob++
		if c.blobs == nil {
			c.blobs = map[string]int{}
		}
		c.blobs[d]++
	}
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

func (c *registryCounter) counts() (all, blob int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.all, c.blob
}

const critical = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"

// debianImage is a Debian 12 image with libc6 (source glibc) and zlib1g.
func debianImage(t *testing.T) v1.Image {
	return Image(t, "linux/amd64", Layer(t,
		File("etc/os-release", OSRelease),
		File("var/lib/dpkg/status", DpkgStatus(DpkgStanza("libc6", "2.36-9+deb12u4", "glibc"), DpkgStanza("zlib1g", "1:1.2.13.dfsg-1", "zlib"))),
	))
}

// glibcRecords are the first database: one glibc advisory affecting libc6.
func glibcRecords() map[string][]byte {
	return map[string][]byte{
		"DEBIAN-CVE-2026-1000": DebianRecord("DEBIAN-CVE-2026-1000", "CVE-2026-1000", "glibc", "2.36-9+deb12u5", critical),
		"DEBIAN-CVE-2026-1001": DebianRecord("DEBIAN-CVE-2026-1001", "CVE-2026-1001", "glibc", "2.36-9+deb12u3", critical), // fixed below libc6's version
	}
}

// withZlib is the second database: the first plus a zlib advisory.
func withZlib() map[string][]byte {
	recs := glibcRecords()
	recs["DEBIAN-CVE-2026-1002"] = DebianRecord("DEBIAN-CVE-2026-1002", "CVE-2026-1002", "zlib", "", "")
	return recs
}

// withFiller adds n advisories of packages no image has, each with 10 KiB
// of random details, so that a bundle of recs hardly compresses.
func withFiller(recs map[string][]byte, n int) map[string][]byte {
	out := maps.Clone(recs)
	noise := make([]byte, 10<<10)
	for i := range n {
		_, _ = rand.Read(noise)
		id := fmt.Sprintf("DEBIAN-CVE-2026-9%04d", i)
		var rec map[string]any
		_ = json.Unmarshal(DebianRecord(id, "CVE-2026-9"+id[len(id)-4:], fmt.Sprintf("filler-%d", i), "", ""), &rec)
		rec["details"] = base64.StdEncoding.EncodeToString(noise)
		out[id], _ = json.Marshal(rec)
	}
	return out
}

// importDB builds the database of recs into dir (dir/vulndb/osv.db).
func importDB(t *testing.T, dir string, recs map[string][]byte, built time.Time) {
	t.Helper()
	if _, err := (vulndb.Cache{Dir: dir}).ImportOSV(context.Background(), WriteRecords(t, recs), "debian-test", built); err != nil {
		t.Fatal(err)
	}
}

func push(t *testing.T, ref string, img v1.Image, opts ...remote.Option) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, opts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return Digest(t, img)
}

func ruleIDs(fs []finding.Finding) string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.RuleID)
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// TestRegistryScannerScansOnceAndRematches pushes a Debian image with a
// vulnerable libc6 to a real registry; the scanner pulls it by digest and
// reports the glibc advisory. Scanning the digest again, after a new
// database with a zlib advisory, and from a restarted scanner over the
// same state directory sends no request to the registry: the package list
// kept on disk is matched again, and the zlib advisory appears.
func TestRegistryScannerScansOnceAndRematches(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	ctx := context.Background()
	digest := push(t, reg.Host+"/edge/app:1", debianImage(t))
	state := t.TempDir()
	importDB(t, state, glibcRecords(), time.Now().Add(-time.Hour))
	counter := newRegistryCounter()
	cfg := agent.RegistryScanConfig{InsecureRegistries: []string{reg.Host}, Transport: counter}
	s, err := agent.NewRegistryScanner(cfg, state, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	stamp1 := s.DBStamp()
	if stamp1 == "" {
		t.Fatal("no stamp with a database in place")
	}
	fs, err := s.Scan(ctx, reg.Host+"/edge/app:1", digest)
	if err != nil {
		t.Fatal(err)
	}
	if got := ruleIDs(fs); got != "DEBIAN-CVE-2026-1000" {
		t.Fatalf("first scan: %s", got)
	}
	v := fs[0].Vulnerability
	if fs[0].Object.Kind != "Image" || fs[0].Object.Name != reg.Host+"/edge/app@"+digest || v.Package.Name != "libc6" || v.Fixed != "2.36-9+deb12u5" || fs[0].Severity != finding.SeverityCritical {
		t.Fatalf("finding %+v, vulnerability %+v", fs[0], v)
	}
	all, blobs := counter.counts()
	if blobs < 2 || s.Walks() != 1 { // config and layer
		t.Fatalf("first scan: %d blob GETs, %d walks", blobs, s.Walks())
	}

	fs, err = s.Scan(ctx, reg.Host+"/edge/app:1", digest)
	if err != nil || ruleIDs(fs) != "DEBIAN-CVE-2026-1000" {
		t.Fatalf("second scan: %s, %v", ruleIDs(fs), err)
	}
	if a, _ := counter.counts(); a != all {
		t.Fatalf("second scan of the digest sent %d requests to the registry", a-all)
	}

	importDB(t, state, withZlib(), time.Now())
	stamp2 := s.DBStamp()
	if stamp2 == "" || stamp2 == stamp1 {
		t.Fatalf("stamp after the new database: %q (was %q)", stamp2, stamp1)
	}
	fs, err = s.Scan(ctx, reg.Host+"/edge/app:1", digest)
	if err != nil || ruleIDs(fs) != "DEBIAN-CVE-2026-1000,DEBIAN-CVE-2026-1002" {
		t.Fatalf("re-match after the new database: %s, %v", ruleIDs(fs), err)
	}
	if a, _ := counter.counts(); a != all || s.Walks() != 1 {
		t.Fatalf("re-match sent %d requests to the registry, %d walks", a-all, s.Walks())
	}

	// Another reference to the same digest (as another pod names it) and a
	// restarted scanner: still from the disk, named after the new reference.
	s2, err := agent.NewRegistryScanner(cfg, state, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.DBStamp() != stamp2 {
		t.Fatalf("restarted scanner stamp %q, want %q", s2.DBStamp(), stamp2)
	}
	fs, err = s2.Scan(ctx, reg.Host+"/edge/app@"+digest, digest)
	if err != nil || ruleIDs(fs) != "DEBIAN-CVE-2026-1000,DEBIAN-CVE-2026-1002" {
		t.Fatalf("restarted scanner: %s, %v", ruleIDs(fs), err)
	}
	if a, _ := counter.counts(); a != all || s2.Walks() != 0 {
		t.Fatalf("restarted scanner sent %d requests, %d walks", a-all, s2.Walks())
	}
}

// TestRegistryScannerSharedBaseLayers: a second image on the base layer
// of one scanned before pulls only its own layer (and config), finds the
// packages of both layers, and a new database re-matches both images
// without a request to the registry.
func TestRegistryScannerSharedBaseLayers(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	ctx := context.Background()
	base := Layer(t, File("etc/os-release", OSRelease), File("var/lib/dpkg/status", DpkgStatus(DpkgStanza("libc6", "2.36-9+deb12u4", "glibc"))))
	top := Layer(t, File("var/lib/dpkg/status", DpkgStatus(DpkgStanza("libc6", "2.36-9+deb12u4", "glibc"), DpkgStanza("zlib1g", "1:1.2.13.dfsg-1", "zlib"))))
	imgA := Image(t, "linux/amd64", base, Layer(t, File("srv/a", "a")))
	imgB := Image(t, "linux/amd64", base, top)
	digestA := push(t, reg.Host+"/edge/a:1", imgA)
	digestB := push(t, reg.Host+"/edge/b:1", imgB)
	state := t.TempDir()
	importDB(t, state, withZlib(), time.Now().Add(-time.Hour))
	counter := newRegistryCounter()
	s, err := agent.NewRegistryScanner(agent.RegistryScanConfig{InsecureRegistries: []string{reg.Host}, Transport: counter}, state, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fs, err := s.Scan(ctx, reg.Host+"/edge/a:1", digestA)
	if err != nil || ruleIDs(fs) != "DEBIAN-CVE-2026-1000" {
		t.Fatalf("image a: %s, %v", ruleIDs(fs), err)
	}
	baseDigest := Digest(t, base)
	if counter.blobs[baseDigest] != 1 {
		t.Fatalf("image a: base layer pulled %d times", counter.blobs[baseDigest])
	}
	fs, err = s.Scan(ctx, reg.Host+"/edge/b:1", digestB)
	if err != nil || ruleIDs(fs) != "DEBIAN-CVE-2026-1000,DEBIAN-CVE-2026-1002" {
		t.Fatalf("image b: %s, %v", ruleIDs(fs), err)
	}
	if n := counter.blobs[baseDigest]; n != 1 {
		t.Errorf("image b pulled the shared base layer again (%d pulls in all)", n)
	}
	if counter.blobs[Digest(t, top)] != 1 {
		t.Errorf("image b's own layer pulled %d times", counter.blobs[Digest(t, top)])
	}
	for _, f := range fs {
		want := baseDigest
		if f.Vulnerability.Package.Name == "zlib1g" {
			want = Digest(t, top)
		}
		if f.Vulnerability.Layer != want {
			t.Errorf("%s: layer %s, want %s", f.Vulnerability.Package.Name, f.Vulnerability.Layer, want)
		}
	}

	all, _ := counter.counts()
	recs := withZlib()
	recs["DEBIAN-CVE-2026-1003"] = DebianRecord("DEBIAN-CVE-2026-1003", "CVE-2026-1003", "glibc", "", "")
	importDB(t, state, recs, time.Now())
	for _, img := range []struct{ ref, digest, want string }{
		{reg.Host + "/edge/a:1", digestA, "DEBIAN-CVE-2026-1000,DEBIAN-CVE-2026-1003"},
		{reg.Host + "/edge/b:1", digestB, "DEBIAN-CVE-2026-1000,DEBIAN-CVE-2026-1002,DEBIAN-CVE-2026-1003"},
	} {
		fs, err := s.Scan(ctx, img.ref, img.digest)
		if err != nil || ruleIDs(fs) != img.want {
			t.Errorf("re-match of %s: %s, %v", img.ref, ruleIDs(fs), err)
		}
	}
	if a, _ := counter.counts(); a != all || s.Walks() != 2 {
		t.Errorf("re-match sent %d requests to the registry; %d walks", a-all, s.Walks())
	}
}

// TestRegistryScannerErrors: missing, hostile and unreachable images and
// a missing database give an error naming what is wrong, never a crash,
// and leave nothing in the package-list cache.
func TestRegistryScannerErrors(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	good := push(t, reg.Host+"/edge/app:1", debianImage(t))
	evil := RawLayer(t, Tar(t, File("../../etc/evil", "x")))
	hostile := push(t, reg.Host+"/edge/evil:1", Image(t, "linux/amd64", Layer(t, File("etc/os-release", OSRelease)), evil))
	absent := "sha256:" + strings.Repeat("ab", 32)

	withDB := t.TempDir()
	importDB(t, withDB, glibcRecords(), time.Now())
	allowed := agent.RegistryScanConfig{InsecureRegistries: []string{reg.Host}}
	for _, tc := range []struct {
		name     string
		cfg      agent.RegistryScanConfig
		noDB     bool
		ref      string
		digest   string
		want     []string
		wantWalk bool
	}{
		{name: "digest not in the registry", cfg: allowed, ref: reg.Host + "/edge/app:1", digest: absent, want: []string{reg.Host, "not found", absent}},
		{name: "repository not in the registry", cfg: allowed, ref: reg.Host + "/edge/none:1", digest: good, want: []string{"edge/none@" + good, "not found"}},
		{name: "layer climbing out of the root", cfg: allowed, ref: reg.Host + "/edge/evil:1", digest: hostile, want: []string{"edge/evil@" + hostile, "layer 1 (" + Digest(t, evil), "climbs out of the image root"}},
		{name: "not a digest", cfg: allowed, ref: reg.Host + "/edge/app:1", digest: "latest", want: []string{`digest "latest" is not a sha256 digest`}},
		{name: "path in the digest", cfg: allowed, ref: reg.Host + "/edge/app:1", digest: "sha256:../../../../etc/passwd", want: []string{"is not a sha256 digest"}},
		{name: "unparsable reference", cfg: allowed, ref: "Bad Ref::", digest: good, want: []string{`image "Bad Ref::"`}},
		{name: "plain HTTP not allowed", ref: reg.Host + "/edge/app:1", digest: good, want: []string{reg.Host, "plain HTTP is not allowed"}},
		{name: "no database", cfg: allowed, noDB: true, ref: reg.Host + "/edge/app:1", digest: good, want: []string{"no vulnerability database", "edge/app@" + good}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			cfg := tc.cfg
			if !tc.noDB {
				cfg.VulnDBDir = withDB
			}
			s, err := agent.NewRegistryScanner(cfg, state, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.DBStamp(); (got == "") != tc.noDB {
				t.Errorf("stamp %q with noDB %v", got, tc.noDB)
			}
			fs, err := s.Scan(ctx, tc.ref, tc.digest)
			if err == nil {
				t.Fatalf("no error; findings %v", fs)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if files, _ := filepath.Glob(filepath.Join(state, "sboms", "*")); len(files) != 0 {
				t.Errorf("cache holds %v after a failed scan", files)
			}
		})
	}
}

// TestRegistryScannerCredentials reads a private image with the
// credentials of a mounted Docker config file (the agent cannot read pull
// secrets), and fails clearly without them.
func TestRegistryScannerCredentials(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{Auth: true})
	ctx := context.Background()
	digest := push(t, reg.Host+"/private/app:1", debianImage(t), remote.WithAuth(&authn.Basic{Username: testregistry.User, Password: testregistry.Password}))
	dbDir := t.TempDir()
	importDB(t, dbDir, glibcRecords(), time.Now())
	cfgFile := filepath.Join(t.TempDir(), ".dockerconfigjson")
	js, _ := json.Marshal(map[string]any{"auths": map[string]any{"http://" + reg.Host + "/": map[string]string{
		"auth": base64.StdEncoding.EncodeToString([]byte(testregistry.User + ":" + testregistry.Password))}}})
	if err := os.WriteFile(cfgFile, js, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, config string
		want         string // error text; "" for success
	}{
		{"no credentials", "", "authentication required"},
		{"mounted Docker config", cfgFile, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := agent.NewRegistryScanner(agent.RegistryScanConfig{VulnDBDir: dbDir, InsecureRegistries: []string{reg.Host}, RegistryConfig: tc.config}, t.TempDir(), quietLog())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			fs, err := s.Scan(ctx, reg.Host+"/private/app:1", digest)
			switch {
			case tc.want == "" && (err != nil || ruleIDs(fs) != "DEBIAN-CVE-2026-1000"):
				t.Fatalf("findings %s, error %v", ruleIDs(fs), err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := agent.NewRegistryScanner(agent.RegistryScanConfig{RegistryConfig: filepath.Join(t.TempDir(), "missing")}, t.TempDir(), quietLog()); err == nil {
		t.Fatal("a missing registry config file was accepted")
	}
}

// exportBundle builds a database of recs and exports it as a bundle
// signed with key (`palisade db export`).
func exportBundle(t *testing.T, recs map[string][]byte, built time.Time, keyPEM []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	importDB(t, dir, recs, built)
	key, err := vulndb.ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := (vulndb.Cache{Dir: dir}).Export(context.Background(), &buf, key, built); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bundleFile writes a bundle's content to a file, as the agent's cache
// holds it, and returns its SHA-256 and path.
func bundleFile(t *testing.T, content []byte) (string, string) {
	t.Helper()
	sum := sha256.Sum256(content)
	p := filepath.Join(t.TempDir(), "content.bundle")
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(sum[:]), p
}

// loadBundle hands content to l as the agent does, from a file.
func loadBundle(t *testing.T, l agent.VulnDBLoader, name string, content []byte) error {
	t.Helper()
	sum, p := bundleFile(t, content)
	return l.LoadBundle(context.Background(), name, sum, p)
}

func writeKey(t *testing.T, pub []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "db.pub")
	if err := os.WriteFile(p, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRegistryScannerLoadBundle imports hub bundles only when a trusted
// key signed them, imports the same bundle once, and changes the stamp
// with each new database.
func TestRegistryScannerLoadBundle(t *testing.T) {
	priv, pub, err := vulndb.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	otherPriv, _, err := vulndb.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b1 := exportBundle(t, glibcRecords(), time.Now().Add(-time.Hour), priv)
	state := t.TempDir()

	untrusting, err := agent.NewRegistryScanner(agent.RegistryScanConfig{}, state, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := loadBundle(t, untrusting, "debian", b1); err == nil || !strings.Contains(err.Error(), "--vuln-db-public-key") {
		t.Fatalf("bundle without a trusted key: %v", err)
	}
	if untrusting.DBStamp() != "" {
		t.Fatal("database imported without a trusted key")
	}
	untrusting.Close()

	s, err := agent.NewRegistryScanner(agent.RegistryScanConfig{VulnDBKeyFiles: []string{writeKey(t, pub)}}, state, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := loadBundle(t, s, "debian", exportBundle(t, withZlib(), time.Now(), otherPriv)); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("bundle signed by another key: %v", err)
	}
	if s.DBStamp() != "" {
		t.Fatal("database imported from a bundle signed by another key")
	}
	if err := loadBundle(t, s, "debian", b1); err != nil {
		t.Fatal(err)
	}
	stamp1 := s.DBStamp()
	dbPath := (vulndb.Cache{Dir: state}).DBPath()
	before, err := os.Stat(dbPath)
	if stamp1 == "" || err != nil {
		t.Fatalf("after the import: stamp %q, %v", stamp1, err)
	}
	if err := loadBundle(t, s, "debian", b1); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(dbPath); err != nil || !os.SameFile(before, after) {
		t.Fatal("the same bundle was imported again")
	}
	if err := loadBundle(t, s, "debian", exportBundle(t, withZlib(), time.Now(), priv)); err != nil {
		t.Fatal(err)
	}
	if stamp2 := s.DBStamp(); stamp2 == "" || stamp2 == stamp1 {
		t.Fatalf("stamp after a new bundle %q (was %q)", stamp2, stamp1)
	}
	if _, err := agent.NewRegistryScanner(agent.RegistryScanConfig{VulnDBKeyFiles: []string{filepath.Join(state, "nokey.pub")}}, state, quietLog()); err == nil {
		t.Fatal("a missing key file was accepted")
	}
}

// TestAgentScansImagesEndToEnd runs an agent with the registry scanner
// against a real API server, hub and registry. A pod names an image by
// digest; until the hub publishes a signed vulndb bundle, the image is
// only catalogued, and the hub holds it as not matched. Then the kept
// package list is matched without a request to the registry, and the hub
// holds the image's glibc vulnerability. A second bundle with a zlib
// advisory makes the agent match the kept package list again: the zlib
// vulnerability reaches the hub without a request to the registry.
func TestAgentScansImagesEndToEnd(t *testing.T) {
	env := testenv.Shared(t)
	reg := testregistry.Start(t, testregistry.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := env.AdminClient(t)
	p := newHubProc(t)
	ns := env.CreateNamespace(ctx, t, "", nil).Name
	digest := push(t, reg.Host+"/edge/app:1", debianImage(t))
	priv, pub, err := vulndb.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	counter := newRegistryCounter()
	tok, _, err := p.h.CreateBootstrapToken(ctx, "edge-scan", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a, stop := startAgent(t, ctx, p, client, ns, tok, t.TempDir(), func(c *agent.Config) {
		c.Images = &agent.RegistryScanConfig{InsecureRegistries: []string{reg.Host}, VulnDBKeyFiles: []string{writeKey(t, pub)}, Transport: counter}
	})
	defer stop()
	// No kubelet runs the pods: the agent takes the digest from the spec.
	for i, image := range []string{reg.Host + "/edge/app@" + digest, reg.Host + "/edge/app:1@" + digest} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%d", i), Namespace: ns},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	vulnIDs := func() string {
		vs, err := p.st.ImageVulnerabilities(ctx, a.ClusterID(), digest)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, v := range vs {
			ids = append(ids, v.ID)
		}
		sort.Strings(ids)
		return strings.Join(ids, ",")
	}
	waitFor(t, "the image catalogued on the hub", time.Minute, func() bool {
		imgs, _ := p.st.ListImages(ctx, a.ClusterID())
		return len(imgs) == 2 && !imgs[0].ScannedAt.IsZero() && !imgs[1].ScannedAt.IsZero()
	})
	imgs, err := p.st.ListImages(ctx, a.ClusterID())
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range imgs {
		if !im.NotMatched() || im.ScanError != fleetapi.ImageScanNotMatched || im.DBStamp != "" {
			t.Fatalf("image before there was a vulnerability database: %+v, want catalogued and not matched", im)
		}
	}
	if vulnIDs() != "" {
		t.Fatalf("vulnerabilities before there was a vulnerability database: %s", vulnIDs())
	}
	all, blobs := counter.counts()
	if blobs < 2 {
		t.Fatalf("%d blob GETs to catalogue the image", blobs)
	}

	// Each bundle is over the hub's inline limit: the agent lists it as
	// metadata and downloads its content, streaming.
	publish := func(recs map[string][]byte, built time.Time) {
		t.Helper()
		b, err := p.h.PublishBundle(ctx, fleetapi.BundleVulnDB, "debian", "", exportBundle(t, withFiller(recs, 40), built, priv))
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Content) <= fleetapi.MaxInlineBundleBytes {
			t.Fatalf("bundle of %d bytes travels inline", len(b.Content))
		}
		if err := a.FetchBundles(ctx); err != nil {
			t.Fatal(err)
		}
	}
	publish(glibcRecords(), time.Now().Add(-time.Hour))
	waitFor(t, "the glibc vulnerability on the hub", time.Minute, func() bool { return vulnIDs() == "DEBIAN-CVE-2026-1000" })
	if a2, b2 := counter.counts(); a2 != all {
		t.Fatalf("the first match sent %d requests (%d blob GETs) to the registry", a2-all, b2-blobs)
	}

	publish(withZlib(), time.Now())
	waitFor(t, "the zlib vulnerability on the hub after the new bundle", time.Minute, func() bool {
		return vulnIDs() == "DEBIAN-CVE-2026-1000,DEBIAN-CVE-2026-1002"
	})
	if a2, b2 := counter.counts(); a2 != all {
		t.Fatalf("re-match sent %d requests (%d blob GETs) to the registry", a2-all, b2-blobs)
	}
	if imgs, err = p.st.ListImages(ctx, a.ClusterID()); err != nil {
		t.Fatal(err)
	}
	for _, im := range imgs {
		if im.Digest == digest && (im.ScanError != "" || im.DBStamp == "" || im.Vulnerabilities["CRITICAL"] != 1) {
			t.Errorf("image on the hub: %+v", im)
		}
	}
}

// TestRegistryScannerMemoryBounds: the agent's walk keeps at most
// MaxMemoryBytes of image files, so an image of many large JARs is
// refused with an error rather than pushing the agent out of its memory
// limit; a scan that was running when the agent stopped (its marker left
// behind, as after an out-of-memory kill) is not started again by the
// restart, and the other images still are.
func TestRegistryScannerMemoryBounds(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	jar := strings.Repeat("PK", 3<<19) // 3 MiB each
	jars := Image(t, "linux/amd64", Layer(t, File("etc/os-release", OSRelease),
		File("opt/app/lib/a.jar", jar), File("opt/app/lib/b.jar", jar), File("opt/app/lib/c.jar", jar)))
	heavy := push(t, reg.Host+"/edge/jars:1", jars)
	good := push(t, reg.Host+"/edge/app:1", debianImage(t))
	db := t.TempDir()
	importDB(t, db, glibcRecords(), time.Now())
	cfg := agent.RegistryScanConfig{InsecureRegistries: []string{reg.Host}, VulnDBDir: db, MaxFileBytes: 4 << 20, MaxMemoryBytes: 8 << 20}

	s, err := agent.NewRegistryScanner(cfg, t.TempDir(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Scan(ctx, reg.Host+"/edge/jars:1", heavy); err == nil || !strings.Contains(err.Error(), "edge/jars@"+heavy) {
		t.Fatalf("9 MiB of JARs with an 8 MiB bound: %v", err)
	}
	cfg.MaxMemoryBytes = 16 << 20
	roomy, err := agent.NewRegistryScanner(cfg, t.TempDir(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer roomy.Close()
	if _, err := roomy.Scan(ctx, reg.Host+"/edge/jars:1", heavy); err != nil {
		t.Fatalf("with a 16 MiB bound: %v", err)
	}

	// A marker left by a walk the agent did not survive.
	state := t.TempDir()
	if err := os.MkdirAll(filepath.Join(state, "sboms"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "sboms", strings.Replace(heavy, ":", "-", 1)+".scanning"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	restarted, err := agent.NewRegistryScanner(cfg, state, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	if _, err := restarted.Scan(ctx, reg.Host+"/edge/jars:1", heavy); err == nil || !strings.Contains(err.Error(), "was running when the agent last stopped") {
		t.Fatalf("the image whose scan was interrupted: %v", err)
	}
	if fs, err := restarted.Scan(ctx, reg.Host+"/edge/app:1", good); err != nil || len(fs) == 0 {
		t.Fatalf("another image after the restart: %v %v", fs, err)
	}
	if left, _ := filepath.Glob(filepath.Join(state, "sboms", "*.scanning")); len(left) != 0 {
		t.Errorf("markers left after the scans: %v", left)
	}
}

// TestRegistryScannerWarnsOfMissingData: an Alpine image scanned with a
// database of Debian advisories only has no findings, but was not
// checked: the scanner says so in its log, naming the image and the
// ecosystem.
func TestRegistryScannerWarnsOfMissingData(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	alpine := Image(t, "linux/amd64", Layer(t,
		// A release still supported (3.20 reached its end of life in 2026,
		// a finding of its own since scans report it).
		File("etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.23.0\n"),
		File("lib/apk/db/installed", "P:musl\nV:1.2.5-r0\no:musl\n\n"),
	))
	digest := push(t, reg.Host+"/edge/alpine:1", alpine)
	state := t.TempDir()
	importDB(t, state, glibcRecords(), time.Now())
	var logs strings.Builder
	s, err := agent.NewRegistryScanner(agent.RegistryScanConfig{InsecureRegistries: []string{reg.Host}}, state, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fs, err := s.Scan(context.Background(), reg.Host+"/edge/alpine:1", digest)
	if err != nil || len(fs) != 0 {
		t.Fatalf("scan: %v, %v", fs, err)
	}
	if !strings.Contains(logs.String(), "no vulnerability data for ecosystem Alpine:v3.23 (1 package not checked)") {
		t.Errorf("log does not say the image was not checked:\n%s", logs.String())
	}
}
