package rule

import (
	"fmt"
	"sync"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/imageref"
	"github.com/palisade-sec/palisade/internal/workload"
)

// Pod Security levels, as written in namespace labels.
const (
	LevelPrivileged = "privileged"
	LevelBaseline   = "baseline"
	LevelRestricted = "restricted"
)

// Settings are the user's choices that rules read.
type Settings struct {
	// DefaultPSSLevel applies to namespaces without an enforce label.
	DefaultPSSLevel string
	// AllowedRegistries are registry host globs (e.g. "registry.example.com",
	// "*.gcr.io"); empty means every registry is allowed.
	AllowedRegistries []string
}

// Context is what a check may read besides the object it checks. It is
// read-only during evaluation.
type Context struct {
	Inventory *workload.Inventory
	Settings  Settings
	selected  *Set
	images    *sync.Map // image reference → imageRefResult; shared by ForInventory
	podSec    sync.Map  // namespace → PodSecurity
}

type imageRefResult struct {
	ref imageref.Ref
	err error
}

// Image parses an image reference once per evaluation (and the batches of
// one scan, see ForInventory): several rules look at every container's
// image, and the same images recur across workloads.
func (c *Context) Image(s string) (imageref.Ref, error) {
	if c.images == nil { // a Context not made by NewContext
		return imageref.Parse(s)
	}
	if v, ok := c.images.Load(s); ok {
		r := v.(imageRefResult)
		return r.ref, r.err
	}
	ref, err := imageref.Parse(s)
	c.images.Store(s, imageRefResult{ref: ref, err: err})
	return ref, err
}

// NewContext prepares a context for evaluating the selected rules.
func NewContext(inv *workload.Inventory, settings Settings, selected *Set) *Context {
	if settings.DefaultPSSLevel == "" {
		settings.DefaultPSSLevel = LevelRestricted
	}
	if inv == nil {
		inv = workload.NewInventory()
	}
	return &Context{Inventory: inv, Settings: settings, selected: selected, images: new(sync.Map)}
}

// ForInventory returns a context for another inventory of the same scan
// (a batch of its workloads): the same settings and rules, and the same
// parsed image references, which depend on the reference alone, so that
// an image recurring across batches is parsed once (on 10,000 workloads
// parsing was ~7% of a scan's CPU). Pod Security is looked up afresh,
// from the new inventory's namespaces.
func (c *Context) ForInventory(inv *workload.Inventory) *Context {
	b := NewContext(inv, c.Settings, c.selected)
	b.images = c.images
	return b
}

// Selected reports whether a rule ID is part of this evaluation, for rules
// that defer to a stricter rule when it also runs.
func (c *Context) Selected(id string) bool {
	if c.selected == nil {
		return true
	}
	_, ok := c.selected.Get(id)
	return ok
}

// PSSLevel returns the Pod Security level that applies in a namespace: its
// enforce label when the input declares the namespace with one, otherwise
// the default. An unknown label value counts as restricted, as the
// admission controller treats an invalid level as the strictest.
func (c *Context) PSSLevel(namespace string) (level string, fromLabel bool) {
	if v, ok := c.Inventory.PolicyLevelLabel(namespace, "enforce"); ok {
		switch v {
		case LevelPrivileged, LevelBaseline, LevelRestricted:
			return v, true
		}
		return LevelRestricted, true
	}
	return c.Settings.DefaultPSSLevel, false
}

// SuppressionNamespacePolicy marks findings that a namespace's
// pod-security.kubernetes.io/enforce: privileged label switches off.
const SuppressionNamespacePolicy = "namespace-policy"

// PodSecurity is how Pod Security applies to one workload's namespace.
type PodSecurity struct {
	// Level is the level the workload is held to.
	Level string
	// Source says where the level comes from, for messages.
	Source string
	// Suppression is set when the namespace's enforce label is privileged:
	// the label is honoured, but a change that adds it (or moves a
	// workload into such a namespace) must not make findings vanish
	// unseen, so the default level's findings are reported, suppressed
	// with the label as the reason.
	Suppression *finding.Suppression
}

// PodSecurityFor returns how Pod Security applies in a namespace, for the
// Pod Security controls and the rules that take over part of them.
// It is computed once per namespace and evaluation (every Pod Security
// rule asks for every workload); findings may share the Suppression it
// returns, which nobody modifies.
func (c *Context) PodSecurityFor(namespace string) PodSecurity {
	if v, ok := c.podSec.Load(namespace); ok {
		return v.(PodSecurity)
	}
	ps := c.podSecurityFor(namespace)
	c.podSec.Store(namespace, ps)
	return ps
}

func (c *Context) podSecurityFor(namespace string) PodSecurity {
	level, fromLabel := c.PSSLevel(namespace)
	switch {
	case fromLabel && level == LevelPrivileged:
		return PodSecurity{Level: c.Settings.DefaultPSSLevel,
			Source: "default level; switched off by the namespace's privileged enforce label",
			Suppression: &finding.Suppression{Kind: SuppressionNamespacePolicy,
				Reason: fmt.Sprintf("namespace %s enforces the privileged Pod Security level", namespace)}}
	case fromLabel:
		return PodSecurity{Level: level, Source: "namespace enforce label"}
	}
	return PodSecurity{Level: level, Source: "default level"}
}

// Applies reports whether a control of the given level (baseline or
// restricted) is enforced at this level.
func (p PodSecurity) Applies(control string) bool {
	switch p.Level {
	case LevelRestricted:
		return true
	case LevelBaseline:
		return control == LevelBaseline
	}
	return false
}
