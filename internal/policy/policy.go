// Package policy reads Palisade policy files: the Pod Security level to
// assume, the registry allow-list, custom CEL rules and exceptions. The
// file is versioned like a Kubernetes object so later versions can change
// it without breaking old files.
package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/rules/custom"
)

// APIVersion and Kind identify a policy file.
const (
	APIVersion = "palisade.io/v1alpha1"
	Kind       = "Policy"
)

// Policy is a parsed policy file.
type Policy struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata,omitempty"`
	Spec       Spec     `json:"spec"`
	// File is where the policy was read from.
	File string `json:"-"`
	// exceptionLines are the lines of Spec.Exceptions' entries in File.
	exceptionLines []int
}

// Metadata names the policy.
type Metadata struct {
	Name string `json:"name,omitempty"`
}

// Spec is the policy proper.
type Spec struct {
	PodSecurity       PodSecurity     `json:"podSecurity,omitempty"`
	AllowedRegistries []string        `json:"allowedRegistries,omitempty"`
	Rules             []custom.Spec   `json:"rules,omitempty"`
	Exceptions        []ExceptionSpec `json:"exceptions,omitempty"`
}

// PodSecurity sets the level for namespaces without an enforce label.
type PodSecurity struct {
	DefaultLevel string `json:"defaultLevel,omitempty"`
}

// ExceptionSpec is an exception as written; Expires is a date
// (2027-01-31) or an RFC 3339 time.
type ExceptionSpec struct {
	Rules      []string `json:"rules"`
	Namespaces []string `json:"namespaces,omitempty"`
	Kinds      []string `json:"kinds,omitempty"`
	Names      []string `json:"names,omitempty"`
	Reason     string   `json:"reason"`
	Expires    string   `json:"expires,omitempty"`
}

// Load reads and validates a policy file. Errors name the file and the
// line of the field at fault where it can be found.
func Load(ctx context.Context, path string) (*Policy, error) {
	set, err := manifest.Load(ctx, []string{path}, manifest.Options{SkipDockerfiles: true})
	if err != nil {
		return nil, err
	}
	for _, p := range set.Problems {
		if p.Level == "error" {
			return nil, fmt.Errorf("policy %s", p)
		}
	}
	var found *manifest.Object
	for _, o := range set.Objects {
		if o.Kind == Kind && strings.HasPrefix(o.APIVersion, "palisade.io/") {
			if found != nil {
				return nil, fmt.Errorf("policy %s: more than one %s (lines %d and %d)", path, Kind, found.Line, o.Line)
			}
			found = o
		}
	}
	if found == nil {
		return nil, fmt.Errorf("policy %s: no object with apiVersion %s and kind %s", path, APIVersion, Kind)
	}
	if found.APIVersion != APIVersion {
		return nil, fmt.Errorf("policy %s:%d: unsupported apiVersion %q (this version of Palisade reads %s)", path, found.Line, found.APIVersion, APIVersion)
	}
	var p Policy
	dec := json.NewDecoder(bytes.NewReader(found.JSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("policy %s:%d: %w", path, found.Line, describeJSONError(err))
	}
	p.File = path
	if err := p.validate(found); err != nil {
		return nil, err
	}
	return &p, nil
}

func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if ok := asTypeError(err, &te); ok {
		return fmt.Errorf("field %s: cannot use %s as %s", te.Field, te.Value, te.Type)
	}
	return err
}

func asTypeError(err error, te **json.UnmarshalTypeError) bool {
	t, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*te = t
	}
	return ok
}

func (p *Policy) validate(src *manifest.Object) error {
	at := func(field string, format string, args ...any) error {
		return fmt.Errorf("policy %s:%d: %s: %s", p.File, src.LineOf(field), field, fmt.Sprintf(format, args...))
	}
	switch p.Spec.PodSecurity.DefaultLevel {
	case "", rule.LevelPrivileged, rule.LevelBaseline, rule.LevelRestricted:
	default:
		return at("spec.podSecurity.defaultLevel", "must be privileged, baseline or restricted, not %q", p.Spec.PodSecurity.DefaultLevel)
	}
	p.exceptionLines = make([]int, len(p.Spec.Exceptions))
	for i, e := range p.Spec.Exceptions {
		field := fmt.Sprintf("spec.exceptions[%d]", i)
		p.exceptionLines[i] = src.LineOf(field)
		if len(e.Rules) == 0 {
			return at(field, "rules is required")
		}
		if strings.TrimSpace(e.Reason) == "" {
			return at(field, "reason is required")
		}
		if e.Expires != "" {
			if _, err := parseExpiry(e.Expires); err != nil {
				return at(field+".expires", "%v", err)
			}
		}
	}
	if _, err := custom.Compile(p.Spec.Rules); err != nil {
		return fmt.Errorf("policy %s:%d: %w", p.File, src.LineOf("spec.rules"), err)
	}
	return nil
}

func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date (2027-01-31) nor an RFC 3339 time", s)
	}
	return t, nil
}

// Exceptions returns the policy's exceptions for the rule engine.
func (p *Policy) Exceptions() []rule.Exception {
	var out []rule.Exception
	for i, e := range p.Spec.Exceptions {
		ex := rule.Exception{Rules: e.Rules, Namespaces: e.Namespaces, Kinds: e.Kinds, Names: e.Names, Reason: e.Reason,
			Source: fmt.Sprintf("policy %s: spec.exceptions[%d]", p.File, i)}
		if i < len(p.exceptionLines) && p.exceptionLines[i] > 0 {
			ex.Source = fmt.Sprintf("policy %s:%d: spec.exceptions[%d]", p.File, p.exceptionLines[i], i)
		}
		if e.Expires != "" {
			if t, err := parseExpiry(e.Expires); err == nil {
				ex.Expires = &t
			}
		}
		out = append(out, ex)
	}
	return out
}

// CustomRules compiles the policy's CEL rules.
func (p *Policy) CustomRules() ([]*rule.Rule, error) {
	return custom.Compile(p.Spec.Rules)
}
