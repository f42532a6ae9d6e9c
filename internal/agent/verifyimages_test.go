package agent

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/palisade-sec/palisade/internal/fleetapi"
	"github.com/palisade-sec/palisade/internal/supplychain"
)

// TestVerificationOutcome: a decision becomes the state the hub shows,
// with who vouched for what held and why the rest failed, bounded.
func TestVerificationOutcome(t *testing.T) {
	const d = "sha256:aa"
	sig := supplychain.CheckResult{Requirement: "signature", OK: true, Signer: "release key"}
	att := supplychain.CheckResult{Requirement: "attestation https://slsa.dev/provenance/v1", Reason: "no attestation of type https://slsa.dev/provenance/v1 found"}
	for _, tt := range []struct {
		name    string
		d       supplychain.Decision
		state   fleetapi.VerificationState
		signers int
		reason  string
	}{
		{"verified", supplychain.Decision{Digest: d, Verified: true, Checks: []supplychain.CheckResult{sig}, Evidence: map[supplychain.Kind]int{supplychain.KindSignature: 1}},
			fleetapi.VerificationVerified, 1, ""},
		{"nothing attached", supplychain.Decision{Digest: d, Checks: []supplychain.CheckResult{{Requirement: "signature", Reason: "no cosign signature found"}}, Evidence: map[supplychain.Kind]int{}},
			fleetapi.VerificationUnsigned, 0, "nothing is attached to sha256:aa"},
		{"signed, provenance missing", supplychain.Decision{Digest: d, Checks: []supplychain.CheckResult{sig, att}, Evidence: map[supplychain.Kind]int{supplychain.KindSignature: 1}},
			fleetapi.VerificationFailed, 1, "attestation https://slsa.dev/provenance/v1: no attestation"},
		{"only unreadable evidence", supplychain.Decision{Digest: d, Checks: []supplychain.CheckResult{{Requirement: "signature", Reason: "x"}}, Evidence: map[supplychain.Kind]int{}, Unreadable: []string{"referrer sha256:bb: bundle: bad"}},
			fleetapi.VerificationFailed, 0, "not understood: referrer sha256:bb"},
		{"a huge reason is cut", supplychain.Decision{Digest: d, Checks: []supplychain.CheckResult{{Requirement: "signature", Reason: strings.Repeat("é", 5000)}}, Evidence: map[supplychain.Kind]int{supplychain.KindSignature: 1}},
			fleetapi.VerificationFailed, 0, "signature: é"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			state, signers, reason := outcome(&tt.d)
			if state != tt.state || len(signers) != tt.signers || !strings.Contains(reason, tt.reason) {
				t.Fatalf("%s %q %q", state, signers, reason)
			}
			if len(reason) > fleetapi.MaxVerificationText || !utf8.ValidString(reason) {
				t.Fatalf("reason of %d bytes, valid UTF-8 %v", len(reason), utf8.ValidString(reason))
			}
			v := fleetapi.ImageVerification{Digest: d, State: state, Signers: signers, Reason: reason}
			if err := v.Validate(); err != nil {
				t.Fatalf("the hub would refuse it: %v", err)
			}
		})
	}
}
