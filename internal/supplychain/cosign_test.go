package supplychain

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/palisade-sec/palisade/internal/admission/cosign"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

// cosignBinary finds the real cosign CLI that hack/cosign/build.sh builds:
// $PALISADE_COSIGN_BIN, or the build script's cache path. Without it the
// test skips, unless PALISADE_REQUIRE_COSIGN=1 (CI) makes that a failure.
func cosignBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("PALISADE_COSIGN_BIN")
	if bin == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache")
		}
		bin = filepath.Join(cache, "palisade", "cosign", "v2.6.5", "cosign")
		if d := os.Getenv("PALISADE_COSIGN_DIR"); d != "" {
			bin = filepath.Join(d, "cosign")
		}
	}
	if _, err := os.Stat(bin); err != nil {
		msg := "cosign not built (run bash hack/cosign/build.sh, about 4 minutes)"
		if os.Getenv("PALISADE_REQUIRE_COSIGN") == "1" {
			t.Fatal(msg + "; PALISADE_REQUIRE_COSIGN=1 makes this a failure")
		}
		t.Skip(msg)
	}
	return bin
}

// cosignCLI runs the real cosign offline: keys only, no transparency log
// upload, its state in a temporary HOME and TUF_ROOT.
type cosignCLI struct {
	t   *testing.T
	bin string
	dir string
	env []string
}

