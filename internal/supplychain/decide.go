package supplychain

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Decision is the outcome of a rule for one image digest: which
// requirement held, with which evidence and signer, and why each failed.
type Decision struct {
	Image  string `json:"image"`
	Digest string `json:"digest"`
	Rule   string `json:"rule"`
	// Verified is true when every requirement holds.
	Verified bool          `json:"verified"`
	Checks   []CheckResult `json:"checks"`
	// Evidence counts what was found, by kind.
	Evidence map[Kind]int `json:"evidence"`
	// Unreadable lists evidence found but not understood, with why.
	Unreadable []string `json:"unreadable,omitempty"`
}

// CheckResult is one requirement's outcome.
type CheckResult struct {
	// Requirement is "signature" or "attestation <predicate type>".
	Requirement string `json:"requirement"`
	OK          bool   `json:"ok"`
	// Signer and Evidence say who signed what satisfied it.
	Signer   string `json:"signer,omitempty"`
	Evidence string `json:"evidence,omitempty"`
	// Reason says why it failed: what was found and the closest miss.
	Reason string `json:"reason,omitempty"`
}

// Failed returns the failed checks.
func (d *Decision) Failed() []CheckResult {
	var out []CheckResult
	for _, c := range d.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// maxReasons bounds the failures quoted in one reason.
const maxReasons = 3

// Evaluate checks a rule against the evidence found for digest. It is
// pure: no I/O.
func (v *Verifier) Evaluate(r *Rule, image, digest string, evidence []Evidence) Decision {
	d := Decision{Image: image, Digest: digest, Rule: r.Name, Verified: true, Evidence: map[Kind]int{}}
	for _, ev := range evidence {
		if ev.Err == nil {
			d.Evidence[ev.Kind]++
		} else {
			d.Unreadable = append(d.Unreadable, ev.Source+": "+ev.Err.Error())
		}
	}
	if len(r.Signers) > 0 {
		d.Checks = append(d.Checks, v.requireSignature(r.Signers, digest, evidence))
	}
	for _, a := range r.Attestations {
		d.Checks = append(d.Checks, v.requireAttestation(a, digest, evidence))
	}
	for _, c := range d.Checks {
		d.Verified = d.Verified && c.OK
	}
	return d
}

func (v *Verifier) requireSignature(signers []Signer, digest string, evidence []Evidence) CheckResult {
	res := CheckResult{Requirement: "signature"}
	var misses []string
	n := 0
	for i := range evidence {
		ev := &evidence[i]
		if ev.Kind != KindSignature {
			continue
		}
		n++
		if ev.Err != nil {
			misses = append(misses, ev.Source+": "+ev.Err.Error())
			continue
		}
		for _, s := range signers {
			if _, err := v.Check(ev, s, digest); err != nil {
				misses = append(misses, fmt.Sprintf("%s for %s: %v", ev.Source, s.Name, err))
				continue
			}
			res.OK, res.Signer, res.Evidence = true, s.Name, ev.Source
			return res
		}
	}
	if n == 0 {
		res.Reason = "no signature found (legacy .sig tag or Sigstore bundle referrer)"
		return res
	}
	res.Reason = fmt.Sprintf("%d signature(s) found, none verifies for %s: %s", n, signerNames(signers), quote(misses))
	return res
}

func (v *Verifier) requireAttestation(a AttestationRule, digest string, evidence []Evidence) CheckResult {
	res := CheckResult{Requirement: "attestation " + a.Type}
	var misses []string
	found := map[string]bool{}
	n := 0
	for i := range evidence {
		ev := &evidence[i]
		if ev.Kind != KindAttestation {
			continue
		}
		if ev.Err != nil {
			misses = append(misses, ev.Source+": "+ev.Err.Error())
			continue
		}
		found[ev.PredicateType] = true
		if !matchesPredicate(a.Type, ev.PredicateType) {
			continue
		}
		n++
		for _, s := range a.Signers {
			ok, err := v.Check(ev, s, digest)
			if err == nil {
				err = Evaluate(a.Conditions, ok.Statement)
			}
			if err != nil {
				misses = append(misses, fmt.Sprintf("%s for %s: %v", ev.Source, s.Name, err))
				continue
			}
			res.OK, res.Signer, res.Evidence = true, s.Name, ev.Source
			return res
		}
	}
	if n == 0 {
		types := make([]string, 0, len(found))
		for t := range found {
			types = append(types, t)
		}
		sort.Strings(types)
		res.Reason = "no attestation of type " + a.Type + " found"
		if len(types) > 0 {
			res.Reason += " (found: " + strings.Join(types, ", ") + ")"
		}
		if len(misses) > 0 {
			res.Reason += "; unreadable: " + quote(misses)
		}
		return res
	}
	res.Reason = fmt.Sprintf("%d attestation(s) of type %s found, none verifies for %s with its conditions: %s", n, a.Type, signerNames(a.Signers), quote(misses))
	return res
}

func signerNames(ss []Signer) string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

func quote(misses []string) string {
	if len(misses) > maxReasons {
		return strings.Join(misses[:maxReasons], "; ") + fmt.Sprintf("; and %d more", len(misses)-maxReasons)
	}
	return strings.Join(misses, "; ")
}

// Resolve returns the digest a reference names: the written digest, or
// the one the registry serves for its tag now.
func Resolve(ctx context.Context, ref name.Reference, opts ...remote.Option) (string, error) {
	if d, ok := ref.(name.Digest); ok {
		return d.DigestStr(), nil
	}
	desc, err := remote.Head(ref, append([]remote.Option{remote.WithContext(ctx)}, opts...)...)
	if err != nil {
		return "", fmt.Errorf("image %s: resolve tag: %w", ref, err)
	}
	return desc.Digest.String(), nil
}

// VerifyImage resolves ref, fetches its evidence and evaluates the rule.
func (v *Verifier) VerifyImage(ctx context.Context, r *Rule, ref name.Reference, opts ...remote.Option) (Decision, error) {
	digest, err := Resolve(ctx, ref, opts...)
	if err != nil {
		return Decision{}, err
	}
	ev, err := Fetch(ctx, ref.Context(), digest, opts...)
	if err != nil {
		return Decision{}, err
	}
	return v.Evaluate(r, ref.String(), digest, ev), nil
}
