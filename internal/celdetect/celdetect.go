// Package celdetect compiles and evaluates detections written in CEL over
// one event, the form shared by the audit log's custom detections
// (AuditDetections) and the runtime sensor's (RuntimeDetections): an ID,
// a severity, a boolean expression over the variable "event", and a fixed
// message or a string messageExpression. Each caller decodes its own file,
// exposes its event (celvalue.DecodeObject) and turns a match into its
// findings; this package keeps the rules every such detection obeys: the
// same CEL environment, the same required fields and ID prefix, output
// types checked at compile time, and a cost limit per evaluation.
package celdetect

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Spec is a detection as written in a detections file.
type Spec struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Severity    string `json:"severity"`
	Description string `json:"description,omitempty"`
	Remediation string `json:"remediation,omitempty"`
	// Expression sees "event" and returns true when the event is
	// suspicious.
	Expression string `json:"expression"`
	// Message, or the string MessageExpression returns, is the finding's
	// message; when both are empty the caller chooses one.
	Message           string `json:"message,omitempty"`
	MessageExpression string `json:"messageExpression,omitempty"`
}

// IDPrefix starts every custom detection's rule ID, so it can never be
// taken for a built-in rule.
const IDPrefix = "custom/"

// Detection is a compiled Spec.
type Detection struct {
	// ID has IDPrefix; Title defaults to the ID; Severity to MEDIUM.
	ID, Title, Description, Remediation string
	Severity                            finding.Severity

	check, message cel.Program
	fixed          string
}

// Compile compiles specs; each evaluation may cost at most costLimit CEL
// cost units. An error names the detection (its position, from 1, and
// ID); two detections with one ID are an error, since their findings
// could not be told apart.
func Compile(specs []Spec, costLimit uint64) ([]*Detection, error) {
	env, err := cel.NewEnv(cel.Variable("event", cel.DynType), ext.Strings(), ext.Sets(), ext.Lists(), cel.OptionalTypes(), cel.CrossTypeNumericComparisons(true))
	if err != nil {
		return nil, err
	}
	out := make([]*Detection, 0, len(specs))
	seen := map[string]bool{}
	for i, s := range specs {
		d, err := compile(env, s, costLimit)
		if err == nil && seen[d.ID] {
			err = errors.New("duplicate id")
		}
		if err != nil {
			return nil, fmt.Errorf("detection %d (%s): %w", i+1, s.ID, err)
		}
		seen[d.ID] = true
		out = append(out, d)
	}
	return out, nil
}

func compile(env *cel.Env, s Spec, costLimit uint64) (*Detection, error) {
	if strings.TrimSpace(s.ID) == "" || strings.TrimSpace(s.Expression) == "" {
		return nil, errors.New("id and expression are required")
	}
	d := &Detection{Severity: finding.SeverityMedium, Description: s.Description, Remediation: s.Remediation, fixed: s.Message}
	if s.Severity != "" {
		var err error
		if d.Severity, err = finding.ParseSeverity(s.Severity); err != nil {
			return nil, err
		}
	}
	var err error
	if d.check, err = program(env, s.Expression, types.BoolType, costLimit); err != nil {
		return nil, fmt.Errorf("expression %q: %w", s.Expression, err)
	}
	if s.MessageExpression != "" {
		if d.message, err = program(env, s.MessageExpression, types.StringType, costLimit); err != nil {
			return nil, fmt.Errorf("messageExpression %q: %w", s.MessageExpression, err)
		}
	}
	d.ID = s.ID
	if !strings.HasPrefix(d.ID, IDPrefix) {
		d.ID = IDPrefix + d.ID
	}
	d.Title = s.Title
	if d.Title == "" {
		d.Title = d.ID
	}
	return d, nil
}

func program(env *cel.Env, expr string, want *types.Type, costLimit uint64) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if out := ast.OutputType(); !out.IsExactType(want) && !out.IsExactType(types.DynType) {
		return nil, fmt.Errorf("must evaluate to %s, not %s", want, out)
	}
	return env.Program(ast, cel.CostLimit(costLimit))
}

// Match evaluates the detection over vars ({"event": ...}). When it
// fires, msg is the messageExpression's non-empty result, else the fixed
// message, else "" (the caller's default). An evaluation error (a field
// the event lacks, the cost limit, a non-bool result at run time) is
// returned and is never a match: the caller counts it.
func (d *Detection) Match(vars map[string]any) (fired bool, msg string, err error) {
	val, _, err := d.check.Eval(vars)
	if err != nil {
		return false, "", err
	}
	b, ok := val.Value().(bool)
	if !ok {
		return false, "", fmt.Errorf("detection %s: expression returned %T, not a bool", d.ID, val.Value())
	}
	if !b {
		return false, "", nil
	}
	if d.message != nil {
		if v, _, err := d.message.Eval(vars); err == nil {
			if m, ok := v.Value().(string); ok && m != "" {
				return true, m, nil
			}
		}
	}
	return true, d.fixed, nil
}
