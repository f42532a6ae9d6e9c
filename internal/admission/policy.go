package admission

import (
	"bytes"
	"context"
	"crypto"
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
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/policy"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/rules"
	"github.com/palisade-sec/palisade/internal/rules/custom"
	"github.com/palisade-sec/palisade/internal/supplychain"
)

// APIVersion and Kind identify an admission policy file. The scan policy
// (kind Policy) shares the API group; the admission policy is its own kind
// because it says how to decide, not only what to check.
const (
	APIVersion = "palisade.io/v1alpha1"
	Kind       = "AdmissionPolicy"
)

// Mode says what a violation does, as in Pod Security Admission.
type Mode string

// Modes, from strongest to weakest.
const (
	// ModeEnforce denies the request.
	ModeEnforce Mode = "enforce"
	// ModeWarn admits it and returns a warning to the client (kubectl
	// prints it).
	ModeWarn Mode = "warn"
	// ModeAudit admits it and records an audit annotation only.
	ModeAudit Mode = "audit"
)

func (m Mode) valid() bool { return m == ModeEnforce || m == ModeWarn || m == ModeAudit }

// FailurePolicy says what happens when a check cannot be completed (an
// unreachable registry, a scan that takes too long).
type FailurePolicy string

// Failure policies.
const (
	// FailClosed treats an incomplete check as a violation (in the rule's mode).
	FailClosed FailurePolicy = "Fail"
	// FailOpen admits, with a warning and an event.
	FailOpen FailurePolicy = "Ignore"
)

// Defaults.
const (
	DefaultNamespace       = "palisade-system"
	defaultRegistryTimeout = 3 * time.Second
	defaultCacheTTL        = 10 * time.Minute
	defaultScanTimeout     = 5 * time.Second
)

// BreakGlassAnnotation admits an object whatever the enforced rules say:
//
//	palisade.io/break-glass: "<reason>"
//
// It is off unless the policy sets spec.exemptions.breakGlass and names
// the groups that may use it (breakGlassGroups). Every use is reported as
// an event, a warning and an audit annotation; so is every attempt the
// policy does not honour (the request is then judged as without it).
const BreakGlassAnnotation = "palisade.io/break-glass"

// PolicyFile is the admission policy as written (palisade.io/v1alpha1,
// kind AdmissionPolicy). docs/admission.md documents every field.
type PolicyFile struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   policy.Metadata `json:"metadata,omitempty"`
	Spec       PolicySpec      `json:"spec"`
}

// PolicySpec is the policy proper.
type PolicySpec struct {
	// Mode applies to every violation unless an override says otherwise.
	Mode Mode `json:"mode,omitempty"`
	// PodSecurity is the Pod Security level workloads are held to.
	PodSecurity PodSecurity `json:"podSecurity,omitempty"`
	// Rules select built-in and custom rules, as --rules does; empty means
	// "pss-restricted" (every Pod Security control, filtered by level).
	Rules []string `json:"rules,omitempty"`
	// Overrides change the mode or level for some rules and/or namespaces;
	// the last matching override wins.
	Overrides []Override `json:"overrides,omitempty"`
	// Images configures the image rules.
	Images Images `json:"images,omitempty"`
	// Exemptions skip evaluation entirely.
	Exemptions *Exemptions `json:"exemptions,omitempty"`
	// CustomRules are CEL rules, as in the scan policy.
	CustomRules []custom.Spec `json:"customRules,omitempty"`
	// Exceptions suppress findings, as in the scan policy.
	Exceptions []policy.ExceptionSpec `json:"exceptions,omitempty"`
}

// PodSecurity sets the level.
type PodSecurity struct {
	// Level: privileged, baseline or restricted (default baseline).
	Level string `json:"level,omitempty"`
}

// Override changes the mode (and for namespaces the Pod Security level)
// for the rules and namespaces it matches. Empty selectors match all.
type Override struct {
	// Rules are rule ID globs or tags.
	Rules []string `json:"rules,omitempty"`
	// Namespaces are name globs.
	Namespaces []string `json:"namespaces,omitempty"`
	Mode       Mode     `json:"mode,omitempty"`
	// PodSecurityLevel applies to the namespaces (only valid without rules).
	PodSecurityLevel string `json:"podSecurityLevel,omitempty"`
}

