package supplychain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/imageref"
	"github.com/palisade-sec/palisade/internal/manifest"
)

// APIVersion and Kind identify a verification policy file.
const (
	APIVersion = "palisade.io/v1alpha1"
	PolicyKind = "ImageVerificationPolicy"
)

// PolicyFile is an image verification policy as written (YAML or JSON).
// The admission policy embeds the same rules under
// spec.images.verifyImages.
type PolicyFile struct {
	APIVersion string                `json:"apiVersion"`
	Kind       string                `json:"kind"`
	Metadata   struct{ Name string } `json:"metadata"`
	Spec       PolicySpec            `json:"spec"`
}

// PolicySpec holds the trusted root and the rules.
type PolicySpec struct {
	// TrustedRoot is a trusted_root.json path, relative to the policy
	// file, or its content inline; required by keyless signers.
	TrustedRoot  TrustedRootValue `json:"trustedRoot,omitempty"`
	VerifyImages []RuleSpec       `json:"verifyImages"`
}

// RuleSpec is one verifyImages rule as written.
type RuleSpec struct {
	Name string `json:"name"`
	// Images are registry/repository globs ("ghcr.io/acme/*"); the first
	// rule that matches an image applies.
	Images []string `json:"images"`
	// Signers: a signature from any one of them is required. Empty
	// requires no signature (attestations only).
	Signers []SignerSpec `json:"signers,omitempty"`
	// Attestations are each required.
	Attestations []AttestationSpec `json:"attestations,omitempty"`
	// MutateDigest makes admission pin the verified digest into the
	// object (a tag cannot move after verification).
	MutateDigest bool `json:"mutateDigest,omitempty"`
}

// SignerSpec is a key or a keyless identity.
type SignerSpec struct {
	Name string `json:"name,omitempty"`
	// Key is a PEM file path, inline PEM or k8s://namespace/name[/field].
	Key     string    `json:"key,omitempty"`
	Keyless *Identity `json:"keyless,omitempty"`
}

// AttestationSpec requires an attestation of a predicate type.
type AttestationSpec struct {
	// Type is a predicate type URI or cosign alias (slsaprovenance1,
	// cyclonedx, spdxjson, openvex, vuln, custom).
	Type string `json:"type"`
	// Signers default to the rule's.
	Signers    []SignerSpec `json:"signers,omitempty"`
	Conditions []string     `json:"conditions,omitempty"`
}

// TrustedRootValue is a policy's trustedRoot: a file path (a string), or
// the trusted_root.json document itself, written as an object or as a
// string holding its JSON. Either way it holds text ResolveTrustedRoot
// reads.
type TrustedRootValue string

// UnmarshalJSON takes a string, or an object kept as its JSON text.
func (v *TrustedRootValue) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '{' {
		*v = TrustedRootValue(data)
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.New("trustedRoot: want a file path or the trusted_root.json document")
	}
	*v = TrustedRootValue(s)
	return nil
}

// Rule is a compiled verifyImages rule.
type Rule struct {
	Name         string
	Images       []string
	Signers      []Signer
	Attestations []AttestationRule
	MutateDigest bool
	// ID identifies everything the rule's outcome depends on (keys,
	// identities, types, conditions), for cache keys.
	ID string
}

// AttestationRule is a compiled attestation requirement.
type AttestationRule struct {
	Type       string
	Signers    []Signer
	Conditions []Condition
}

// Policy is a loaded, compiled verification policy.
type Policy struct {
	Name  string
	File  string
	Root  *TrustedRoot
	Rules []Rule
}

// Applies returns the first rule whose globs match the image, or nil.
func (p *Policy) Applies(image string) *Rule {
	return MatchRule(p.Rules, image)
}

// MatchRule returns the first rule whose globs match the image, or nil.
func MatchRule(rules []Rule, image string) *Rule {
	r, err := imageref.Parse(image)
	if err != nil {
		return nil
	}
	for i := range rules {
		if r.RequiredByAny(rules[i].Images) {
			return &rules[i]
		}
	}
	return nil
}

// MaxPolicy bounds a policy file.
const MaxPolicy = 1 << 20

// LoadPolicy reads and compiles a verification policy file; paths in it
// are relative to its directory. secrets may be nil (no k8s:// keys).
func LoadPolicy(ctx context.Context, path string, secrets SecretReader) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("verification policy %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("verification policy %s: %w", path, err)
	}
	return ParsePolicy(ctx, path, data, PolicySource{BaseDir: filepath.Dir(path), Updated: st.ModTime(), Secrets: secrets})
}

