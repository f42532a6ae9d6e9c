package encryption

import (
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rule"
)

// ruleFrameworks maps each rule of this package to the frameworks'
// controls (see finding.Frameworks); Rules applies it.
func ruleFrameworks() map[string]finding.Frameworks {
	nsa := []string{"network.secrets"}
	creds := []string{"T1552"}
	return map[string]finding.Frameworks{
		RulePlaintext:       {CIS: []string{"1.2.27"}, NSA: nsa, MITRE: creds},
		RuleStaleKey:        {NSA: nsa},
		RuleUnknownEncoding: {NSA: nsa},
		RuleNotConfigured:   {CIS: []string{"1.2.27"}, NSA: nsa, MITRE: creds},
		RuleIdentityFirst:   {CIS: []string{"1.2.28"}, NSA: nsa, MITRE: creds},
		RuleWeakProvider:    {CIS: []string{"1.2.28"}, NSA: nsa},
		RuleKeyAge:          {NSA: nsa},
		RuleNotCovered:      {CIS: []string{"1.2.28"}, NSA: nsa, MITRE: creds},
		RuleInvalidKey:      {NSA: nsa},
		RuleNotVerified:     {NSA: nsa},
	}
}

// Rules lists the metadata of every rule this package reports.
func Rules() []rule.Rule {
	out := ruleList()
	t := ruleFrameworks()
	for i := range out {
		out[i].Frameworks = out[i].Frameworks.Merge(t[out[i].ID])
	}
	return out
}
