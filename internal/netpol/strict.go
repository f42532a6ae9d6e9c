package netpol

import (
	"errors"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
)

// dropLooseNetworkPolicies removes from set the networking.k8s.io/v1
// NetworkPolicies with a field the API does not have, each an error
// naming the policy and the field (see strictPolicyFields). It runs
// before typed decoding, which keeps no JSON of what it decoded.
func dropLooseNetworkPolicies(set *manifest.Set, defaultNamespace string) []finding.Problem {
	var probs []finding.Problem
	kept := set.Objects[:0]
	for _, o := range set.Objects {
		if o.APIVersion != "networking.k8s.io/v1" || o.Kind != "NetworkPolicy" {
			kept = append(kept, o)
			continue
		}
		err := strictPolicyFields(o.JSON)
		if err == nil {
			kept = append(kept, o)
			continue
		}
		ns := o.Namespace
		if ns == "" {
			ns = defaultNamespace
		}
		if ns == "" {
			ns = metav1.NamespaceDefault
		}
		probs = append(probs, finding.Problem{File: o.File, Line: o.Line, Level: finding.LevelError,
			Message: (&PolicyError{Policy: ns + "/" + o.Name, Err: err}).Error()})
	}
	clear(set.Objects[len(kept):])
	set.Objects = kept
	return probs
}

// strictPolicyFields checks a NetworkPolicy's JSON the way the API
// server's strict field validation does (kubectl apply's default):
// field names are case-sensitive and a field networking.k8s.io/v1 does
// not have is an error. The inventory's decoder matches names without
// regard to case and skips unknown ones, so a misspelt "ingres" or a
// capitalised "Ingress" would otherwise leave a policy that isolates
// without the rules its author wrote, analysed as if that were meant.
// A top-level "status" (the type once had one; old dumps carry it) does
// not change what the policy allows and is accepted. Errors of another
// kind (a wrong type) are left to the typed decoding, which names the
// line.
func strictPolicyFields(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	var np networkingv1.NetworkPolicy
	strictErrs, err := kjson.UnmarshalStrict(data, &np, kjson.DisallowUnknownFields)
	if err != nil {
		return nil
	}
	var msgs []string
	for _, e := range strictErrs {
		msg := e.Error()
		if msg == `unknown field "status"` {
			continue
		}
		if len(msgs) == 5 {
			msgs = append(msgs, "...")
			break
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "; ") + ": not a field of a networking.k8s.io/v1 NetworkPolicy (names are case-sensitive); kubectl apply refuses it and other clients drop it, so the policy is left out")
}

// decodeStrict decodes an admin policy's JSON as the API server does with
// strict field validation: names are case-sensitive ("Priority" is not
// "priority") and an unknown or repeated field is an error naming its
// path. encoding/json would match names regardless of case, and so apply
// a field the cluster does not know.
func decodeStrict(data []byte, v any) error {
	strictErrs, err := kjson.UnmarshalStrict(data, v)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}