// PolicySource says where a policy's content came from, which decides
// what it may refer to.
type PolicySource struct {
	// BaseDir resolves relative key and trusted-root files; "" allows
	// none: a policy from a fleet bundle must be self-contained (keys as
	// inline PEM, the trusted root inline).
	BaseDir string
	// Updated is when the content was written (a file's modification
	// time, a bundle's publication): the age of an inline trusted root.
	Updated time.Time
	// Secrets reads k8s:// keys; nil refuses them.
	Secrets SecretReader
}

// ParsePolicy compiles a verification policy's content (YAML or JSON).
// Errors name the document at fault by name:line and the field.
func ParsePolicy(ctx context.Context, name string, data []byte, src PolicySource) (*Policy, error) {
	if len(data) > MaxPolicy {
		return nil, fmt.Errorf("verification policy %s: %d bytes, over the %d-byte limit", name, len(data), MaxPolicy)
	}
	obj, err := readPolicyObject(ctx, name, data, APIVersion, PolicyKind)
	if err != nil {
		return nil, fmt.Errorf("verification policy %s", err)
	}
	var f PolicyFile
	dec := json.NewDecoder(bytes.NewReader(obj.JSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("verification policy %s:%d: %w", name, obj.Line, err)
	}
	p := &Policy{Name: f.Metadata.Name, File: name}
	if f.Spec.TrustedRoot != "" {
		if p.Root, err = ResolveTrustedRoot(string(f.Spec.TrustedRoot), src.BaseDir, src.Updated); err != nil {
			return nil, fmt.Errorf("verification policy %s:%d: spec.trustedRoot: %w", name, obj.LineOf("spec.trustedRoot"), err)
		}
	}
	if p.Rules, err = CompileRules(ctx, f.Spec.VerifyImages, src.BaseDir, src.Secrets, p.Root != nil); err != nil {
		line := obj.LineOf("spec")
		var fe *FieldError
		if errors.As(err, &fe) {
			line = obj.LineOf("spec." + fe.Path)
		}
		return nil, fmt.Errorf("verification policy %s:%d: %w", name, line, err)
	}
	return p, nil
}

// readPolicyObject reads the one object of apiVersion and kind in data
// with the manifest reader, which keeps the line of every field. The
// error starts with the name (and line), for the caller's prefix.
func readPolicyObject(ctx context.Context, name string, data []byte, apiVersion, kind string) (*manifest.Object, error) {
	set, err := manifest.Load(ctx, []string{"-"}, manifest.Options{Stdin: bytes.NewReader(data), SkipDockerfiles: true})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, pr := range set.Problems {
		if pr.Level == finding.LevelError {
			return nil, fmt.Errorf("%s:%d: %s", name, pr.Line, pr.Message)
		}
	}
	var found *manifest.Object
	for _, o := range set.Objects {
		if o.Kind != kind {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("%s: more than one %s (lines %d and %d)", name, kind, found.Line, o.Line)
		}
		found = o
	}
	if found == nil || found.APIVersion != apiVersion {
		got := ""
		if len(set.Objects) > 0 {
			got = fmt.Sprintf(" (found apiVersion %q kind %q)", set.Objects[0].APIVersion, set.Objects[0].Kind)
		}
		return nil, fmt.Errorf("%s: want apiVersion %s kind %s%s", name, apiVersion, kind, got)
	}
	return found, nil
}

// FieldError is a policy error at a field, whose path (from the rules'
// list: "verifyImages[0].attestations[1].conditions[0]") lets a loader
// add the field's line.
type FieldError struct {
	Path string
	// Label is the path as shown: rule names added.
	Label string
	Err   error
}

func (e *FieldError) Error() string { return e.Label + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// CompileRules compiles verifyImages rules. baseDir resolves relative key
// paths ("" forbids key files: a fleet bundle must be self-contained).
// haveRoot says whether a trusted root is configured: keyless signers need
// one. Errors are *FieldError naming the field at fault.
func CompileRules(ctx context.Context, specs []RuleSpec, baseDir string, secrets SecretReader, haveRoot bool) ([]Rule, error) {
	if len(specs) == 0 {
		return nil, &FieldError{Path: "verifyImages", Label: "verifyImages", Err: errors.New("at least one rule is required")}
	}
	var out []Rule
	for i, s := range specs {
		path := fmt.Sprintf("verifyImages[%d]", i)
		label := path
		if s.Name != "" {
			label += " (" + s.Name + ")"
		}
		r, err := compileRule(ctx, s, baseDir, secrets, haveRoot)
		if err != nil {
			fe := &FieldError{Path: path, Label: label, Err: err}
			var inner *FieldError
			if errors.As(err, &inner) {
				fe = &FieldError{Path: path + "." + inner.Path, Label: label + ": " + inner.Label, Err: inner.Err}
			}
			return nil, fe
		}
		out = append(out, r)
	}
	return out, nil
}

// fieldErr is an error at a field of one rule.
func fieldErr(path, format string, args ...any) error {
	return &FieldError{Path: path, Label: path, Err: fmt.Errorf(format, args...)}
}

func compileRule(ctx context.Context, s RuleSpec, baseDir string, secrets SecretReader, haveRoot bool) (Rule, error) {
	r := Rule{Name: s.Name, Images: s.Images, MutateDigest: s.MutateDigest}
	if r.Name == "" {
		r.Name = strings.Join(s.Images, ",")
	}
	if len(s.Images) == 0 {
		return r, fieldErr("images", "at least one glob is required")
	}
	for i, g := range s.Images {
		if strings.TrimSpace(g) == "" {
			return r, fieldErr(fmt.Sprintf("images[%d]", i), "empty glob")
		}
	}
	if len(s.Signers) == 0 && len(s.Attestations) == 0 {
		return r, &FieldError{Path: "signers", Label: "signers or attestations", Err: errors.New("a rule must require something")}
	}
	h := sha256.New()
	fmt.Fprintf(h, "%q|%t|", s.Images, s.MutateDigest)
	var err error
	if r.Signers, err = compileSigners(ctx, s.Signers, baseDir, secrets, haveRoot, "signers", h); err != nil {
		return r, err
	}
	for i, a := range s.Attestations {
		field := fmt.Sprintf("attestations[%d]", i)
		if strings.TrimSpace(a.Type) == "" {
			return r, fieldErr(field+".type", "is required")
		}
		ar := AttestationRule{Type: PredicateType(a.Type)}
		fmt.Fprintf(h, "att %q %q|", ar.Type, a.Conditions)
		ar.Signers = r.Signers
		if len(a.Signers) > 0 {
			if ar.Signers, err = compileSigners(ctx, a.Signers, baseDir, secrets, haveRoot, field+".signers", h); err != nil {
				return r, err
			}
		}
		if len(ar.Signers) == 0 {
			return r, fieldErr(field+".signers", "signers are required (here or in the rule)")
		}
		if ar.Conditions, err = CompileConditions(a.Conditions); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return r, &FieldError{Path: field + "." + fe.Path, Label: field + ".conditions: " + fe.Label, Err: fe.Err}
			}
			return r, fieldErr(field+".conditions", "%w", err)
		}
		r.Attestations = append(r.Attestations, ar)
	}
	r.ID = hex.EncodeToString(h.Sum(nil)[:8])
	return r, nil
}

