package auditlog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"

	"github.com/palisade-sec/palisade/internal/celvalue"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
)

// Custom detections file: apiVersion palisade.io/v1alpha1, kind AuditDetections.
const (
	DetectionsAPIVersion = "palisade.io/v1alpha1"
	DetectionsKind       = "AuditDetections"
)

// costLimit bounds one CEL evaluation per event.
const costLimit = 100_000

// CustomSpec is a detection written in CEL over the event.
type CustomSpec struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Severity    string `json:"severity"`
	Description string `json:"description,omitempty"`
	Remediation string `json:"remediation,omitempty"`
	// Expression sees "event" (the audit event as JSON) and returns true
	// when the event is suspicious.
	Expression        string `json:"expression"`
	Message           string `json:"message,omitempty"`
	MessageExpression string `json:"messageExpression,omitempty"`
}

type detectionsFile struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Metadata   any          `json:"metadata,omitempty"`
	Detections []CustomSpec `json:"detections"`
}

// LoadCustom reads a custom detections file and compiles it.
func LoadCustom(ctx context.Context, path string) ([]*Detection, error) {
	set, err := manifest.Load(ctx, []string{path}, manifest.Options{SkipDockerfiles: true})
	if err != nil {
		return nil, err
	}
	for _, p := range set.Problems {
		if p.Level == finding.LevelError {
			return nil, fmt.Errorf("detections %s", p)
		}
	}
	var out []*Detection
	for _, o := range set.Objects {
		if o.Kind != DetectionsKind {
			continue
		}
		if o.APIVersion != DetectionsAPIVersion {
			return nil, fmt.Errorf("detections %s:%d: unsupported apiVersion %q (want %s)", path, o.Line, o.APIVersion, DetectionsAPIVersion)
		}
		var f detectionsFile
		dec := json.NewDecoder(bytes.NewReader(o.JSON))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("detections %s:%d: %w", path, o.Line, err)
		}
		ds, err := CompileCustom(f.Detections)
		if err != nil {
			return nil, fmt.Errorf("detections %s:%d: %w", path, o.LineOf("detections"), err)
		}
		out = append(out, ds...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("detections %s: no %s object with detections", path, DetectionsKind)
	}
	return out, nil
}

// CompileCustom compiles CEL detection specs; IDs get the "custom/" prefix.
func CompileCustom(specs []CustomSpec) ([]*Detection, error) {
	env, err := cel.NewEnv(cel.Variable("event", cel.DynType), ext.Strings(), ext.Sets(), ext.Lists(), cel.OptionalTypes(), cel.CrossTypeNumericComparisons(true))
	if err != nil {
		return nil, err
	}
	var out []*Detection
	for i, s := range specs {
		d, err := compileCustom(env, s)
		if err != nil {
			return nil, fmt.Errorf("detection %d (%s): %w", i+1, s.ID, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func compileCustom(env *cel.Env, s CustomSpec) (*Detection, error) {
	if strings.TrimSpace(s.ID) == "" || strings.TrimSpace(s.Expression) == "" {
		return nil, fmt.Errorf("id and expression are required")
	}
	sev := finding.SeverityMedium
	if s.Severity != "" {
		var err error
		if sev, err = finding.ParseSeverity(s.Severity); err != nil {
			return nil, err
		}
	}
	check, err := compile(env, s.Expression, types.BoolType)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", s.Expression, err)
	}
	var msgProg cel.Program
	if s.MessageExpression != "" {
		if msgProg, err = compile(env, s.MessageExpression, types.StringType); err != nil {
			return nil, fmt.Errorf("messageExpression %q: %w", s.MessageExpression, err)
		}
	}
	id := s.ID
	if !strings.HasPrefix(id, "custom/") {
		id = "custom/" + id
	}
	title := s.Title
	if title == "" {
		title = id
	}
	return &Detection{ID: id, Title: title, Severity: sev, Description: s.Description, Remediation: s.Remediation,
		Match: func(e *Event) string {
			vars, err := eventVars(e)
			if err != nil {
				return ""
			}
			val, _, err := check.Eval(vars)
			if err != nil {
				return ""
			}
			if b, ok := val.Value().(bool); !ok || !b {
				return ""
			}
			if msgProg != nil {
				if v, _, err := msgProg.Eval(vars); err == nil {
					if m, ok := v.Value().(string); ok && m != "" {
						return m
					}
				}
			}
			if s.Message != "" {
				return s.Message
			}
			return fmt.Sprintf("%s did %s %s", e.Who(), e.Verb, describeTarget(e))
		}}, nil
}

func compile(env *cel.Env, expr string, want *types.Type) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if out := ast.OutputType(); !out.IsExactType(want) && !out.IsExactType(types.DynType) {
		return nil, fmt.Errorf("must evaluate to %s, not %s", want, out)
	}
	return env.Program(ast, cel.CostLimit(costLimit))
}

// eventVars exposes the event to CEL as generic JSON, numbers as ints
// when whole.
func eventVars(e *Event) (map[string]any, error) {
	raw := e.raw
	if raw == nil {
		var err error
		if raw, err = json.Marshal(e); err != nil {
			return nil, err
		}
	}
	m, err := celvalue.DecodeObject(raw)
	if err != nil {
		return nil, err
	}
	return map[string]any{"event": m}, nil
}
