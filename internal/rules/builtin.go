// Package rules assembles Palisade's built-in rule set from the rule
// packages below it (pss, hardening, dockerfile, cluster, rbac,
// reliability) and the user's custom rules.
package rules

import (
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/catalog/peers"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	clusterrules "github.com/palisade-sec/palisade/internal/rules/cluster"
	dockerfilerules "github.com/palisade-sec/palisade/internal/rules/dockerfile"
	"github.com/palisade-sec/palisade/internal/rules/hardening"
	"github.com/palisade-sec/palisade/internal/rules/pss"
	rbacrules "github.com/palisade-sec/palisade/internal/rules/rbac"
	"github.com/palisade-sec/palisade/internal/rules/reliability"
)

// Builtin returns every built-in rule.
func Builtin() (*rule.Set, error) {
	pssRules, err := pss.Rules()
	if err != nil {
		return nil, err
	}
	all := append(pssRules, hardening.Rules()...)
	all = append(all, dockerfilerules.Rules()...)
	all = append(all, clusterrules.Rules()...)
	all = append(all, rbacrules.Rules()...)
	all = append(all, reliability.Rules()...)
	all = append(all, reliability.KubeLinterRules()...)
	if err := annotate(all, pss.Frameworks(), hardening.Frameworks(), dockerfilerules.Frameworks(),
		clusterrules.Frameworks(), rbacrules.Frameworks(), reliability.Frameworks()); err != nil {
		return nil, err
	}
	set, err := rule.NewSet(all...)
	if err != nil {
		return nil, fmt.Errorf("built-in rules: %w", err)
	}
	return set, nil
}

// annotate merges the rule packages' framework tables into the rules'
// own mappings and sets each rule's peer checks from
// internal/catalog/peers (its index generated from the peers' files, so
// that a scan does not decode them at start). A table entry for no rule
// is an error, so a renamed rule cannot silently lose its mapping.
func annotate(all []*rule.Rule, tables ...map[string]finding.Frameworks) error {
	byCheck := peers.BuiltinByCheck()
	known := map[string]*rule.Rule{}
	for _, r := range all {
		known[r.ID] = r
		r.Peers = byCheck[r.ID]
	}
	for _, t := range tables {
		for id, m := range t {
			r, ok := known[id]
			if !ok {
				return fmt.Errorf("framework mapping for %s: no such rule", id)
			}
			r.Frameworks = r.Frameworks.Merge(m)
		}
	}
	return nil
}

// DefaultSelectors completes the rule selectors a user gave (--rules, a
// policy's rules) with what the default security gate leaves out: when no
// selector names rules to include, only removals or none at all, the
// reliability rules and kube-linter's opt-in checks are removed, so that
// "every rule" means every security rule and the others appear only when
// asked for (--rules reliability, --rules kube-linter, or a rule's ID or
// peer check ID).
func DefaultSelectors(selectors []string) []string {
	for _, sel := range selectors {
		for _, part := range strings.Split(sel, ",") {
			if p := strings.TrimSpace(part); p != "" && !strings.HasPrefix(p, "-") {
				return selectors
			}
		}
	}
	return append(append([]string{}, selectors...), "-"+reliability.Tag, "-"+reliability.TagKubeLinter)
}

// Default returns the built-in rules of the default security gate: every
// built-in rule but the reliability and opt-in kube-linter ones (see
// DefaultSelectors).
func Default() (*rule.Set, error) {
	all, err := Builtin()
	if err != nil {
		return nil, err
	}
	return all.Select(DefaultSelectors(nil))
}