func newCosignCLI(t *testing.T) *cosignCLI {
	dir := t.TempDir()
	c := &cosignCLI{t: t, bin: cosignBinary(t), dir: dir, env: append(os.Environ(),
		"COSIGN_PASSWORD=palisade-test", "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, "tuf"), "COSIGN_EXPERIMENTAL=0")}
	c.run("generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign"))
	return c
}

func (c *cosignCLI) run(args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env, cmd.Dir = c.env, c.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (c *cosignCLI) key() string { return filepath.Join(c.dir, "cosign.key") }

func (c *cosignCLI) pub(t *testing.T) Signer {
	k, err := ResolveKey(context.Background(), filepath.Join(c.dir, "cosign.pub"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return Signer{Name: "cosign key", Key: k}
}

func (c *cosignCLI) sign(ref string, bundle bool) {
	c.t.Helper()
	c.run("sign", "--key", c.key(), "--tlog-upload=false", "--allow-insecure-registry", "--yes", "--new-bundle-format="+boolStr(bundle), ref)
}

func (c *cosignCLI) attest(ref, typ string, predicate []byte, bundle bool) {
	c.t.Helper()
	p := filepath.Join(c.dir, "predicate.json")
	if err := os.WriteFile(p, predicate, 0o600); err != nil {
		c.t.Fatal(err)
	}
	c.run("attest", "--key", c.key(), "--type", typ, "--predicate", p, "--tlog-upload=false", "--allow-insecure-registry", "--yes", "--new-bundle-format="+boolStr(bundle), ref)
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// TestRealCosign signs and attests images in the real registry with the
// real cosign CLI (v2.6.5, keyed, offline), in the legacy tag layout and
// in the bundle format (which Debian's registry gets as the sha256-<hex>
// fallback index), and checks what Palisade verifies and refuses.
func TestRealCosign(t *testing.T) {
	c := newCosignCLI(t)
	other := newCosignCLI(t)
	reg := testregistry.Start(t, testregistry.Options{})
	ctx := context.Background()
	signer := c.pub(t)
	otherSigner := other.pub(t)
	pred := []byte(`{"buildDefinition":{"buildType":"https://actions.github.io/buildtypes/workflow/v1","externalParameters":{"workflow":{"repository":"https://github.com/acme/shop"}}},"runDetails":{"builder":{"id":"https://github.com/acme/builder"}}}`)
	cond, err := CompileConditions([]string{`predicate.buildDefinition.externalParameters.workflow.repository == "https://github.com/acme/shop"`})
	if err != nil {
		t.Fatal(err)
	}
	v := &Verifier{}
	sigRule := func(s Signer) *Rule { return &Rule{Name: "sig", Signers: []Signer{s}} }
	attRule := func(typ string) *Rule {
		return &Rule{Name: "att", Attestations: []AttestationRule{{Type: PredicateType(typ), Signers: []Signer{signer}, Conditions: cond}}}
	}

	for _, bundle := range []bool{false, true} {
		layout := "legacy tags"
		if bundle {
			layout = "bundle referrers"
		}
		t.Run(layout, func(t *testing.T) {
			repo, digest := pushRandom(t, reg.Host, "cosign-"+boolStr(bundle))
			ref := repo.Name() + "@" + digest
			c.sign(ref, bundle)
			c.attest(ref, "slsaprovenance1", pred, bundle)
			c.attest(ref, "cyclonedx", []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}`), bundle)
			dref, _ := name.NewDigest(ref, name.Insecure)
			for _, tt := range []struct {
				name       string
				rule       *Rule
				want       bool
				wantReason string
			}{
				{name: "signature", rule: sigRule(signer), want: true},
				{name: "SLSA provenance with condition", rule: attRule("slsaprovenance1"), want: true},
				{name: "CycloneDX SBOM", rule: &Rule{Name: "sbom", Attestations: []AttestationRule{{Type: PredicateType("cyclonedx"), Signers: []Signer{signer}}}}, want: true},
				{name: "another key", rule: sigRule(otherSigner), wantReason: "none valid for a trusted key (cosign key)"},
				{name: "wrong predicate type", rule: attRule("openvex"), wantReason: "no attestation of type https://openvex.dev/ns found"},
				{name: "provenance from another repository", rule: &Rule{Name: "att", Attestations: []AttestationRule{{Type: PredicateType("slsaprovenance1"), Signers: []Signer{signer},
					Conditions: mustConditions(t, `predicate.buildDefinition.externalParameters.workflow.repository == "https://github.com/evil/shop"`)}}}, wantReason: "is false"},
			} {
				t.Run(tt.name, func(t *testing.T) {
					d, err := v.VerifyImage(ctx, tt.rule, dref)
					if err != nil {
						t.Fatal(err)
					}
					if len(d.Unreadable) > 0 {
						t.Errorf("unreadable evidence: %q", d.Unreadable)
					}
					if d.Verified != tt.want {
						t.Fatalf("verified = %t, want %t: %+v", d.Verified, tt.want, d.Checks)
					}
					if tt.wantReason != "" && !strings.Contains(d.Checks[0].Reason, tt.wantReason) {
						t.Fatalf("reason %q, want %q", d.Checks[0].Reason, tt.wantReason)
					}
				})
			}
		})
	}

	t.Run("legacy signature copied to another digest", func(t *testing.T) {
		repoA, digestA := pushRandom(t, reg.Host, "copied-a")
		repoB, digestB := pushRandom(t, reg.Host, "copied-b")
		c.sign(repoA.Name()+"@"+digestA, false)
		sigs, err := cosign.Fetch(ctx, repoA, digestA)
		if err != nil || len(sigs) != 1 {
			t.Fatalf("fetch: %v, %d signatures", err, len(sigs))
		}
		if err := cosign.Attach(ctx, repoB, digestB, sigs); err != nil {
			t.Fatal(err)
		}
		dref, _ := name.NewDigest(repoB.Name()+"@"+digestB, name.Insecure)
		d, err := v.VerifyImage(ctx, sigRule(signer), dref)
		if err != nil {
			t.Fatal(err)
		}
		if d.Verified || !strings.Contains(d.Checks[0].Reason, "signature is for digest "+digestA) {
			t.Fatalf("verified %t: %+v", d.Verified, d.Checks)
		}
	})

	t.Run("tampered legacy payload", func(t *testing.T) {
		repo, digest := pushRandom(t, reg.Host, "tampered")
		ref := repo.Name() + "@" + digest
		c.sign(ref, false)
		sigs, err := cosign.Fetch(ctx, repo, digest)
		if err != nil || len(sigs) != 1 {
			t.Fatalf("fetch: %v, %d signatures", err, len(sigs))
		}
		// Same signature, payload with one more optional field: the
		// payload's digest field still names the image.
		tampered := strings.Replace(string(sigs[0].Payload), `"optional":null`, `"optional":{"x":"y"}`, 1)
		if tampered == string(sigs[0].Payload) {
			tampered = strings.Replace(string(sigs[0].Payload), `{"critical"`, `{"optional":{"x":"y"},"critical"`, 1)
		}
		// Write the tampered signature as the only one for this digest,
		// in another repository (legacy tags need no image beside them).
		repoT, _ := pushRandom(t, reg.Host, "tampered-target")
		if err := cosign.Attach(ctx, repoT, digest, []cosign.Signature{{Payload: []byte(tampered), Signature: sigs[0].Signature}}); err != nil {
			t.Fatal(err)
		}
		dref, _ := name.NewDigest(repoT.Name()+"@"+digest, name.Insecure)
		ev, err := Fetch(ctx, dref.Context(), digest)
		if err != nil {
			t.Fatal(err)
		}
		d := v.Evaluate(sigRule(signer), dref.String(), digest, ev)
		if d.Verified || !strings.Contains(d.Checks[0].Reason, "verif") {
			t.Fatalf("verified %t: %+v", d.Verified, d.Checks)
		}
	})
}

func mustConditions(t *testing.T, srcs ...string) []Condition {
	t.Helper()
	c, err := CompileConditions(srcs)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
