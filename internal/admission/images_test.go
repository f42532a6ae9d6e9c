package admission

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisade-sec/palisade/internal/admission/cosign"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

// pushImage writes a random image to ref and returns its digest.
func pushImage(t testing.TB, ref string, opts ...remote.Option) string {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, opts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// sign attaches a cosign signature over a payload naming payloadDigest to
// the signature tag of digest.
func sign(t testing.TB, key crypto.Signer, repo, digest, payloadDigest string, opts ...remote.Option) {
	t.Helper()
	payload := cosign.Payload(repo, payloadDigest)
	sig, err := cosign.Sign(key, payload)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	if err := cosign.Attach(context.Background(), r, digest, []cosign.Signature{{Payload: payload, Signature: sig}}, opts...); err != nil {
		t.Fatal(err)
	}
}

func publicPEM(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n"+pad)
}

func TestDigestPinningAndSignatures(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	trusted, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	wrong, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	repo := reg.Host + "/team/app"
	signedDigest := pushImage(t, repo+":signed")
	sign(t, trusted, repo, signedDigest, signedDigest)
	edDigest := pushImage(t, repo+":ed25519")
	sign(t, edKey, repo, edDigest, edDigest)
	unsignedDigest := pushImage(t, repo+":unsigned")
	wrongDigest := pushImage(t, repo+":wrong-key")
	sign(t, wrong, repo, wrongDigest, wrongDigest)
	otherDigest := pushImage(t, repo+":other-digest")
	// A valid signature by the trusted key, but over another image's
	// digest, copied under this image's signature tag.
	sign(t, trusted, repo, otherDigest, signedDigest)

	ts := newTestServer(t, policyHeader+fmt.Sprintf(`spec:
  rules: [pss-baseline]
  images:
    resolveDigests: true
    registry: {timeout: 2s}
    signatures:
      images: ["%s/*"]
      keys:
      - name: release
        pem: |
%s
      - name: edge
        pem: |
%s
`, reg.Host, indent(publicPEM(t, &trusted.PublicKey), 10), indent(publicPEM(t, edKey.Public()), 10)), Options{})

	t.Run("mutation pins every tag", func(t *testing.T) {
		d := deployment("app", nil, container("a", repo+":signed"), container("b", repo+":unsigned"), container("c", "registry.other.example/x@"+signedDigest))
		d.Spec.Template.Spec.InitContainers = []corev1.Container{container("init", repo+":ed25519")}
		resp, _, body := ts.post(t, EndpointMutate, reviewFor(t, d, deploymentGVK, "prod", reviewOpts{}))
		if !resp.Allowed || resp.PatchType == nil || *resp.PatchType != "JSONPatch" {
			t.Fatalf("want an allowed JSONPatch: %s", body)
		}
		var ops []patchOp
		if err := json.Unmarshal(resp.Patch, &ops); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"/spec/template/spec/initContainers/0/image": repo + ":ed25519@" + edDigest,
			"/spec/template/spec/containers/0/image":     repo + ":signed@" + signedDigest,
			"/spec/template/spec/containers/1/image":     repo + ":unsigned@" + unsignedDigest,
		}
		if len(ops) != len(want) {
			t.Fatalf("patch %+v, want %v", ops, want)
		}
		for _, op := range ops {
			if op.Op != "replace" || want[op.Path] != op.Value {
				t.Errorf("op %+v, want %s", op, want[op.Path])
			}
		}
	})

	tests := []struct {
		name, image string
		allowed     bool
		want        string
	}{
		{"signed ECDSA", repo + ":signed@" + signedDigest, true, ""},
		{"signed ECDSA by digest", repo + "@" + signedDigest, true, ""},
		{"signed Ed25519", repo + ":ed25519@" + edDigest, true, ""},
		{"signed tag not pinned", repo + ":signed", false, "is not pinned by digest"},
		{"unsigned", repo + ":unsigned@" + unsignedDigest, false, "no cosign signature found"},
		{"wrong key", repo + ":wrong-key@" + wrongDigest, false, "none valid for a trusted key (release, edge)"},
		{"signature for another digest", repo + ":other-digest@" + otherDigest, false, "signature is for digest " + signedDigest},
		{"not covered by the signature globs", "registry.other.example/x@" + signedDigest, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _, body := ts.post(t, EndpointValidate, reviewFor(t, pod("p", container("a", tt.image)), podGVK, "prod", reviewOpts{}))
			if resp.Allowed != tt.allowed {
				t.Fatalf("allowed %v, want %v: %s", resp.Allowed, tt.allowed, body)
			}
			if !tt.allowed && (!strings.Contains(resp.Result.Message, "["+RuleSignature+"]") || !strings.Contains(resp.Result.Message, tt.want)) {
				t.Errorf("message %q, want %s and %q", resp.Result.Message, RuleSignature, tt.want)
			}
		})
	}

	// Verified once per digest: the second round is served from the cache.
	before := ts.decider.images.signatures.stats()
	for range 3 {
		ts.post(t, EndpointValidate, reviewFor(t, pod("p", container("a", repo+":signed@"+signedDigest)), podGVK, "prod", reviewOpts{}))
	}
	after := ts.decider.images.signatures.stats()
	if after.misses != before.misses || after.hits != before.hits+3 {
		t.Errorf("signature cache: before %+v after %+v, want 3 hits and no miss", before, after)
	}
}

