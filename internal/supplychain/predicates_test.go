package supplychain

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/palisade-sec/palisade/internal/sbom"
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

// TestAttestedSBOMFromRealCosign: CycloneDX and SPDX SBOMs attested by
// the real cosign (keyed, both layouts: the .att tag, and the bundle as a
// referrer through the tag-schema fallback) verify for the rule's signer
// and read as the packages they list; a copy whose payload was changed
// after signing is a miss, never used.
func TestAttestedSBOMFromRealCosign(t *testing.T) {
	c := newCosignCLI(t)
	reg := testregistry.Start(t, testregistry.Options{})
	ctx := context.Background()
	rule := &Rule{Name: "sbom", Signers: []Signer{c.pub(t)}}
	doc := sbom.Document{Subject: sbom.Subject{Kind: sbom.SubjectImage, Name: "app"}, OS: &sbom.OS{ID: "debian", VersionID: "12"},
		Packages: []sbom.Package{
			{Name: "libssl3", Version: "3.0.11-1~deb12u2", Ecosystem: "Debian:12", Type: "deb", SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u2",
				PURL: sbom.PURL("deb", "debian", "libssl3", "3.0.11-1~deb12u2", sbom.Qualifier{Key: "distro", Value: "debian-12"}, sbom.Qualifier{Key: "upstream", Value: "openssl"})},
			{Name: "golang.org/x/text", Version: "v0.3.5", Ecosystem: "Go", Type: "golang", PURL: sbom.PURL("golang", "golang.org/x", "text", "v0.3.5")},
		}}
	for _, bundle := range []bool{false, true} {
		for _, typ := range []string{"cyclonedx", "spdxjson"} {
			t.Run(typ+" bundle="+boolStr(bundle), func(t *testing.T) {
				var buf bytes.Buffer
				write := sbom.WriteCycloneDX
				if typ == "spdxjson" {
					write = sbom.WriteSPDX
				}
				if err := write(&buf, doc); err != nil {
					t.Fatal(err)
				}
				repo, digest := pushRandom(t, reg.Host, "sbom/"+typ+boolStr(bundle))
				c.attest(repo.Digest(digest).String(), typ, buf.Bytes(), bundle)
				r, err := name.NewRepository(repo.Name(), name.Insecure)
				if err != nil {
					t.Fatal(err)
				}
				evs, err := Fetch(ctx, r, digest)
				if err != nil {
					t.Fatal(err)
				}
				attachTampered(t, r, digest, evs)
				if evs, err = Fetch(ctx, r, digest); err != nil {
					t.Fatal(err)
				}
				got, misses := (&Verifier{}).VerifiedPredicates(rule, digest, typ, evs)
				if len(got) != 1 || len(misses) != 1 || !strings.Contains(misses[0], "cosign key") {
					t.Fatalf("%d predicates, misses %q; want the signed one and the tampered one refused", len(got), misses)
				}
				wantFormat := map[bool]Format{false: FormatDSSE, true: FormatBundle}[bundle]
				if !strings.Contains(got[0].Source, map[Format]string{FormatDSSE: ".att", FormatBundle: "referrer"}[wantFormat]) {
					t.Fatalf("verified from %s", got[0].Source)
				}
				read, err := sbom.ReadDocument(got[0].Predicate)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, p := range read.Packages {
					names = append(names, p.Ecosystem+"/"+p.Name+"@"+p.Version+"("+p.SourceName+")")
				}
				slices.Sort(names)
				if want := "Debian:12/libssl3@3.0.11-1~deb12u2(openssl),Go/golang.org/x/text@v0.3.5()"; strings.Join(names, ",") != want || len(read.Unidentified) != 0 {
					t.Fatalf("packages %v (unidentified %q), want %s", names, read.Unidentified, want)
				}
			})
		}
	}
}

// attachTampered attaches, in the layout the first attestation of evs was
// found in, a copy of it whose statement was changed after signing.
func attachTampered(t *testing.T, repo name.Repository, digest string, evs []Evidence) {
	t.Helper()
	for i := range evs {
		ev := &evs[i]
		if ev.Kind != KindAttestation || ev.Bundle == nil {
			continue
		}
		env := ev.Bundle.GetDsseEnvelope()
		env.Payload = bytes.Replace(env.Payload, []byte("v0.3.5"), []byte("v0.3.8"), 1)
		if ev.Format == FormatBundle {
			data, err := ev.Bundle.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := AttachBundle(context.Background(), repo, digest, data); err != nil {
				t.Fatal(err)
			}
			return
		}
		sigs := []map[string]string{}
		for _, s := range env.Signatures {
			sigs = append(sigs, map[string]string{"keyid": s.Keyid, "sig": base64.StdEncoding.EncodeToString(s.Sig)})
		}
		data, err := json.Marshal(map[string]any{"payloadType": env.PayloadType, "payload": base64.StdEncoding.EncodeToString(env.Payload), "signatures": sigs})
		if err != nil {
			t.Fatal(err)
		}
		if err := AttachLegacyAttestation(context.Background(), repo, digest, data); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("no attestation to tamper with")
}
