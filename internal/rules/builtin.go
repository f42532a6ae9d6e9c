// Package rules assembles Palisade's built-in rule set from the rule
// packages below it (pss, hardening, dockerfile) and the user's custom
// rules.
package rules

import (
	"fmt"

	"github.com/palisade-sec/palisade/internal/catalog/peers"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
	clusterrules "github.com/palisade-sec/palisade/internal/rules/cluster"
	dockerfilerules "github.com/palisade-sec/palisade/internal/rules/dockerfile"
	"github.com/palisade-sec/palisade/internal/rules/hardening"
	"github.com/palisade-sec/palisade/internal/rules/pss"
	rbacrules "github.com/palisade-sec/palisade/internal/rules/rbac"
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
	if err := annotate(all, pss.Frameworks(), hardening.Frameworks(), dockerfilerules.Frameworks(),
		clusterrules.Frameworks(), rbacrules.Frameworks()); err != nil {
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
// internal/catalog/peers. A table entry for no rule is an error, so a
// renamed rule cannot silently lose its mapping.
func annotate(all []*rule.Rule, tables ...map[string]finding.Frameworks) error {
	files, err := peers.Load()
	if err != nil {
		return fmt.Errorf("peer checks: %w", err)
	}
	byCheck := peers.ByCheck(files)
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
