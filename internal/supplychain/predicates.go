package supplychain

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// AttestedPredicate is the predicate of an attestation that verified for
// a trusted signer: what `scan image` may use in place of data of its own
// (an OpenVEX document, an SBOM), and where it came from.
type AttestedPredicate struct {
	Type      string
	Signer    string
	Source    string
	Predicate json.RawMessage
}

// VerifiedPredicates returns the predicates of the attestations of
// predicateType among evidence that verify for digest with the rule's
// signers for that type (an attestation requirement of that type has its
// own signers; otherwise the rule's), conditions included. Attestations
// that do not verify are returned as misses, never used.
func (v *Verifier) VerifiedPredicates(r *Rule, digest, predicateType string, evidence []Evidence) ([]AttestedPredicate, []string) {
	want := PredicateType(predicateType)
	signers := r.Signers
	var conds []Condition
	for _, a := range r.Attestations {
		if a.Type == want {
			signers, conds = a.Signers, a.Conditions
			break
		}
	}
	var out []AttestedPredicate
	var misses []string
	if len(signers) == 0 {
		return nil, []string{fmt.Sprintf("rule %s names no signer for %s attestations", r.Name, want)}
	}
	for i := range evidence {
		ev := &evidence[i]
		if ev.Kind != KindAttestation || ev.Err != nil || !matchesPredicate(want, ev.PredicateType) {
			continue
		}
		for _, s := range signers {
			ok, err := v.Check(ev, s, digest)
			if err == nil {
				err = Evaluate(conds, ok.Statement)
			}
			var st struct {
				Predicate json.RawMessage `json:"predicate"`
			}
			if err == nil {
				if err = json.Unmarshal(ok.Statement, &st); err == nil && len(st.Predicate) == 0 {
					err = fmt.Errorf("statement has no predicate")
				}
			}
			if err != nil {
				misses = append(misses, fmt.Sprintf("%s for %s: %v", ev.Source, s.Name, err))
				continue
			}
			out = append(out, AttestedPredicate{Type: ev.PredicateType, Signer: s.Name, Source: ev.Source, Predicate: st.Predicate})
			break
		}
	}
	return out, misses
}

// AttestedPredicates resolves ref (the image as written, image), takes the
// policy's rule for it, reads its evidence and returns the predicates of
// each of predicateTypes that verify (see VerifiedPredicates), with the
// misses, and the digest they were verified for. An image no rule covers
// is an error: nothing says whom to trust.
func (p *Policy) AttestedPredicates(ctx context.Context, image string, predicateTypes []string, ref name.Reference, opts ...remote.Option) ([]AttestedPredicate, []string, string, error) {
	r := p.Applies(image)
	if r == nil {
		return nil, nil, "", fmt.Errorf("no verifyImages rule of policy %s matches %s: nothing says whose attestations to trust", p.File, image)
	}
	digest, err := Resolve(ctx, ref, opts...)
	if err != nil {
		return nil, nil, "", err
	}
	ev, err := Fetch(ctx, ref.Context(), digest, opts...)
	if err != nil {
		return nil, nil, "", err
	}
	v := &Verifier{Root: p.Root}
	var preds []AttestedPredicate
	var misses []string
	for _, t := range predicateTypes {
		pr, m := v.VerifiedPredicates(r, digest, t, ev)
		preds, misses = append(preds, pr...), append(misses, m...)
	}
	return preds, misses, digest, nil
}