// Images configures the image rules.
type Images struct {
	// AllowedRegistries are registry or registry/repository globs
	// (hardening/registry-not-allowed); empty allows all.
	AllowedRegistries []string `json:"allowedRegistries,omitempty"`
	// RequireDigest selects hardening/image-not-pinned and
	// hardening/latest-tag (mutable tags are denied once resolution, if
	// on, had its chance).
	RequireDigest bool `json:"requireDigest,omitempty"`
	// ResolveDigests makes the mutating endpoint pin every tag to the
	// digest the registry serves now.
	ResolveDigests bool `json:"resolveDigests,omitempty"`
	// Registry configures access to registries.
	Registry Registry `json:"registry,omitempty"`
	// Signatures requires cosign signatures.
	Signatures *Signatures `json:"signatures,omitempty"`
	// TrustedRoot is a trusted_root.json file (relative to the policy
	// file), or its content inline (what a fleet bundle carries), for
	// keyless signers, log entries and timestamps.
	TrustedRoot supplychain.TrustedRootValue `json:"trustedRoot,omitempty"`
	// VerifyImages are Sigstore verification rules (signers, required
	// attestations with CEL conditions, mutateDigest), the format of
	// `palisade verify image --policy`: the first rule whose images glob
	// matches an image applies.
	VerifyImages []supplychain.RuleSpec `json:"verifyImages,omitempty"`
	// Vulnerabilities gates on known vulnerabilities.
	Vulnerabilities *Vulnerabilities `json:"vulnerabilities,omitempty"`
}

// Registry configures registry access for resolution, signatures and scans.
type Registry struct {
	// Timeout bounds one registry operation (default 3s); keep it well
	// below the webhook's timeoutSeconds.
	Timeout Duration `json:"timeout,omitempty"`
	// FailurePolicy: Fail (default) or Ignore when a registry cannot be reached.
	FailurePolicy FailurePolicy `json:"failurePolicy,omitempty"`
	// CacheTTL is how long a tag's digest is trusted (default 10m).
	CacheTTL Duration `json:"cacheTTL,omitempty"`
	// Insecure lists registry hosts reached over plain HTTP.
	Insecure []string `json:"insecure,omitempty"`
	// PullSecrets reads the pod's and its service account's
	// imagePullSecrets through the API (needs the RBAC in docs/admission.md).
	PullSecrets bool `json:"pullSecrets,omitempty"`
}

// Signatures requires cosign signatures made with one of the keys.
type Signatures struct {
	// Images are allow-list style globs of images that must be signed;
	// empty means every image.
	Images []string `json:"images,omitempty"`
	// Keys are PEM public keys (ECDSA, Ed25519 or RSA), inline or from a
	// file (relative to the policy file).
	Keys []Key `json:"keys"`
}

// Key is one trusted public key.
type Key struct {
	Name string `json:"name"`
	// PEM is the key itself; File a path to it. Exactly one is set.
	PEM  string `json:"pem,omitempty"`
	File string `json:"file,omitempty"`
}

// Vulnerabilities gates on scan results.
type Vulnerabilities struct {
	// Images are globs of images to scan; empty means every image.
	Images []string `json:"images,omitempty"`
	// Severity: deny at or above it (CRITICAL, HIGH, MEDIUM, LOW). A
	// vulnerability of unknown severity denies too, unless
	// IgnoreUnknownSeverity: an unknown risk is not a harmless one.
	Severity string `json:"severity"`
	// IgnoreUnknownSeverity lets vulnerabilities whose advisory gives no
	// severity pass the gate.
	IgnoreUnknownSeverity bool `json:"ignoreUnknownSeverity,omitempty"`
	// FixableOnly counts only vulnerabilities with a fixed version.
	FixableOnly bool `json:"fixableOnly,omitempty"`
	// Timeout bounds one scan (default 5s); FailurePolicy applies beyond it.
	Timeout       Duration      `json:"timeout,omitempty"`
	FailurePolicy FailurePolicy `json:"failurePolicy,omitempty"`
}

// Exemptions skip evaluation. When the block is absent, kube-system and
// palisade-system are exempt; when present, it says everything.
type Exemptions struct {
	Namespaces []string `json:"namespaces,omitempty"`
	Users      []string `json:"usernames,omitempty"`
	Groups     []string `json:"groups,omitempty"`
	// BreakGlass enables the palisade.io/break-glass annotation (default
	// false): it admits anything, so it is opt-in and, when on, honoured
	// only for requesters in BreakGlassGroups (required then).
	BreakGlass       *bool    `json:"breakGlass,omitempty"`
	BreakGlassGroups []string `json:"breakGlassGroups,omitempty"`
	// AnnotationGroups are the requesters' groups (globs) whose objects'
	// palisade.io/exempt annotation is honoured. Default none: the
	// annotation is written by whoever creates the object, so honouring
	// it for everyone would let any requester exempt itself from every
	// rule, the image-signature check included.
	AnnotationGroups []string `json:"annotationGroups,omitempty"`
}

