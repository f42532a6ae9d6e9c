package auditlog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/palisade-sec/palisade/internal/celdetect"
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

// CustomSpec is a detection written in CEL over the event: its
// Expression sees "event" (the audit event as JSON) and returns true when
// the event is suspicious.
type CustomSpec = celdetect.Spec

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
	ds, err := celdetect.Compile(specs, costLimit)
	if err != nil {
		return nil, err
	}
	out := make([]*Detection, 0, len(ds))
	for _, d := range ds {
		out = append(out, &Detection{ID: d.ID, Title: d.Title, Severity: d.Severity, Description: d.Description, Remediation: d.Remediation,
			Match: func(e *Event) string {
				vars, err := eventVars(e)
				if err != nil {
					return ""
				}
				// An evaluation error is no match here: the audit
				// analyser's own checks still see the event.
				fired, msg, err := d.Match(vars)
				if err != nil || !fired {
					return ""
				}
				if msg == "" {
					msg = fmt.Sprintf("%s did %s %s", e.Who(), e.Verb, describeTarget(e))
				}
				return msg
			}})
	}
	return out, nil
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
