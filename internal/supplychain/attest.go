package supplychain

import (
	"fmt"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"

	"github.com/palisade-sec/palisade/internal/celvalue"
)

// PredicateAliases are cosign's --type names for the predicate types it
// knows, accepted in policies and flags for the full URI.
var PredicateAliases = map[string]string{
	"slsaprovenance":   "https://slsa.dev/provenance/v0.2",
	"slsaprovenance02": "https://slsa.dev/provenance/v0.2",
	"slsaprovenance1":  "https://slsa.dev/provenance/v1",
	"spdx":             "https://spdx.dev/Document",
	"spdxjson":         "https://spdx.dev/Document",
	"cyclonedx":        "https://cyclonedx.org/bom",
	"vuln":             "https://cosign.sigstore.dev/attestation/vuln/v1",
	"openvex":          "https://openvex.dev/ns",
	"custom":           "https://cosign.sigstore.dev/attestation/v1",
}

// PredicateType returns the predicate type URI an alias or URI names.
func PredicateType(s string) string {
	if u, ok := PredicateAliases[strings.ToLower(s)]; ok {
		return u
	}
	return s
}

// matchesPredicate reports whether a statement's predicate type is the
// wanted one. OpenVEX versions its type ("https://openvex.dev/ns/v0.2.0"),
// so the bare namespace matches any version.
func matchesPredicate(want, got string) bool {
	if want == got {
		return true
	}
	return want == "https://openvex.dev/ns" && strings.HasPrefix(got, want+"/")
}

// conditionCost bounds one condition's evaluation (CEL cost units; a
// walk over a large SBOM's components stays well under it).
const conditionCost = 10_000_000

// Condition is a compiled CEL condition over an attestation: the
// variables are predicate (the predicate object), predicateType (string),
// subject (the statement's subjects) and statement (the whole statement).
type Condition struct {
	Source string
	prg    cel.Program
}

func conditionEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("predicate", cel.DynType),
		cel.Variable("predicateType", cel.StringType),
		cel.Variable("subject", cel.ListType(cel.DynType)),
		cel.Variable("statement", cel.DynType),
		ext.Strings(), ext.Sets(), ext.Lists(), ext.Encoders(),
		cel.OptionalTypes(),
		cel.CrossTypeNumericComparisons(true),
	)
}

// CompileConditions compiles CEL conditions; each must be boolean.
func CompileConditions(srcs []string) ([]Condition, error) {
	if len(srcs) == 0 {
		return nil, nil
	}
	env, err := conditionEnv()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	out := make([]Condition, 0, len(srcs))
	for i, src := range srcs {
		ast, iss := env.Compile(src)
		if iss.Err() != nil {
			return nil, condErr(i, src, iss.Err())
		}
		if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
			return nil, condErr(i, src, fmt.Errorf("is of type %s, want bool", ast.OutputType()))
		}
		prg, err := env.Program(ast, cel.CostLimit(conditionCost))
		if err != nil {
			return nil, condErr(i, src, err)
		}
		out = append(out, Condition{Source: src, prg: prg})
	}
	return out, nil
}

// condErr names condition i by its index in the list and its text.
func condErr(i int, src string, err error) error {
	return &FieldError{Path: fmt.Sprintf("conditions[%d]", i), Label: fmt.Sprintf("condition %d %q", i, src), Err: err}
}

// Evaluate runs the conditions over a verified statement. It returns the
// first condition that is false or fails, with why.
func Evaluate(conds []Condition, statement []byte) error {
	if len(conds) == 0 {
		return nil
	}
	if err := checkDepth(statement, MaxJSONDepth); err != nil {
		return fmt.Errorf("in-toto statement: %w", err)
	}
	obj, err := celvalue.DecodeObject(statement)
	if err != nil {
		return fmt.Errorf("in-toto statement: %w", err)
	}
	subject, _ := obj["subject"].([]any)
	if subject == nil {
		subject = []any{}
	}
	pt, _ := obj["predicateType"].(string)
	vars := map[string]any{
		"predicate":     obj["predicate"],
		"predicateType": pt,
		"subject":       subject,
		"statement":     obj,
	}
	for _, c := range conds {
		out, _, err := c.prg.Eval(vars)
		if err != nil {
			return fmt.Errorf("condition %q: %w", c.Source, err)
		}
		b, ok := out.Value().(bool)
		if !ok {
			return fmt.Errorf("condition %q: returned %v, not a bool", c.Source, out.Value())
		}
		if !b {
			return fmt.Errorf("condition %q is false", c.Source)
		}
	}
	return nil
}
