// Package catalog is the one registry of every analyser's checks: the
// workload, Dockerfile, cluster and RBAC rules, the node audit checks,
// the audit-log detections, the encryption and network-policy findings
// and the runtime sensor's detections. Each analyser keeps its
// own check type and pure check function; the catalogue reads each
// analyser's exported check list through a small adapter into the one
// metadata shape, finding.RuleInfo, with the analyser's name, its
// framework mappings and its peers' IDs. `palisade rules`, docs/rules.md,
// docs/coverage.md, --rules selection and compliance scores read it.
package catalog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/auditlog"
	"github.com/palisade-sec/palisade/internal/catalog/peers"
	"github.com/palisade-sec/palisade/internal/encryption"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/netpol"
	"github.com/palisade-sec/palisade/internal/nodeaudit"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/rules"
	rt "github.com/palisade-sec/palisade/internal/runtime"
)

// Analysers, as Check.Analyser names them.
const (
	AnalyserWorkload   = "workload"
	AnalyserDockerfile = "dockerfile"
	AnalyserCluster    = "cluster"
	AnalyserRBAC       = "rbac"
	AnalyserNode       = "node"
	AnalyserAudit      = "audit"
	AnalyserEncryption = "encryption"
	AnalyserNetpol     = "netpol"
	AnalyserRuntime    = "runtime"
)

// Check is one check of the catalogue: its metadata and, for the docs,
// the fix as a code block.
type Check struct {
	finding.RuleInfo
	// Fix is a snippet showing the fix, in FixLang (yaml, dockerfile).
	Fix     string
	FixLang string
}

// Catalog holds every check, sorted by ID, and the peers' lists.
type Catalog struct {
	checks []*Check
	byID   map[string]*Check
	Peers  []*peers.File
}

// Load builds the catalogue from the built-in checks of every analyser.
func Load() (*Catalog, error) {
	files, err := peers.Load()
	if err != nil {
		return nil, fmt.Errorf("peer checks: %w", err)
	}
	byPeer := peers.ByCheck(files)
	set, err := rules.Builtin()
	if err != nil {
		return nil, err
	}
	var all []*Check
	add := func(analyser string, info finding.RuleInfo, fix, lang string) {
		info.Analyser = analyser
		if info.Peers == nil {
			info.Peers = byPeer[info.ID]
		}
		all = append(all, &Check{RuleInfo: info, Fix: fix, FixLang: lang})
	}
	for _, r := range set.Rules() {
		info := r.Info()
		info.Remediation = r.Remediation
		lang := "yaml"
		if r.Dockerfile != nil {
			lang = "dockerfile"
		}
		add(ruleAnalyser(r), info, r.RemediationYAML, lang)
	}
	nodeMaps := nodeFrameworks()
	for _, c := range nodeaudit.Checks() {
		info := c.Info()
		info.Frameworks = info.Frameworks.Merge(finding.Frameworks{CIS: cisSections(c.CIS)}).Merge(nodeMaps[c.ID])
		add(AnalyserNode, info, "", "")
	}
	for _, d := range auditlog.Detections() {
		add(AnalyserAudit, d.Info(), "", "")
	}
	for _, r := range encryption.Rules() {
		add(AnalyserEncryption, r.Info(), "", "")
	}
	for _, info := range netpol.Rules() {
		add(AnalyserNetpol, info, "", "")
	}
	for _, info := range rt.Rules() {
		add(AnalyserRuntime, info, "", "")
	}
	return New(all, files)
}

// New builds a catalogue from checks; duplicate or empty IDs are an error.
func New(checks []*Check, files []*peers.File) (*Catalog, error) {
	c := &Catalog{byID: map[string]*Check{}, Peers: files}
	for _, ch := range checks {
		if ch.ID == "" {
			return nil, fmt.Errorf("check %q (%s): empty ID", ch.Title, ch.Analyser)
		}
		if prev, dup := c.byID[ch.ID]; dup {
			return nil, fmt.Errorf("check %s: defined by both the %s and the %s analyser", ch.ID, prev.Analyser, ch.Analyser)
		}
		c.byID[ch.ID] = ch
		c.checks = append(c.checks, ch)
	}
	sort.Slice(c.checks, func(i, j int) bool { return c.checks[i].ID < c.checks[j].ID })
	return c, nil
}

// ruleAnalyser tells which analyser runs a rule of the rule engine.
func ruleAnalyser(r *rule.Rule) string {
	switch {
	case r.Dockerfile != nil:
		return AnalyserDockerfile
	case r.HasTag("rbac"):
		return AnalyserRBAC
	case r.HasTag(rule.TagCluster):
		return AnalyserCluster
	}
	return AnalyserWorkload
}

// cisSections keeps the section numbers of a node check's CIS list
// ("4.2.6 (v1.8)" is section 4.2.6).
func cisSections(in []string) []string {
	var out []string
	for _, s := range in {
		if f := strings.Fields(s); len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out
}

// Checks returns every check, sorted by ID.
func (c *Catalog) Checks() []*Check { return c.checks }

// Get returns a check by ID.
func (c *Catalog) Get(id string) (*Check, bool) {
	ch, ok := c.byID[id]
	return ch, ok
}

// ByAlias returns the checks a former ID now stands for.
func (c *Catalog) ByAlias(alias string) []*Check {
	var out []*Check
	for _, ch := range c.checks {
		for _, a := range ch.Aliases {
			if a == alias {
				out = append(out, ch)
			}
		}
	}
	return out
}

// Select keeps the checks any selector designates, with the semantics of
// rule.Set.Select (tags, ID globs, former IDs, framework and peer
// selectors, "-" to remove) and the analyser's name as one more tag
// ("node", "audit"). A selector matching nothing is an error.
func (c *Catalog) Select(selectors []string) ([]*Check, error) {
	keep, err := rule.SelectWith(len(c.checks), selectors, func(i int, sel string) bool {
		return Matches(&c.checks[i].RuleInfo, sel)
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Check, 0, len(keep))
	for _, i := range keep {
		out = append(out, c.checks[i])
	}
	return out, nil
}

// Matches reports whether a selector designates a check of any analyser.
func Matches(info *finding.RuleInfo, sel string) bool {
	if sel == info.Analyser || rule.MatchID(sel, info.ID) {
		return true
	}
	for _, t := range info.Tags {
		if t == sel {
			return true
		}
	}
	for _, a := range info.Aliases {
		if rule.MatchID(sel, a) {
			return true
		}
	}
	return rule.MatchMapping(sel, info.Frameworks, info.Peers)
}
