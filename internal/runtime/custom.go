package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/celdetect"
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
type CustomSpec = celdetect.Spec

// CustomDetection is a compiled CustomSpec.
type CustomDetection struct {
	Info finding.RuleInfo
	d    *celdetect.Detection
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
	ds, err := celdetect.Compile(f.Detections, customCostLimit)
	if err != nil {
		return nil, fmt.Errorf("runtime detections %s: %w", name, err)
	}
	out := make([]*CustomDetection, 0, len(ds))
	for _, d := range ds {
		out = append(out, &CustomDetection{d: d, Info: finding.RuleInfo{ID: d.ID, Title: d.Title, Severity: d.Severity,
			Description: d.Description, Remediation: d.Remediation, Tags: []string{"runtime", "custom"}, Analyser: "runtime"}})
	}
	return out, nil
}

// match evaluates the detection over vars ({"event": ...}); "" when it
// does not fire. An evaluation error (a missing field, the cost limit) is
// no match, and counted by the caller.
func (c *CustomDetection) match(vars map[string]any) (string, error) {
	fired, msg, err := c.d.Match(vars)
	if err != nil || !fired {
		return "", err
	}
	if msg == "" {
		msg = c.Info.Title
	}
	return msg, nil
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
