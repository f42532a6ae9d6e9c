package supplychain

import (
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
)

// Rule IDs of verification findings.
const (
	RuleSignature   = "supplychain/signature"
	RuleAttestation = "supplychain/attestation"
)

// RuleInfos describe the verification rules for reports.
var RuleInfos = []finding.RuleInfo{
	{
		ID: RuleSignature, Title: "Image signature not verified", Severity: finding.SeverityHigh,
		Description: "The image carries no signature that verifies for the policy's signers: nobody the policy trusts vouches for this digest.",
		Remediation: "Sign the image digest with a trusted key or in a trusted CI identity (cosign sign), or fix the policy's signers.",
		References:  []finding.Reference{{Title: "Sigstore: verifying signatures", URL: "https://docs.sigstore.dev/cosign/verifying/verify/"}},
		Tags:        []string{"supply-chain"},
	},
	{
		ID: RuleAttestation, Title: "Required attestation missing or not satisfied", Severity: finding.SeverityHigh,
		Description: "An attestation the policy requires (SLSA provenance, SBOM, VEX, vulnerability scan) is absent, not signed by a trusted signer, or its predicate fails the policy's conditions.",
		Remediation: "Attach the attestation from the trusted builder (cosign attest --predicate … --type …), or fix the policy.",
		References:  []finding.Reference{{Title: "SLSA provenance v1", URL: "https://slsa.dev/spec/v1.0/provenance"}},
		Tags:        []string{"supply-chain"},
	},
}

// Outcome is one image's verification for a report: its decision, or the
// error that prevented one.
type Outcome struct {
	Image    string
	Decision *Decision
	Err      error
}

// Report turns outcomes into the shared report: a HIGH finding per failed
// requirement, a note per verified one, and an error (exit 2) when an
// image could not be checked or had no evidence at all: never a false
// clean.
func Report(outcomes []Outcome) *finding.Report {
	var fs []finding.Finding
	var ps []finding.Problem
	for _, o := range outcomes {
		obj := finding.ObjectRef{Kind: "Image", Name: o.Image}
		if o.Err != nil {
			ps = append(ps, finding.Problem{File: o.Image, Level: finding.LevelError, Message: o.Err.Error()})
			continue
		}
		d := o.Decision
		if !strings.Contains(o.Image, "@") {
			obj.Name = o.Image + "@" + d.Digest
		}
		for _, u := range d.Unreadable {
			ps = append(ps, finding.Problem{File: o.Image, Level: finding.LevelWarning, Message: "evidence not understood: " + u})
		}
		if d.Evidence[KindSignature]+d.Evidence[KindAttestation] == 0 {
			ps = append(ps, finding.Problem{File: o.Image, Level: finding.LevelError,
				Message: fmt.Sprintf("nothing to verify: no signature or attestation is attached to %s (rule %s)", d.Digest, d.Rule)})
		}
		for _, c := range d.Checks {
			if c.OK {
				ps = append(ps, finding.Problem{File: o.Image, Level: finding.LevelNote,
					Message: fmt.Sprintf("verified %s: signed by %s (%s)", c.Requirement, c.Signer, c.Evidence)})
				continue
			}
			id, info := RuleSignature, RuleInfos[0]
			if strings.HasPrefix(c.Requirement, "attestation") {
				id, info = RuleAttestation, RuleInfos[1]
			}
			fs = append(fs, finding.Finding{
				RuleID: id, Severity: info.Severity, Title: info.Title, Object: obj,
				Message:     fmt.Sprintf("rule %s: %s: %s", d.Rule, c.Requirement, c.Reason),
				Remediation: info.Remediation,
			})
		}
	}
	var rules []finding.RuleInfo
	seen := map[string]bool{}
	for _, f := range fs {
		if !seen[f.RuleID] {
			seen[f.RuleID] = true
			for _, ri := range RuleInfos {
				if ri.ID == f.RuleID {
					rules = append(rules, ri)
				}
			}
		}
	}
	return finding.NewReport(fs, ps, len(outcomes), rules)
}