// blackhole accepts connections and never answers: a hung registry.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln.Addr().String()
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestUnreachableRegistryFailureModes(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tt := range []struct {
		name, host string
	}{
		{"hung registry", blackhole(t)},
		{"refused connection", closedPort(t)},
	} {
		for _, fp := range []FailurePolicy{FailClosed, FailOpen} {
			t.Run(tt.name+"/"+string(fp), func(t *testing.T) {
				ts := newTestServer(t, policyHeader+fmt.Sprintf(`spec:
  rules: [pss-baseline]
  images:
    resolveDigests: true
    registry: {timeout: 700ms, failurePolicy: %s}
    signatures:
      keys:
      - name: k
        pem: |
%s
`, fp, indent(publicPEM(t, &key.PublicKey), 10)), Options{})
				for _, ep := range []string{EndpointMutate, EndpointValidate} {
					start := time.Now()
					resp, _, body := ts.post(t, ep, reviewFor(t, pod("p", container("a", tt.host+"/app:1")), podGVK, "prod", reviewOpts{}))
					took := time.Since(start)
					if took > 3*time.Second {
						t.Errorf("%s took %s with a 700ms registry timeout", ep, took)
					}
					if fp == FailClosed {
						if resp.Allowed {
							t.Errorf("%s: allowed with failurePolicy Fail: %s", ep, body)
						}
						continue
					}
					if !resp.Allowed || len(resp.Warnings) == 0 || resp.Patch != nil {
						t.Errorf("%s: want allowed with a warning and no patch: %s", ep, body)
					}
				}
			})
		}
	}
}