// Duration is a time.Duration written as "3s" or "500ms".
type Duration struct{ time.Duration }

// UnmarshalJSON reads "3s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"3s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes "3s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d Duration) or(def time.Duration) time.Duration {
	if d.Duration > 0 {
		return d.Duration
	}
	return def
}

// Policy is a loaded, compiled admission policy: immutable and shared by
// concurrent requests.
type Policy struct {
	Name string
	// Hash identifies the file's content (sha256, hex), for events.
	Hash string
	File string

	mode       Mode
	level      string
	rules      *rule.Set
	overrides  []Override
	exceptions []rule.Exception
	settings   rule.Settings

	images   Images
	keys     []PublicKey
	keysHash string
	// legacyRule is spec.images.signatures as a verification rule;
	// verifyRules are spec.images.verifyImages.
	legacyRule      *supplychain.Rule
	verifyRules     []supplychain.Rule
	verifier        *supplychain.Verifier
	exemptNS        []string
	exemptUsers     []string
	exemptGroups    []string
	breakGlass      bool
	breakGlassGroup []string
	annotationGroup []string
	registryTimeout time.Duration
	registryFail    FailurePolicy
	cacheTTL        time.Duration
	vulnSeverity    finding.Severity
	// vulnGate is vulnSeverity with the unknown-severity choice.
	vulnGate    finding.Gate
	scanTimeout time.Duration
	scanFail    FailurePolicy
}

// PublicKey is a trusted signature key.
type PublicKey struct {
	Name string
	Key  crypto.PublicKey
}

// LoadPolicy reads, validates and compiles an admission policy file.
// Errors name the file and, where it can be found, the line at fault.
func LoadPolicy(ctx context.Context, path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("admission policy %s: %w", path, err)
	}
	return parsePolicy(ctx, path, data, nil)
}

// parsePolicy reads a policy file's content; secrets reads verifyImages
// keys named k8s://namespace/name (nil: such keys are refused).
func parsePolicy(ctx context.Context, path string, data []byte, secrets supplychain.SecretReader) (*Policy, error) {
	return parsePolicyIn(ctx, path, data, filepath.Dir(path), secrets)
}

// ValidateBundlePolicy checks an AdmissionPolicy published to the fleet
// hub as an `admission` bundle, which agents write into each cluster's
// webhook ConfigMap: it must load as the webhook loads it, and be
// self-contained (keys inline as pem: a key file path means nothing on
// another machine, and the hub reads no files for a publisher).
func ValidateBundlePolicy(ctx context.Context, name string, data []byte) error {
	_, err := parsePolicyIn(ctx, name, data, "", nil)
	return err
}

