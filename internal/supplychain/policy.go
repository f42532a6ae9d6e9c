package supplychain

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/imageref"
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
	// file; required by keyless signers.
	TrustedRoot  string     `json:"trustedRoot,omitempty"`
	VerifyImages []RuleSpec `json:"verifyImages"`
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
	if len(data) > MaxPolicy {
		return nil, fmt.Errorf("verification policy %s: %d bytes, over the %d-byte limit", path, len(data), MaxPolicy)
	}
	var f PolicyFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("verification policy %s: %w", path, err)
	}
	if f.APIVersion != APIVersion || f.Kind != PolicyKind {
		return nil, fmt.Errorf("verification policy %s: apiVersion %q kind %q, want %s %s", path, f.APIVersion, f.Kind, APIVersion, PolicyKind)
	}
	p := &Policy{Name: f.Metadata.Name, File: path}
	base := filepath.Dir(path)
	if f.Spec.TrustedRoot != "" {
		rp := f.Spec.TrustedRoot
		if !filepath.IsAbs(rp) {
			rp = filepath.Join(base, rp)
		}
		if p.Root, err = LoadTrustedRoot(rp); err != nil {
			return nil, fmt.Errorf("verification policy %s: spec.trustedRoot: %w", path, err)
		}
	}
	if p.Rules, err = CompileRules(ctx, f.Spec.VerifyImages, base, secrets, p.Root != nil); err != nil {
		return nil, fmt.Errorf("verification policy %s: %w", path, err)
	}
	return p, nil
}

// CompileRules compiles verifyImages rules. baseDir resolves relative key
// paths ("" forbids key files: a fleet bundle must be self-contained).
// haveRoot says whether a trusted root is configured: keyless signers need
// one. Errors name the field at fault.
func CompileRules(ctx context.Context, specs []RuleSpec, baseDir string, secrets SecretReader, haveRoot bool) ([]Rule, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("verifyImages: at least one rule is required")
	}
	var out []Rule
	for i, s := range specs {
		field := fmt.Sprintf("verifyImages[%d]", i)
		if s.Name != "" {
			field += " (" + s.Name + ")"
		}
		r, err := compileRule(ctx, s, baseDir, secrets, haveRoot)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func compileRule(ctx context.Context, s RuleSpec, baseDir string, secrets SecretReader, haveRoot bool) (Rule, error) {
	r := Rule{Name: s.Name, Images: s.Images, MutateDigest: s.MutateDigest}
	if r.Name == "" {
		r.Name = strings.Join(s.Images, ",")
	}
	if len(s.Images) == 0 {
		return r, fmt.Errorf("images: at least one glob is required")
	}
	for i, g := range s.Images {
		if strings.TrimSpace(g) == "" {
			return r, fmt.Errorf("images[%d]: empty glob", i)
		}
	}
	if len(s.Signers) == 0 && len(s.Attestations) == 0 {
		return r, fmt.Errorf("signers or attestations: a rule must require something")
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
			return r, fmt.Errorf("%s.type is required", field)
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
			return r, fmt.Errorf("%s: signers are required (here or in the rule)", field)
		}
		if ar.Conditions, err = CompileConditions(a.Conditions); err != nil {
			return r, fmt.Errorf("%s.conditions: %w", field, err)
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
			return nil, fmt.Errorf("%s: set key or keyless, not both", f)
		case s.Key != "":
			ref := s.Key
			if !strings.HasPrefix(ref, "-----BEGIN") && !strings.Contains(ref, "://") {
				if baseDir == "" {
					return nil, fmt.Errorf("%s.key: a key file cannot be used here; put the PEM inline", f)
				}
				if !filepath.IsAbs(ref) {
					ref = filepath.Join(baseDir, ref)
				}
			}
			k, err := ResolveKey(ctx, ref, secrets)
			if err != nil {
				return nil, fmt.Errorf("%s.key: %w", f, err)
			}
			sg.Key = k
			if sg.Name == "" {
				sg.Name = "key " + KeyID(k)
			}
			fmt.Fprintf(h, "key %s|", KeyID(k))
		case s.Keyless != nil:
			if !haveRoot {
				return nil, fmt.Errorf("%s.keyless: %w", f, errNoRoot)
			}
			if _, err := s.Keyless.compile(); err != nil {
				return nil, fmt.Errorf("%s.keyless: %w", f, err)
			}
			id := *s.Keyless
			sg.Identity = &id
			if sg.Name == "" {
				sg.Name = id.String()
			}
			fmt.Fprintf(h, "id %+v|", id)
		default:
			return nil, fmt.Errorf("%s: key or keyless is required", f)
		}
		out = append(out, sg)
	}
	return out, nil
}
