package fleetapi

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
)

func TestAdmissionPolicySignatures(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	policy := []byte("apiVersion: palisade.io/v1alpha1\nkind: AdmissionPolicy\nspec:\n  mode: enforce\n")
	signed := SignAdmissionPolicy(policy, priv)
	tampered := []byte(strings.Replace(string(signed), "enforce", "audit", 1))
	for _, tc := range []struct {
		name    string
		content []byte
		keys    []ed25519.PublicKey
		want    string // policy, or error substring after "!"
	}{
		{"signed, verified", signed, []ed25519.PublicKey{other, pub}, string(policy)},
		{"signed, no keys set", signed, nil, string(policy)},
		{"plain, no keys set", policy, nil, string(policy)},
		{"plain, keys set", policy, []ed25519.PublicKey{pub}, "!not signed by its publisher"},
		{"another key", signed, []ed25519.PublicKey{other}, "!matches none"},
		{"policy changed after signing", tampered, []ed25519.PublicKey{pub}, "!matches none"},
		{"not a signed document", []byte(`{"policy":"x","extra":1}`), []ed25519.PublicKey{pub}, "!not a signed policy document"},
		{"empty policy", []byte(`{"policy":""}`), nil, "!not a signed policy document"},
	} {
		got, err := OpenAdmissionPolicy(tc.content, tc.keys)
		if want, isErr := strings.CutPrefix(tc.want, "!"); isErr {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q, %v; want error %q", tc.name, got, err, want)
			}
		} else if err != nil || string(got) != tc.want {
			t.Errorf("%s: %q, %v", tc.name, got, err)
		}
	}
}

// FuzzOpenAdmissionPolicy: any content opens to a policy or is refused
// with an error and no policy, never a panic; with keys set,
// what opens is exactly a policy one of them signed.
func FuzzOpenAdmissionPolicy(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	f.Add([]byte("apiVersion: palisade.io/v1alpha1\nkind: AdmissionPolicy\n"))
	f.Add(SignAdmissionPolicy([]byte("kind: AdmissionPolicy\n"), priv))
	f.Add([]byte(`{"policy":"x","signature":"AAAA"}`))
	f.Fuzz(func(t *testing.T, content []byte) {
		for _, keys := range [][]ed25519.PublicKey{nil, {pub}} {
			p, err := OpenAdmissionPolicy(content, keys)
			if err != nil && p != nil {
				t.Fatalf("policy %q and error %v", p, err)
			}
			if err == nil && keys != nil {
				var s SignedAdmissionPolicy
				if json.Unmarshal(content, &s) != nil || !ed25519.Verify(pub, AdmissionPolicySigningPayload(s.Policy), s.Signature) || string(p) != s.Policy {
					t.Fatalf("opened %q without a valid signature", p)
				}
			}
		}
	})
}
