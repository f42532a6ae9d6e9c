// Package rules assembles Palisade's built-in rule set from the rule
// packages below it (pss, hardening, dockerfile) and the user's custom
// rules.
package rules

import (
	"fmt"

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
	set, err := rule.NewSet(all...)
	if err != nil {
		return nil, fmt.Errorf("built-in rules: %w", err)
	}
	return set, nil
}