// parsePolicyIn parses and compiles a policy whose key files are relative
// to baseDir; "" allows no key files.
func parsePolicyIn(ctx context.Context, path string, data []byte, baseDir string, secrets supplychain.SecretReader) (*Policy, error) {
	set, err := manifest.Load(ctx, []string{"-"}, manifest.Options{Stdin: bytes.NewReader(data), SkipDockerfiles: true})
	if err != nil {
		return nil, fmt.Errorf("admission policy %s: %w", path, err)
	}
	for _, p := range set.Problems {
		if p.Level == finding.LevelError {
			return nil, fmt.Errorf("admission policy %s:%d: %s", path, p.Line, p.Message)
		}
	}
	var found *manifest.Object
	for _, o := range set.Objects {
		if o.Kind == Kind && strings.HasPrefix(o.APIVersion, "palisade.io/") {
			if found != nil {
				return nil, fmt.Errorf("admission policy %s: more than one %s (lines %d and %d)", path, Kind, found.Line, o.Line)
			}
			found = o
		}
	}
	if found == nil {
		return nil, fmt.Errorf("admission policy %s: no object with apiVersion %s and kind %s", path, APIVersion, Kind)
	}
	if found.APIVersion != APIVersion {
		return nil, fmt.Errorf("admission policy %s:%d: unsupported apiVersion %q (this version of Palisade reads %s)", path, found.Line, found.APIVersion, APIVersion)
	}
	var f PolicyFile
	dec := json.NewDecoder(bytes.NewReader(found.JSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("admission policy %s:%d: %w", path, found.Line, err)
	}
	sum := sha256.Sum256(data)
	// An inline trusted root is as old as the policy that carries it:
	// the file's modification time (a ConfigMap's, when the agent last
	// wrote the hub's bundle into it).
	updated := time.Now()
	if baseDir != "" {
		if st, err := os.Stat(path); err == nil {
			updated = st.ModTime()
		}
	}
	p, err := compile(ctx, &f, baseDir, updated, secrets)
	if err != nil {
		var fe *fieldError
		if asFieldError(err, &fe) {
			return nil, fmt.Errorf("admission policy %s:%d: %s: %w", path, found.LineOf(fe.field), fe.shown(), fe.err)
		}
		return nil, fmt.Errorf("admission policy %s:%d: %w", path, found.Line, err)
	}
	p.Name, p.File, p.Hash = f.Metadata.Name, path, hex.EncodeToString(sum[:])
	return p, nil
}

// fieldError names the field at fault so the loader can add its line.
type fieldError struct {
	field string
	// label, when set, is the field as shown (with rule names).
	label string
	err   error
}

func (e *fieldError) Error() string { return e.shown() + ": " + e.err.Error() }

func (e *fieldError) shown() string {
	if e.label != "" {
		return e.label
	}
	return e.field
}
func (e *fieldError) Unwrap() error { return e.err }

func asFieldError(err error, out **fieldError) bool {
	fe, ok := err.(*fieldError)
	if ok {
		*out = fe
	}
	return ok
}

func fieldErr(field, format string, args ...any) error {
	return &fieldError{field: field, err: fmt.Errorf(format, args...)}
}

func validLevel(l string) bool {
	return l == rule.LevelPrivileged || l == rule.LevelBaseline || l == rule.LevelRestricted
}

func validFailure(f FailurePolicy) bool { return f == "" || f == FailClosed || f == FailOpen }

func orFail(f FailurePolicy) FailurePolicy {
	if f == "" {
		return FailClosed
	}
	return f
}

// compile validates the spec and builds the policy. baseDir resolves key files.
func compile(ctx context.Context, f *PolicyFile, baseDir string, updated time.Time, secrets supplychain.SecretReader) (*Policy, error) {
	s := &f.Spec
	p := &Policy{mode: s.Mode, level: s.PodSecurity.Level, overrides: s.Overrides, images: s.Images}
	if p.mode == "" {
		p.mode = ModeEnforce
	}
	if !p.mode.valid() {
		return nil, fieldErr("spec.mode", "must be enforce, warn or audit, not %q", s.Mode)
	}
	if p.level == "" {
		p.level = rule.LevelBaseline
	}
	if !validLevel(p.level) {
		return nil, fieldErr("spec.podSecurity.level", "must be privileged, baseline or restricted, not %q", s.PodSecurity.Level)
	}
	for i, o := range s.Overrides {
		field := fmt.Sprintf("spec.overrides[%d]", i)
		if o.Mode != "" && !o.Mode.valid() {
			return nil, fieldErr(field+".mode", "must be enforce, warn or audit, not %q", o.Mode)
		}
		if o.PodSecurityLevel != "" {
			if !validLevel(o.PodSecurityLevel) {
				return nil, fieldErr(field+".podSecurityLevel", "must be privileged, baseline or restricted, not %q", o.PodSecurityLevel)
			}
			if len(o.Rules) > 0 {
				return nil, fieldErr(field+".podSecurityLevel", "applies to namespaces; remove rules from this override")
			}
		}
		if o.Mode == "" && o.PodSecurityLevel == "" {
			return nil, fieldErr(field, "sets neither mode nor podSecurityLevel")
		}
	}

	builtin, err := rules.Builtin()
	if err != nil {
		return nil, err
	}
	customRules, err := custom.Compile(s.CustomRules)
	if err != nil {
		return nil, fieldErr("spec.customRules", "%w", err)
	}
	all, err := builtin.With(customRules...)
	if err != nil {
		return nil, fieldErr("spec.customRules", "%w", err)
	}
	selectors := s.Rules
	if len(selectors) == 0 {
		selectors = []string{rule.TagPSSRestricted}
	}
	selectors = append([]string{}, selectors...)
	if len(s.CustomRules) > 0 {
		selectors = append(selectors, rule.TagCustom)
	}
	if len(s.Images.AllowedRegistries) > 0 {
		selectors = append(selectors, "hardening/registry-not-allowed")
	}
	if s.Images.RequireDigest {
		selectors = append(selectors, "hardening/image-not-pinned", "hardening/latest-tag")
	}
	// Cluster-wide and Dockerfile rules need inputs a single admission
	// request does not have.
	selectors = append(selectors, "-"+rule.TagCluster, "-"+rule.TagDockerfile)
	if p.rules, err = all.Select(selectors); err != nil {
		return nil, fieldErr("spec.rules", "%w", err)
	}
	for i, o := range s.Overrides {
		for _, sel := range o.Rules {
			if _, err := all.Select([]string{sel}); err != nil {
				return nil, fieldErr(fmt.Sprintf("spec.overrides[%d].rules", i), "%w", err)
			}
		}
	}
	p.settings = rule.Settings{DefaultPSSLevel: p.level, AllowedRegistries: s.Images.AllowedRegistries}

	for i, e := range s.Exceptions {
		field := fmt.Sprintf("spec.exceptions[%d]", i)
		if len(e.Rules) == 0 {
			return nil, fieldErr(field, "rules is required")
		}
		if strings.TrimSpace(e.Reason) == "" {
			return nil, fieldErr(field, "reason is required")
		}
	}
	if len(s.Exceptions) > 0 {
		tmp := policy.Policy{Spec: policy.Spec{Exceptions: s.Exceptions}}
		p.exceptions = tmp.Exceptions()
		for i, e := range s.Exceptions {
			if e.Expires != "" && p.exceptions[i].Expires == nil {
				return nil, fieldErr(fmt.Sprintf("spec.exceptions[%d].expires", i), "%q is neither a date (2027-01-31) nor an RFC 3339 time", e.Expires)
			}
		}
	}

	reg := s.Images.Registry
	if !validFailure(reg.FailurePolicy) {
		return nil, fieldErr("spec.images.registry.failurePolicy", "must be Fail or Ignore, not %q", reg.FailurePolicy)
	}
	p.registryTimeout = reg.Timeout.or(defaultRegistryTimeout)
	p.registryFail = orFail(reg.FailurePolicy)
	p.cacheTTL = reg.CacheTTL.or(defaultCacheTTL)

	if sig := s.Images.Signatures; sig != nil {
		if len(sig.Keys) == 0 {
			return nil, fieldErr("spec.images.signatures.keys", "at least one key is required")
		}
		for i, k := range sig.Keys {
			field := fmt.Sprintf("spec.images.signatures.keys[%d]", i)
			pk, err := loadKey(k, baseDir)
			if err != nil {
				return nil, fieldErr(field, "%w", err)
			}
			p.keys = append(p.keys, pk)
		}
		p.keysHash = hashKeys(p.keys)
		p.legacyRule = &supplychain.Rule{Name: "signatures", Images: sig.Images, ID: p.keysHash}
		if len(sig.Images) == 0 {
			p.legacyRule.Images = []string{"*"}
		}
		for _, k := range p.keys {
			p.legacyRule.Signers = append(p.legacyRule.Signers, supplychain.Signer{Name: k.Name, Key: k.Key})
		}
	}
	p.verifier = &supplychain.Verifier{}
	if tr := s.Images.TrustedRoot; tr != "" {
		if p.verifier.Root, err = supplychain.ResolveTrustedRoot(string(tr), baseDir, updated); err != nil {
			return nil, fieldErr("spec.images.trustedRoot", "%w", err)
		}
	}
	if len(s.Images.VerifyImages) > 0 {
		// Keys are files (relative to the policy), inline PEM, or
		// k8s:// Secrets read once here, when the policy loads.
		if p.verifyRules, err = supplychain.CompileRules(ctx, s.Images.VerifyImages, baseDir, secrets, p.verifier.Root != nil); err != nil {
			var fe *supplychain.FieldError
			if errors.As(err, &fe) {
				return nil, &fieldError{field: "spec.images." + fe.Path, label: "spec.images." + fe.Label, err: fe.Err}
			}
			return nil, fieldErr("spec.images", "%w", err)
		}
	}
	if v := s.Images.Vulnerabilities; v != nil {
		if p.vulnSeverity, err = finding.ParseSeverity(v.Severity); err != nil || p.vulnSeverity == finding.SeverityUnknown {
			return nil, fieldErr("spec.images.vulnerabilities.severity", "must be CRITICAL, HIGH, MEDIUM or LOW, not %q", v.Severity)
		}
		if !validFailure(v.FailurePolicy) {
			return nil, fieldErr("spec.images.vulnerabilities.failurePolicy", "must be Fail or Ignore, not %q", v.FailurePolicy)
		}
		p.vulnGate = finding.Gate{Min: p.vulnSeverity, IgnoreUnknown: v.IgnoreUnknownSeverity}
		p.scanTimeout = v.Timeout.or(defaultScanTimeout)
		p.scanFail = orFail(v.FailurePolicy)
	}

	if ex := s.Exemptions; ex != nil {
		p.exemptNS, p.exemptUsers, p.exemptGroups = ex.Namespaces, ex.Users, ex.Groups
		p.breakGlass = ex.BreakGlass != nil && *ex.BreakGlass
		if p.breakGlass && len(ex.BreakGlassGroups) == 0 {
			return nil, fieldErr("spec.exemptions.breakGlassGroups", "must name the groups that may use break-glass when breakGlass is true")
		}
		for i, g := range ex.BreakGlassGroups {
			if strings.TrimSpace(g) == "" {
				return nil, fieldErr(fmt.Sprintf("spec.exemptions.breakGlassGroups[%d]", i), "must not be empty")
			}
		}
		p.breakGlassGroup = ex.BreakGlassGroups
		for i, g := range ex.AnnotationGroups {
			if strings.TrimSpace(g) == "" {
				return nil, fieldErr(fmt.Sprintf("spec.exemptions.annotationGroups[%d]", i), "must not be empty")
			}
		}
		p.annotationGroup = ex.AnnotationGroups
	} else {
		p.exemptNS = []string{"kube-system", DefaultNamespace}
	}
	return p, nil
}

// loadKey reads a PEM public key.
func loadKey(k Key, baseDir string) (PublicKey, error) {
	if strings.TrimSpace(k.Name) == "" {
		return PublicKey{}, fmt.Errorf("name is required")
	}
	data := []byte(k.PEM)
	switch {
	case k.PEM != "" && k.File != "":
		return PublicKey{}, fmt.Errorf("key %s: set pem or file, not both", k.Name)
	case k.File != "" && baseDir == "":
		return PublicKey{}, fmt.Errorf("key %s: a key file cannot be used here; put the key inline (pem)", k.Name)
	case k.File != "":
		path := k.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(baseDir, path)
		}
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return PublicKey{}, fmt.Errorf("key %s: %w", k.Name, err)
		}
	case k.PEM == "":
		return PublicKey{}, fmt.Errorf("key %s: pem or file is required", k.Name)
	}
	pub, err := ParsePublicKey(data)
	if err != nil {
		return PublicKey{}, fmt.Errorf("key %s: %w", k.Name, err)
	}
	return PublicKey{Name: k.Name, Key: pub}, nil
}

