package workload

import (
	"encoding/json"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
	kjson "sigs.k8s.io/json"
)

// caseSensitiveV1 are the options of the fast decoder: encoding/json's
// semantics (duplicate names allowed, the last winning; invalid UTF-8
// replaced; custom UnmarshalJSON methods) with names matched exactly, as
// the API server matches them. A function, not a package variable, so
// that nothing allocates at init.
func caseSensitiveV1() jsonv2.Options {
	return jsonv2.JoinOptions(jsonv1.DefaultOptionsV1(), jsonv2.MatchCaseInsensitiveNames(false))
}

// unmarshalTyped decodes one object's JSON into its typed Kubernetes
// struct as the API server does (sigs.k8s.io/json's
// UnmarshalCaseSensitivePreserveInts, in k8s.io/apimachinery's JSON
// serializer): encoding/json's semantics except that a name must match
// a field exactly. "Privileged" is an unknown field the API server drops;
// encoding/json would read it as "privileged", so that
// {"privileged": true, "Privileged": false} was scanned as not
// privileged while the cluster runs it privileged.
//
// The fast decoder of github.com/go-json-experiment/json (v1 options,
// case-sensitive names) decodes first: typed decoding was the largest
// cost of scanning 10,000 workloads, and it takes about 40% off. On its
// error the object is decoded again from scratch into fresh by
// sigs.k8s.io/json, which decides. Its errors are of an internal type, so
// when it fails encoding/json decodes once more to give the error the
// report describes (the field path and the types), falling back to
// sigs.k8s.io/json's own error when encoding/json, which folds names,
// accepts the input. TestFastDecodeMatchesAPIServer and
// FuzzFastDecodeMatchesAPIServer hold the decoders to the same results.
func unmarshalTyped(data []byte, typed any, fresh func() any) (any, error) {
	if err := jsonv2.Unmarshal(data, typed, caseSensitiveV1()); err == nil {
		return typed, nil
	}
	typed = fresh()
	err := kjson.UnmarshalCaseSensitivePreserveInts(data, typed)
	if err == nil {
		return typed, nil
	}
	if jerr := json.Unmarshal(data, fresh()); jerr != nil {
		return nil, jerr
	}
	return nil, err
}
