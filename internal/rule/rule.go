// Package rule defines what a rule is, selects rules by ID glob or tag, and
// evaluates them over an inventory of objects into findings.
//
// A rule is data (ID, severity, title, why it matters, remediation,
// references) plus one pure check function over a normalised object. Checks
// never do I/O and never print; the engine turns their violations into
// findings with file and line, and applies exemptions.
package rule

import (
	"github.com/palisade-sec/palisade/internal/dockerfile"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/workload"
)

// Tags that select groups of rules.
const (
	TagPSSBaseline   = "pss-baseline"
	TagPSSRestricted = "pss-restricted"
	TagHardening     = "hardening"
	TagCustom        = "custom"
	TagDockerfile    = "dockerfile"
	TagCluster       = "cluster"
)

// Rule is one check with its metadata. Exactly one of the check functions is set.
type Rule struct {
	// ID is stable forever: users write it in exemptions and policies.
	ID string
	// Aliases are IDs this rule was known by before a rename or a split
	// (one rule becoming several). Wherever users write a rule ID (--rules,
	// palisade.io/exempt, policy exceptions, baselines), an alias stands for
	// every rule that lists it, so old configuration keeps its meaning. An
	// alias is never the ID of a rule.
	Aliases  []string
	Title    string
	Severity finding.Severity
	// Description says why the rule matters.
	Description string
	// Remediation says how to fix a violation; RemediationYAML shows the fix.
	Remediation     string
	RemediationYAML string
	References      []finding.Reference
	Tags            []string
	// Frameworks maps the rule to CIS, NSA/CISA, MITRE ATT&CK and Pod
	// Security controls (see finding.Frameworks). A rule package may
	// instead keep its mappings in one table keyed by rule ID
	// (frameworks.go), merged in by rules.Builtin.
	Frameworks finding.Frameworks
	// Peers are other tools' equivalent checks; the catalogue fills them
	// from internal/catalog/peers, rule definitions leave them empty.
	Peers []finding.PeerCheck

	// Workload checks a pod template and its owner.
	Workload func(c *Context, w *workload.Workload) []Violation
	// Object checks any other object (a Service, a Namespace ...).
	Object func(c *Context, o *workload.Object) []Violation
	// Dockerfile checks a parsed Dockerfile.
	Dockerfile func(c *Context, f *dockerfile.File) []Violation
	// Inventory checks the inventory as a whole, for findings about
	// relations between objects (such as a namespace with no policy).
	Inventory func(c *Context) []Violation
}

// Violation is one thing a check found wrong.
type Violation struct {
	Message string
	// Severity, when set, replaces the rule's severity for this violation:
	// for a rule whose risk depends on what exactly it found (a restricted
	// Pod Security control that also breaks the baseline).
	Severity finding.Severity
	// Suppression, when set, reports the violation as suppressed for that
	// reason: the check was switched off by configuration in the input
	// (a namespace's Pod Security label), and a reviewer must still see it.
	Suppression *finding.Suppression
	// Field is the path of the offending field in the object, such as
	// "spec.template.spec.containers[0].image"; it locates the line.
	Field     string
	Container string
	// Line overrides the line (Dockerfiles, which have no field paths).
	Line int
	// Object overrides the object the finding is about (Inventory checks).
	Object *workload.Object
	// Namespace names the namespace a cluster-level finding is about.
	Namespace *workload.Namespace
}

// HasTag reports whether the rule carries the tag.
func (r *Rule) HasTag(tag string) bool {
	for _, t := range r.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// Info returns the rule's metadata for outputs.
func (r *Rule) Info() finding.RuleInfo {
	rem := r.Remediation
	if r.RemediationYAML != "" {
		rem += "\n\n" + r.RemediationYAML
	}
	return finding.RuleInfo{ID: r.ID, Title: r.Title, Severity: r.Severity, Description: r.Description,
		Remediation: rem, References: r.References, Tags: r.Tags, Aliases: r.Aliases,
		Frameworks: r.Frameworks, Peers: r.Peers}
}
