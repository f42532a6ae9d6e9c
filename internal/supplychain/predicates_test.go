package supplychain

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/palisade-sec/palisade/internal/testregistry"
	"github.com/palisade-sec/palisade/internal/vulnmatch"
)

// TestAttestedVEXFromRealCosign: an OpenVEX document attested by the real
// cosign (keyed, both layouts) is returned only when it verifies for the
// rule's signers, and reads as a VEX document; one attested by another key
// is a miss, never used.
func TestAttestedVEXFromRealCosign(t *testing.T) {
	c := newCosignCLI(t)
	other := newCosignCLI(t)
	reg := testregistry.Start(t, testregistry.Options{})
	ctx := context.Background()
	vex := []byte(`{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/vex/1","author":"acme","timestamp":"2026-11-01T00:00:00Z","version":1,
"statements":[{"vulnerability":{"name":"CVE-2026-1000"},"products":[{"@id":"pkg:deb/debian/libc6"}],"status":"not_affected","justification":"vulnerable_code_not_in_execute_path"}]}`)
	rule := &Rule{Name: "vex", Signers: []Signer{c.pub(t)}}
	for _, bundle := range []bool{false, true} {
		repo, digest := pushRandom(t, reg.Host, "vex/app"+boolStr(bundle))
		ref := repo.Digest(digest).String()
		c.attest(ref, "openvex", vex, bundle)
		other.attest(ref, "openvex", vex, bundle)
		r, err := name.NewRepository(repo.Name(), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := Fetch(ctx, r, digest)
		if err != nil {
			t.Fatal(err)
		}
		got, misses := (&Verifier{}).VerifiedPredicates(rule, digest, "openvex", evs)
		if len(got) != 1 || len(misses) != 1 || !strings.Contains(misses[0], "cosign key") {
			t.Fatalf("bundle=%v: %d predicates, misses %q", bundle, len(got), misses)
		}
		if !strings.HasPrefix(got[0].Type, "https://openvex.dev/ns") || got[0].Signer != "cosign key" {
			t.Fatalf("bundle=%v: %+v", bundle, got[0])
		}
		v := &vulnmatch.VEX{}
		if err := v.Add("attestation "+got[0].Source, bytes.NewReader(got[0].Predicate)); err != nil {
			t.Fatalf("bundle=%v: the attested predicate is not read as VEX: %v", bundle, err)
		}
	}
}
