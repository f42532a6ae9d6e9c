package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/celvalue"
	"github.com/palisade-sec/palisade/internal/finding"
)

// Custom runtime detections file: apiVersion palisade.io/v1alpha1, kind
// RuntimeDetections, like the audit log's AuditDetections.
const (
	DetectionsAPIVersion = "palisade.io/v1alpha1"
	DetectionsKind       = "RuntimeDetections"
)

// Bounds of a detections file: its size, the detections in it, and the CEL
// cost of one evaluation (an expression over hostile events must not stall
// the pipeline).
const (
	maxDetectionsFile = 1 << 20
	maxDetections     = 256
	customCostLimit   = 10_000
)

// CustomSpec is a runtime detection written in CEL. Expression sees
// "event", the event as `runtime watch -o json` prints it (kind, path,
// args, uid, dst, attribution.pod.namespace, ...), and returns true when
// the event is suspicious.
type CustomSpec struct {
	ID                string `json:"id"`
	Title             string `json:"title"`
	Severity          string `json:"severity"`
	Description       string `json:"description,omitempty"`
	Remediation       string `json:"remediation,omitempty"`
	Expression        string `json:"expression"`
	Message           string `json:"message,omitempty"`
	MessageExpression string `json:"messageExpression,omitempty"`
}

// CustomDetection is a compiled CustomSpec.
type CustomDetection struct {
	Info    finding.RuleInfo
	check   cel.Program
	message cel.Program
	fixed   string
}

type detectionsFile struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Metadata   any          `json:"metadata,omitempty"`
	Detections []CustomSpec `json:"detections"`
}

// LoadCustom reads and compiles a RuntimeDetections file (one YAML or JSON
// document). Every error names the file and, for a detection, its position
// and ID.
func LoadCustom(path string) ([]*CustomDetection, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("runtime detections: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxDetectionsFile+1))
	if err != nil {
		return nil, fmt.Errorf("runtime detections %s: %w", path, err)
	}
	if len(data) > maxDetectionsFile {
		return nil, fmt.Errorf("runtime detections %s: larger than %d bytes", path, maxDetectionsFile)
	}
	return ParseCustom(path, data)
}

// ParseCustom compiles the RuntimeDetections document in data; name is
// what errors call it.
func ParseCustom(name string, data []byte) ([]*CustomDetection, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("runtime detections %s: %w", name, err)
	}
	var f detectionsFile
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("runtime detections %s: %w", name, err)
	}
	if f.APIVersion != DetectionsAPIVersion || f.Kind != DetectionsKind {
		return nil, fmt.Errorf("runtime detections %s: %s/%s, want apiVersion %s kind %s", name, f.APIVersion, f.Kind, DetectionsAPIVersion, DetectionsKind)
	}
	if len(f.Detections) == 0 || len(f.Detections) > maxDetections {
		return nil, fmt.Errorf("runtime detections %s: %d detections, want 1 to %d", name, len(f.Detections), maxDetections)
	}
	env, err := cel.NewEnv(cel.Variable("event", cel.DynType), ext.Strings(), ext.Sets(), ext.Lists(), cel.OptionalTypes(), cel.CrossTypeNumericComparisons(true))
	if err != nil {
		return nil, err
	}
	out := make([]*CustomDetection, 0, len(f.Detections))
	seen := map[string]bool{}
	for i, s := range f.Detections {
		d, err := compileCustom(env, s)
		if err == nil && seen[d.Info.ID] {
			err = fmt.Errorf("duplicate id")
		}
		if err != nil {
			return nil, fmt.Errorf("runtime detections %s: detection %d (%s): %w", name, i+1, s.ID, err)
		}
		seen[d.Info.ID] = true
		out = append(out, d)
	}
	return out, nil
}

func compileCustom(env *cel.Env, s CustomSpec) (*CustomDetection, error) {
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
	d := &CustomDetection{fixed: s.Message}
	var err error
	if d.check, err = compileCEL(env, s.Expression, types.BoolType); err != nil {
		return nil, fmt.Errorf("expression %q: %w", s.Expression, err)
	}
	if s.MessageExpression != "" {
		if d.message, err = compileCEL(env, s.MessageExpression, types.StringType); err != nil {
			return nil, fmt.Errorf("messageExpression %q: %w", s.MessageExpression, err)
		}
	}
	id := s.ID
	if !strings.HasPrefix(id, "custom/") {
		id = "custom/" + id
	}
	d.Info = finding.RuleInfo{ID: id, Title: s.Title, Severity: sev, Description: s.Description, Remediation: s.Remediation, Tags: []string{"runtime", "custom"}, Analyser: "runtime"}
	if d.Info.Title == "" {
		d.Info.Title = id
	}
	return d, nil
}

func compileCEL(env *cel.Env, expr string, want *types.Type) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if out := ast.OutputType(); !out.IsExactType(want) && !out.IsExactType(types.DynType) {
		return nil, fmt.Errorf("must evaluate to %s, not %s", want, out)
	}
	return env.Program(ast, cel.CostLimit(customCostLimit))
}

// match evaluates the detection over vars ({"event": ...}); "" when it
// does not fire. An evaluation error (a missing field, the cost limit) is
// no match, and counted by the caller.
func (d *CustomDetection) match(vars map[string]any) (string, error) {
	val, _, err := d.check.Eval(vars)
	if err != nil {
		return "", err
	}
	if b, ok := val.Value().(bool); !ok || !b {
		return "", nil
	}
	if d.message != nil {
		if v, _, err := d.message.Eval(vars); err == nil {
			if m, ok := v.Value().(string); ok && m != "" {
				return m, nil
			}
		}
	}
	if d.fixed != "" {
		return d.fixed, nil
	}
	return d.Info.Title, nil
}

// eventVars is the event as CEL sees it: its JSON, numbers as int64 when
// whole (celvalue), as custom rules and audit detections see theirs.
func eventVars(e *Event) (map[string]any, error) {
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	m, err := celvalue.DecodeObject(raw)
	if err != nil {
		return nil, err
	}
	return map[string]any{"event": m}, nil
}
