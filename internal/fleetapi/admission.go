package fleetapi

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
)

// SignedAdmissionPolicy is the content of an `admission` bundle signed by
// its publisher with a key of their own (`palisade db keygen`), apart from
// the hub's bundle key: agents given the publisher's public key write only
// policies it signed, so a hub or its database alone cannot change what
// the fleet's webhooks enforce. An unsigned admission bundle is the policy
// YAML itself.
type SignedAdmissionPolicy struct {
	// Policy is the AdmissionPolicy YAML, written to the webhook as is.
	Policy string `json:"policy"`
	// Signature is ed25519 over AdmissionPolicySigningPayload(Policy).
	Signature []byte `json:"signature"`
}

// AdmissionPolicySigningPayload is what a publisher signs.
func AdmissionPolicySigningPayload(policy string) []byte {
	return append([]byte("palisade-admission-policy-v1\n"), policy...)
}

// SignAdmissionPolicy returns the content of an admission bundle holding
// policy signed with key.
func SignAdmissionPolicy(policy []byte, key ed25519.PrivateKey) []byte {
	b, _ := json.Marshal(SignedAdmissionPolicy{Policy: string(policy), Signature: ed25519.Sign(key, AdmissionPolicySigningPayload(string(policy)))})
	return b
}

// OpenAdmissionPolicy returns the policy of an admission bundle's
// content. With trusted keys the content must be a SignedAdmissionPolicy
// signed by one of them; without, a signed content's policy is returned
// unverified and a plain one as it is.
func OpenAdmissionPolicy(content []byte, trusted []ed25519.PublicKey) ([]byte, error) {
	trimmed := bytes.TrimSpace(content)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if len(trusted) > 0 {
			return nil, errors.New("admission policy not signed by its publisher, and publisher keys are set")
		}
		return content, nil
	}
	var s SignedAdmissionPolicy
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil || s.Policy == "" {
		return nil, fmt.Errorf("admission policy: not a signed policy document: %v", err)
	}
	if len(trusted) == 0 {
		return []byte(s.Policy), nil
	}
	payload := AdmissionPolicySigningPayload(s.Policy)
	for _, k := range trusted {
		if len(s.Signature) == ed25519.SignatureSize && ed25519.Verify(k, payload, s.Signature) {
			return []byte(s.Policy), nil
		}
	}
	return nil, errors.New("admission policy: the signature matches none of the publisher keys")
}