func TestPullSecretsReachAuthenticatedRegistry(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{Auth: true})
	auth := remote.WithAuth(&authn.Basic{Username: testregistry.User, Password: testregistry.Password})
	digest := pushImage(t, reg.Host+"/private/app:1", auth)
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{reg.Host: map[string]string{
		"auth": base64.StdEncoding.EncodeToString([]byte(testregistry.User + ":" + testregistry.Password))}}})
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: "prod"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: cfg}}
	kc := &secretKeychain{}
	if err := kc.add(secret); err != nil {
		t.Fatal(err)
	}
	p, err := parsePolicy(context.Background(), "inline", []byte(policyHeader+"spec:\n  images: {resolveDigests: true}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ic := newImageChecks(nil, nil, nil)
	if _, err := ic.resolve(context.Background(), p, reg.Host+"/private/app:1", authn.NewMultiKeychain()); err == nil {
		t.Fatal("resolved a private image without credentials")
	}
	got, err := ic.resolve(context.Background(), p, reg.Host+"/private/app:1", kc)
	if err != nil || got != digest {
		t.Fatalf("resolve with pull secret: %s, %v; want %s", got, err, digest)
	}
}

// fakeScanner is a FAKE vulnerability scanner for testing the gate; the
// real scanner (internal/vulnmatch) is wired when it lands.
type fakeScanner struct {
	delay    time.Duration
	findings map[string][]finding.Finding // by digest suffix
	problems map[string][]finding.Problem // by digest suffix
	calls    int
}

func (f *fakeScanner) Scan(ctx context.Context, digestRef string) (*finding.Report, error) {
	f.calls++
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	_, digest, _ := strings.Cut(digestRef, "@")
	return &finding.Report{Findings: f.findings[digest], Problems: f.problems[digest]}, nil
}

func TestVulnerabilityGateWithFakeScanner(t *testing.T) {
	clean := "registry.example.com/clean@sha256:" + strings.Repeat("1", 64)
	vulnerable := "registry.example.com/vuln@sha256:" + strings.Repeat("2", 64)
	unfixed := "registry.example.com/unfixed@sha256:" + strings.Repeat("3", 64)
	scanner := &fakeScanner{findings: map[string][]finding.Finding{
		"sha256:" + strings.Repeat("2", 64): {{RuleID: "vuln", Title: "CVE-2026-0001", Severity: finding.SeverityCritical, Remediation: "fixed"},
			{RuleID: "vuln", Title: "CVE-2026-0002", Severity: finding.SeverityLow, Remediation: "fixed"}},
		"sha256:" + strings.Repeat("3", 64): {{RuleID: "vuln", Title: "CVE-2026-0003", Severity: finding.SeverityHigh}},
	}}
	fixable := func(f finding.Finding) bool { return f.Remediation == "fixed" }
	policy := func(timeout string, fp FailurePolicy) string {
		return policyHeader + fmt.Sprintf("spec:\n  rules: [pss-baseline]\n  images:\n    vulnerabilities: {severity: HIGH, fixableOnly: true, timeout: %s, failurePolicy: %s}\n", timeout, fp)
	}
	ts := newTestServer(t, policy("2s", FailClosed), Options{Scanner: scanner, Fixable: fixable})
	for _, tt := range []struct {
		image   string
		allowed bool
		want    string
	}{
		{clean, true, ""},
		{vulnerable, false, "has fixable vulnerabilities at or above HIGH: 1 CRITICAL (e.g. CVE-2026-0001)"},
		{unfixed, true, ""},
	} {
		resp, _, body := ts.post(t, EndpointValidate, reviewFor(t, pod("p", container("a", tt.image)), podGVK, "prod", reviewOpts{}))
		if resp.Allowed != tt.allowed || (!tt.allowed && !strings.Contains(resp.Result.Message, tt.want)) {
			t.Errorf("%s: %s", tt.image, body)
		}
	}
	calls := scanner.calls
	ts.post(t, EndpointValidate, reviewFor(t, pod("p", container("a", vulnerable)), podGVK, "prod", reviewOpts{}))
	if scanner.calls != calls {
		t.Error("scan not cached per digest")
	}

	slow := &fakeScanner{delay: 5 * time.Second}
	for _, fp := range []FailurePolicy{FailClosed, FailOpen} {
		ts := newTestServer(t, policy("300ms", fp), Options{Scanner: slow})
		start := time.Now()
		resp, _, body := ts.post(t, EndpointValidate, reviewFor(t, pod("p", container("a", clean)), podGVK, "prod", reviewOpts{}))
		if time.Since(start) > 2*time.Second {
			t.Errorf("%s: slow scan not bounded: %s", fp, time.Since(start))
		}
		if resp.Allowed != (fp == FailOpen) || !strings.Contains(body, "scan did not finish within 300ms") {
			t.Errorf("%s: %s", fp, body)
		}
	}
}

func TestKeyFileRelativeToPolicy(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cosign.pub"), []byte(publicPEM(t, &key.PublicKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "policy.yaml")
	body := policyHeader + "spec:\n  images:\n    signatures:\n      keys: [{name: release, file: cosign.pub}]\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPolicy(context.Background(), path)
	if err != nil || len(p.keys) != 1 {
		t.Fatalf("%v %v", p, err)
	}
}

// TestVulnerabilityGateUnknownSeverity: a vulnerability whose advisory
// gives no severity denies at any gate level unless the policy says
// ignoreUnknownSeverity.
func TestVulnerabilityGateUnknownSeverity(t *testing.T) {
	image := "registry.example.com/alpine-app@sha256:" + strings.Repeat("4", 64)
	scanner := &fakeScanner{findings: map[string][]finding.Finding{
		"sha256:" + strings.Repeat("4", 64): {{RuleID: "ALPINE-CVE-2099-0001", Title: "CVE-2099-0001", Severity: finding.SeverityUnknown}},
	}}
	for _, tt := range []struct {
		name    string
		spec    string
		allowed bool
		want    string
	}{
		{"CRITICAL gate", "{severity: CRITICAL}", false, "has vulnerabilities at or above CRITICAL or of unknown severity: 1 UNKNOWN (e.g. CVE-2099-0001)"},
		{"LOW gate", "{severity: LOW}", false, "1 UNKNOWN"},
		{"ignored", "{severity: LOW, ignoreUnknownSeverity: true}", true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			policy := policyHeader + "spec:\n  rules: [pss-baseline]\n  images:\n    vulnerabilities: " + tt.spec + "\n"
			ts := newTestServer(t, policy, Options{Scanner: scanner})
			resp, _, body := ts.post(t, EndpointValidate, reviewFor(t, pod("p", container("a", image)), podGVK, "prod", reviewOpts{}))
			if resp.Allowed != tt.allowed || (!tt.allowed && !strings.Contains(resp.Result.Message, tt.want)) {
				t.Errorf("allowed %v, want %v (%q): %s", resp.Allowed, tt.allowed, tt.want, body)
			}
		})
	}
}

