package catalog

import (
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/catalog/frameworks"
	"github.com/palisade-sec/palisade/internal/finding"
)

func load(t *testing.T) *Catalog {
	t.Helper()
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEveryAnalyserIsInTheCatalogue(t *testing.T) {
	c := load(t)
	count := map[string]int{}
	for _, ch := range c.Checks() {
		count[ch.Analyser]++
	}
	for _, a := range []string{AnalyserWorkload, AnalyserDockerfile, AnalyserCluster, AnalyserRBAC, AnalyserNode, AnalyserAudit, AnalyserEncryption, AnalyserNetpol, AnalyserRuntime} {
		if count[a] == 0 {
			t.Errorf("no check of the %s analyser", a)
		}
	}
}

// TestEveryCheckHasMetadata: what `rules show` and the docs print.
func TestEveryCheckHasMetadata(t *testing.T) {
	for _, ch := range load(t).Checks() {
		var missing []string
		if ch.Title == "" {
			missing = append(missing, "title")
		}
		if ch.Description == "" {
			missing = append(missing, "description")
		}
		if ch.Remediation == "" {
			missing = append(missing, "remediation")
		}
		if ch.Severity == finding.SeverityUnknown {
			missing = append(missing, "severity")
		}
		if !strings.HasPrefix(ch.ID, ch.Analyser+"/") && !knownPrefix(ch) {
			missing = append(missing, "an ID prefixed by its package")
		}
		if len(missing) > 0 {
			t.Errorf("%s (%s): no %s", ch.ID, ch.Analyser, strings.Join(missing, ", "))
		}
	}
}

// knownPrefix: workload rules live in pss/ and hardening/ (and the rule
// packages rules18 adds); the runtime detections kept the PAL-RT- IDs they
// were released with; every other analyser prefixes its own name.
func knownPrefix(ch *Check) bool {
	if ch.Analyser == AnalyserRuntime {
		return strings.HasPrefix(ch.ID, "PAL-RT-")
	}
	prefix, _, _ := strings.Cut(ch.ID, "/")
	return ch.Analyser == AnalyserWorkload && prefix != "" && prefix != ch.ID
}

// TestEveryCheckHasAFrameworkMapping: a security check that no framework
// cites is either mis-mapped or not a security check (tag it reliability,
// or kube-linter for kube-linter's opt-in conventions).
func TestEveryCheckHasAFrameworkMapping(t *testing.T) {
	for _, ch := range load(t).Checks() {
		if ch.Frameworks.IsZero() && !hasTag(ch, "reliability") && !hasTag(ch, "kube-linter") {
			t.Errorf("%s: no CIS, NSA, MITRE or PSS mapping (add one to its package's frameworks table)", ch.ID)
		}
	}
}

// TestMappingsNameDefinedControls: every mapped ID is a control of its
// framework, so a typo never drops a check from a compliance report.
func TestMappingsNameDefinedControls(t *testing.T) {
	fws := map[string]*frameworks.Framework{}
	for _, id := range []string{"cis", "nsa", "mitre", "pss-restricted"} {
		f, err := frameworks.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		fws[f.Mapping] = f
	}
	for _, ch := range load(t).Checks() {
		for mapping, ids := range map[string][]string{"cis": ch.Frameworks.CIS, "nsa": ch.Frameworks.NSA, "mitre": ch.Frameworks.MITRE, "pss": ch.Frameworks.PSS} {
			for _, id := range ids {
				if fws[mapping].Control(id) == nil {
					t.Errorf("%s: %s control %q is not defined in internal/catalog/frameworks", ch.ID, mapping, id)
				}
			}
		}
	}
}

// TestFrameworkChecksExist: controls that list checks (edge) name real ones.
func TestFrameworkChecksExist(t *testing.T) {
	c := load(t)
	all, err := frameworks.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range all {
		for _, ctl := range f.Controls {
			for _, id := range ctl.Checks {
				if _, ok := c.Get(id); !ok {
					t.Errorf("framework %s control %s: no check %q", f.ID, ctl.ID, id)
				}
			}
		}
	}
}

func TestNodeMappingsNameChecks(t *testing.T) {
	c := load(t)
	for id := range nodeFrameworks() {
		if ch, ok := c.Get(id); !ok || ch.Analyser != AnalyserNode {
			t.Errorf("node framework mapping for %s: no such node check", id)
		}
	}
}

// TestPeersNameKnownChecks: every Palisade ID in a peers file, and every
// covered-by reason, names a check of the catalogue.
func TestPeersNameKnownChecks(t *testing.T) {
	c := load(t)
	for _, f := range c.Peers {
		for _, pc := range f.Checks {
			ids := append([]string{}, pc.Palisade...)
			if id := pc.CoveredBy(); id != "" {
				ids = append(ids, id)
			}
			for _, id := range ids {
				if _, ok := c.Get(id); !ok {
					t.Errorf("%s:%d: %s %s names %q, which is no Palisade check", f.Name, pc.Line, f.Tool, pc.ID, id)
				}
			}
		}
	}
}

// TestPeersFrameworksCarriedOver: a Palisade check that implements a peer
// check filed under a framework (Kubescape's controls list NSA, MITRE,
// CIS) carries a mapping in that framework too.
func TestPeersFrameworksCarriedOver(t *testing.T) {
	c := load(t)
	for _, f := range c.Peers {
		for _, pc := range f.Checks {
			for _, id := range pc.Palisade {
				ch, ok := c.Get(id)
				if !ok {
					continue // TestPeersNameKnownChecks reports it
				}
				for _, fw := range pc.Frameworks {
					if len(mapped(ch.Frameworks, fw)) == 0 {
						t.Errorf("%s: implements %s %s, which %s files under %s, but has no %s mapping", id, f.Tool, pc.ID, f.Tool, fw, fw)
					}
				}
			}
		}
	}
}

func TestDuplicateIDsAreAnError(t *testing.T) {
	a := &Check{RuleInfo: finding.RuleInfo{ID: "x/a", Analyser: "node"}}
	b := &Check{RuleInfo: finding.RuleInfo{ID: "x/a", Analyser: "audit"}}
	if _, err := New([]*Check{a, b}, nil); err == nil || !strings.Contains(err.Error(), "node") {
		t.Errorf("err = %v", err)
	}
}

func TestSelectAcrossAnalysers(t *testing.T) {
	c := load(t)
	for _, tc := range []struct {
		sel      string
		analyser string
	}{
		{"node", AnalyserNode},
		{"audit/*", AnalyserAudit},
		{"cis-1.2.1*", AnalyserNode},
		{"mitre:T1070", ""},
	} {
		got, err := c.Select([]string{tc.sel})
		if err != nil || len(got) == 0 {
			t.Errorf("%s: %d checks, %v", tc.sel, len(got), err)
			continue
		}
		for _, ch := range got {
			if tc.analyser != "" && ch.Analyser != tc.analyser {
				t.Errorf("%s selected %s of %s", tc.sel, ch.ID, ch.Analyser)
			}
		}
	}
	if _, err := c.Select([]string{"ksv-9999"}); err == nil {
		t.Error("an unknown selector selected something")
	}
}

func hasTag(ch *Check, tag string) bool {
	for _, t := range ch.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

func mapped(f finding.Frameworks, name string) []string {
	switch name {
	case "cis":
		return f.CIS
	case "nsa":
		return f.NSA
	case "mitre":
		return f.MITRE
	case "pss":
		return f.PSS
	}
	return nil
}
