package rules

import (
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/rule"
)

// Markdown renders the reference of every rule in the set: docs/rules.md
// is this output, and a test fails when the two drift apart.
func Markdown(set *rule.Set) string {
	var b strings.Builder
	b.WriteString("# Palisade rules\n\n")
	b.WriteString("<!-- Generated from the rule definitions by `go run ./cmd/palisade rules docs > docs/rules.md`. Do not edit. -->\n\n")
	b.WriteString("Select rules with `--rules` by tag or ID glob; exempt an object with the annotation\n")
	b.WriteString("`palisade.io/exempt: \"<rule-id>[,<rule-id>]: <reason>\"` or with a policy-file exception.\n\n")
	b.WriteString("| ID | Severity | Tags | Title |\n|---|---|---|---|\n")
	for _, r := range set.Rules() {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s | %s |\n", r.ID, anchor(r.ID), r.Severity, strings.Join(r.Tags, ", "), r.Title)
	}
	for _, r := range set.Rules() {
		fmt.Fprintf(&b, "\n## %s\n\n", r.ID)
		fmt.Fprintf(&b, "**%s** · severity %s · tags %s\n\n", r.Title, r.Severity, strings.Join(r.Tags, ", "))
		fmt.Fprintf(&b, "%s\n\n", r.Description)
		fmt.Fprintf(&b, "**Remediation.** %s\n", r.Remediation)
		if r.RemediationYAML != "" {
			lang := "yaml"
			if r.HasTag(rule.TagDockerfile) {
				lang = "dockerfile"
			}
			fmt.Fprintf(&b, "\n```%s\n%s\n```\n", lang, strings.TrimRight(r.RemediationYAML, "\n"))
		}
		if len(r.References) > 0 {
			b.WriteString("\n**References.**\n")
			for _, ref := range r.References {
				if ref.URL != "" {
					fmt.Fprintf(&b, "- [%s](%s)\n", ref.Title, ref.URL)
				} else {
					fmt.Fprintf(&b, "- %s\n", ref.Title)
				}
			}
		}
	}
	return b.String()
}

// anchor is the GitHub heading anchor of a rule ID.
func anchor(id string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(id) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		}
	}
	return b.String()
}