// TestVulnerabilityGateMissingData: a scan that left packages unchecked
// (no advisories of the image's ecosystem in the database) is not a clean
// image: it fails as a scan does, denied under failurePolicy Fail, a
// warning under Ignore.
func TestVulnerabilityGateMissingData(t *testing.T) {
	digest := "sha256:" + strings.Repeat("5", 64)
	image := "registry.example.com/wolfi-app@" + digest
	gap := "Image registry.example.com/wolfi-app@" + digest + ": no vulnerability data for ecosystem Wolfi (12 packages not checked)"
	scanner := &fakeScanner{problems: map[string][]finding.Problem{
		digest: {{Level: finding.LevelError, Message: gap}, {Level: finding.LevelWarning, Message: "database is 9 days old"}},
	}}
	for _, tt := range []struct {
		fp      FailurePolicy
		allowed bool
	}{
		{FailClosed, false},
		{FailOpen, true},
	} {
		t.Run(string(tt.fp), func(t *testing.T) {
			policy := policyHeader + "spec:\n  rules: [pss-baseline]\n  images:\n    vulnerabilities: {severity: CRITICAL, failurePolicy: " + string(tt.fp) + "}\n"
			ts := newTestServer(t, policy, Options{Scanner: scanner})
			resp, _, body := ts.post(t, EndpointValidate, reviewFor(t, pod("p", container("a", image)), podGVK, "prod", reviewOpts{}))
			if resp.Allowed != tt.allowed || !strings.Contains(body, "was not fully checked: "+gap) {
				t.Errorf("allowed %v, want %v and the gap: %s", resp.Allowed, tt.allowed, body)
			}
			if strings.Contains(body, "9 days old") {
				t.Errorf("a warning of the scan denied or warned: %s", body)
			}
		})
	}
}