func compileSigners(ctx context.Context, specs []SignerSpec, baseDir string, secrets SecretReader, haveRoot bool, field string, h interface{ Write([]byte) (int, error) }) ([]Signer, error) {
	var out []Signer
	for i, s := range specs {
		f := fmt.Sprintf("%s[%d]", field, i)
		sg := Signer{Name: s.Name}
		switch {
		case s.Key != "" && s.Keyless != nil:
			return nil, fieldErr(f, "set key or keyless, not both")
		case s.Key != "":
			ref := s.Key
			if !strings.HasPrefix(ref, "-----BEGIN") && !strings.Contains(ref, "://") {
				if baseDir == "" {
					return nil, fieldErr(f+".key", "a key file cannot be used here; put the PEM inline")
				}
				if !filepath.IsAbs(ref) {
					ref = filepath.Join(baseDir, ref)
				}
			}
			k, err := ResolveKey(ctx, ref, secrets)
			if err != nil {
				return nil, fieldErr(f+".key", "%w", err)
			}
			sg.Key = k
			if sg.Name == "" {
				sg.Name = "key " + KeyID(k)
			}
			fmt.Fprintf(h, "key %s|", KeyID(k))
		case s.Keyless != nil:
			if !haveRoot {
				return nil, fieldErr(f+".keyless", "%w", errNoRoot)
			}
			if _, err := s.Keyless.compile(); err != nil {
				return nil, fieldErr(f+".keyless", "%w", err)
			}
			id := *s.Keyless
			sg.Identity = &id
			if sg.Name == "" {
				sg.Name = id.String()
			}
			fmt.Fprintf(h, "id %+v|", id)
		default:
			return nil, fieldErr(f, "key or keyless is required")
		}
		out = append(out, sg)
	}
	return out, nil
}