// ParsePublicKey reads a PEM "PUBLIC KEY" (PKIX) block holding an ECDSA,
// Ed25519 or RSA (2048 bits or more) key, the formats cosign writes.
func ParsePublicKey(data []byte) (crypto.PublicKey, error) {
	return supplychain.ParsePublicKey(data)
}

// modeFor returns the mode for a rule in a namespace.
func (p *Policy) modeFor(ruleID, namespace string) Mode {
	m := p.mode
	for _, o := range p.overrides {
		if o.Mode == "" || !globAny(o.Namespaces, namespace) {
			continue
		}
		if len(o.Rules) > 0 && !p.ruleMatches(o.Rules, ruleID) {
			continue
		}
		m = o.Mode
	}
	return m
}

// levelFor returns the Pod Security level for a namespace.
func (p *Policy) levelFor(namespace string) string {
	l := p.level
	for _, o := range p.overrides {
		if o.PodSecurityLevel != "" && globAny(o.Namespaces, namespace) {
			l = o.PodSecurityLevel
		}
	}
	return l
}

func (p *Policy) ruleMatches(sels []string, id string) bool {
	return p.rules.Matches(sels, id)
}

// globAny matches s against globs; no globs match everything.
func globAny(globs []string, s string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if rule.MatchID(g, s) {
			return true
		}
	}
	return false
}

func exemptBy(list []string, s string) bool {
	for _, g := range list {
		if rule.MatchID(g, s) {
			return true
		}
	}
	return false
}

// Rules returns the selected rules (for docs and tests).
func (p *Policy) Rules() *rule.Set { return p.rules }
