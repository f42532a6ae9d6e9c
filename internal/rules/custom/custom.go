// Package custom compiles user-written rules in CEL, written like the
// validations of a ValidatingAdmissionPolicy: an expression over "object"
// that must hold, and a message (or message expression) for when it does
// not. Rules are compiled once; evaluation is bounded by a cost limit.
package custom

import (
	"fmt"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// IDPrefix starts every custom rule ID; it is added when missing.
const IDPrefix = "custom/"

// costLimit bounds the work of one evaluation, so a hostile or careless
// expression cannot hang a scan (the API server uses a similar budget).
const costLimit = 1_000_000

// Spec is a custom rule as written in a policy file.
type Spec struct {
	ID          string       `json:"id"`
	Title       string       `json:"title"`
	Severity    string       `json:"severity"`
	Description string       `json:"description,omitempty"`
	Remediation string       `json:"remediation,omitempty"`
	Tags        []string     `json:"tags,omitempty"`
	Match       Match        `json:"match,omitempty"`
	Validations []Validation `json:"validations"`
}

// Match selects the objects a rule applies to; empty fields match all.
type Match struct {
	// Kinds are "Kind" or "group/Kind" ("apps/Deployment"); "*" globs.
	Kinds []string `json:"kinds,omitempty"`
	// Namespaces are globs.
	Namespaces []string `json:"namespaces,omitempty"`
}

// Validation is one CEL condition that must hold.
type Validation struct {
	// Expression must evaluate to true for a compliant object.
	Expression string `json:"expression"`
	// Message is used when the expression is false; MessageExpression,
	// a CEL string expression, takes precedence when set.
	Message           string `json:"message,omitempty"`
	MessageExpression string `json:"messageExpression,omitempty"`
}

type compiled struct {
	validation Validation
	check      cel.Program
	message    cel.Program
}

// NewEnv returns the CEL environment custom rules are compiled in:
// "object" (the object as JSON), "namespaceObject" (its Namespace when the
// input has it, else null), with the standard and extension libraries.
func NewEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("object", cel.DynType),
		cel.Variable("namespaceObject", cel.DynType),
		ext.Strings(), ext.Sets(), ext.Lists(), ext.Math(), ext.Encoders(),
		cel.OptionalTypes(),
		cel.CrossTypeNumericComparisons(true),
	)
}

// Compile turns specs into rules. Every error names the rule and the
// expression at fault.
func Compile(specs []Spec) ([]*rule.Rule, error) {
	env, err := NewEnv()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	var out []*rule.Rule
	for i, s := range specs {
		r, err := compileSpec(env, s)
		if err != nil {
			name := s.ID
			if name == "" {
				name = fmt.Sprintf("#%d", i+1)
			}
			return nil, fmt.Errorf("custom rule %s: %w", name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func compileSpec(env *cel.Env, s Spec) (*rule.Rule, error) {
	if strings.TrimSpace(s.ID) == "" {
		return nil, fmt.Errorf("id is required")
	}
	id := s.ID
	if !strings.HasPrefix(id, IDPrefix) {
		id = IDPrefix + id
	}
	sev := finding.SeverityMedium
	if s.Severity != "" {
		var err error
		if sev, err = finding.ParseSeverity(s.Severity); err != nil {
			return nil, err
		}
	}
	if len(s.Validations) == 0 {
		return nil, fmt.Errorf("at least one validation is required")
	}
	var checks []compiled
	for i, v := range s.Validations {
		c, err := compileValidation(env, v)
		if err != nil {
			return nil, fmt.Errorf("validations[%d]: %w", i, err)
		}
		checks = append(checks, c)
	}
	title := s.Title
	if title == "" {
		title = id
	}
	return &rule.Rule{
		ID:          id,
		Title:       title,
		Severity:    sev,
		Description: s.Description,
		Remediation: s.Remediation,
		Tags:        append([]string{rule.TagCustom}, s.Tags...),
		Object: func(c *rule.Context, o *workload.Object) []rule.Violation {
			if !s.Match.matches(o) {
				return nil
			}
			return evaluate(c, o, checks)
		},
	}, nil
}

func compileValidation(env *cel.Env, v Validation) (compiled, error) {
	if strings.TrimSpace(v.Expression) == "" {
		return compiled{}, fmt.Errorf("expression is required")
	}
	check, err := program(env, v.Expression, types.BoolType)
	if err != nil {
		return compiled{}, fmt.Errorf("expression %q: %w", v.Expression, err)
	}
	c := compiled{validation: v, check: check}
	if v.MessageExpression != "" {
		if c.message, err = program(env, v.MessageExpression, types.StringType); err != nil {
			return compiled{}, fmt.Errorf("messageExpression %q: %w", v.MessageExpression, err)
		}
	}
	return c, nil
}

func program(env *cel.Env, expr string, want *types.Type) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if out := ast.OutputType(); !out.IsExactType(want) && !out.IsExactType(types.DynType) {
		return nil, fmt.Errorf("must evaluate to %s, not %s", want, out)
	}
	return env.Program(ast, cel.CostLimit(costLimit), cel.EvalOptions(cel.OptOptimize))
}

func evaluate(c *rule.Context, o *workload.Object, checks []compiled) []rule.Violation {
	content, err := o.Content()
	if err != nil {
		return []rule.Violation{{Message: fmt.Sprintf("object could not be read for CEL: %v", err)}}
	}
	vars := map[string]any{"object": content, "namespaceObject": nil}
	if ns, ok := c.Inventory.NamespaceObject(o.Ref.Namespace); ok {
		if nsContent, err := ns.Content(); err == nil {
			vars["namespaceObject"] = nsContent
		}
	}
	var out []rule.Violation
	for _, ch := range checks {
		val, _, err := ch.check.Eval(vars)
		if err != nil {
			out = append(out, rule.Violation{Message: fmt.Sprintf("expression %q could not be evaluated: %v", ch.validation.Expression, err)})
			continue
		}
		if ok, isBool := val.Value().(bool); isBool && ok {
			continue
		} else if !isBool {
			out = append(out, rule.Violation{Message: fmt.Sprintf("expression %q returned %v, not a bool", ch.validation.Expression, val.Value())})
			continue
		}
		out = append(out, rule.Violation{Message: message(ch, vars)})
	}
	return out
}

func message(ch compiled, vars map[string]any) string {
	if ch.message != nil {
		if val, _, err := ch.message.Eval(vars); err == nil {
			if s, ok := val.Value().(string); ok && strings.TrimSpace(s) != "" {
				return s
			}
		}
	}
	if ch.validation.Message != "" {
		return ch.validation.Message
	}
	return fmt.Sprintf("failed expression: %s", ch.validation.Expression)
}

func (m Match) matches(o *workload.Object) bool {
	if len(m.Kinds) > 0 {
		ok := false
		group := ""
		if i := strings.IndexByte(o.Ref.APIVersion, '/'); i >= 0 {
			group = o.Ref.APIVersion[:i]
		}
		for _, k := range m.Kinds {
			if rule.MatchID(k, o.Ref.Kind) || rule.MatchID(k, group+"/"+o.Ref.Kind) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(m.Namespaces) > 0 {
		for _, n := range m.Namespaces {
			if rule.MatchID(n, o.Ref.Namespace) {
				return true
			}
		}
		return false
	}
	return true
}
