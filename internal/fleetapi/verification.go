package fleetapi

import (
	"errors"
	"fmt"
	"time"
)

// KindImageVerification reports the Sigstore verification of one image
// digest a cluster runs (ImageVerification).
const KindImageVerification = "imageverification"

// BundleVerification is an ImageVerificationPolicy (docs/supply-chain.md)
// for agents: they verify every image digest their cluster runs against
// it and report the outcome. It must be self-contained: keys as inline
// PEM, the trusted root inline, so an edge cluster verifies keyless
// signatures with no route to Sigstore.
const BundleVerification = "verification"

// VerificationState is what the agent could establish about an image's
// provenance.
type VerificationState string

// Verification states. Only VerificationVerified means the evidence the
// policy requires is attached and verifies; everything else is an image
// without provenance from the policy's signers.
const (
	// VerificationVerified: the policy's rule for the image holds (every
	// required signature and attestation verified).
	VerificationVerified VerificationState = "verified"
	// VerificationUnsigned: nothing is attached to the digest (no
	// signature, no attestation).
	VerificationUnsigned VerificationState = "unsigned"
	// VerificationFailed: evidence is attached but a requirement failed
	// (wrong signer, bad signature, condition false, …; Reason says).
	VerificationFailed VerificationState = "failed"
	// VerificationNotChecked: no verification policy, no rule of it for
	// the image, or the registry could not be read (Reason says).
	VerificationNotChecked VerificationState = "not-checked"
)

// Valid reports whether s is one of the states.
func (s VerificationState) Valid() bool {
	switch s {
	case VerificationVerified, VerificationUnsigned, VerificationFailed, VerificationNotChecked:
		return true
	}
	return false
}

// Bounds of one ImageVerification (agents truncate, the hub refuses more).
const (
	MaxVerificationText    = 4096
	MaxVerificationSigners = 32
)

// ImageVerification is one image digest's verification by the agent with
// the fleet's verification policy.
type ImageVerification struct {
	Digest string            `json:"digest"`
	Ref    string            `json:"ref,omitempty"`
	State  VerificationState `json:"state"`
	// Policy names the verification bundle used ("prod v3"); "" when
	// there was none.
	Policy string `json:"policy,omitempty"`
	// Rule is the policy's rule that applied.
	Rule string `json:"rule,omitempty"`
	// Signers say who vouched for each requirement that held:
	// "signature: release key", "attestation https://slsa.dev/provenance/v1:
	// https://github.com/acme/… from https://token.actions.githubusercontent.com".
	Signers []string `json:"signers,omitempty"`
	// Reason says why the state is not verified.
	Reason    string    `json:"reason,omitempty"`
	CheckedAt time.Time `json:"checkedAt"`
	// TrustedRootUpdated is when the trusted root used was written (the
	// verification bundle's publication for an inline root); zero when
	// the policy has none.
	TrustedRootUpdated time.Time `json:"trustedRootUpdated,omitzero"`
}

// Validate checks an ImageVerification's fields and bounds.
func (v *ImageVerification) Validate() error {
	if v.Digest == "" {
		return errors.New("image verification without a digest")
	}
	if !v.State.Valid() {
		return fmt.Errorf("image verification %s: unknown state %q", v.Digest, v.State)
	}
	if len(v.Signers) > MaxVerificationSigners {
		return fmt.Errorf("image verification %s: %d signers, at most %d", v.Digest, len(v.Signers), MaxVerificationSigners)
	}
	for _, s := range append([]string{v.Digest, v.Ref, v.Policy, v.Rule, v.Reason}, v.Signers...) {
		if len(s) > MaxVerificationText {
			return fmt.Errorf("image verification %s: a field of %d bytes, at most %d", v.Digest, len(s), MaxVerificationText)
		}
	}
	return nil
}
