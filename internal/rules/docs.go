package rules

import (
	"fmt"
	"sort"
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
	b.WriteString("`palisade.io/exempt: \"<rule-id>[,<rule-id>]: <reason>\"` (on the object, its pod template, or both)\n")
	b.WriteString("or with a policy-file exception.\n\n")
	aliases := map[string][]string{}
	var former []string
	for _, r := range set.Rules() {
		for _, a := range r.Aliases {
			if aliases[a] == nil {
				former = append(former, a)
			}
			aliases[a] = append(aliases[a], r.ID)
		}
	}
	if len(former) > 0 {
		sort.Strings(former)
		b.WriteString("## Former rule IDs\n\n")
		b.WriteString("A rule that was renamed or split keeps its former ID as an alias. Wherever you write a rule ID\n")
		b.WriteString("(`--rules`, `palisade.io/exempt`, policy-file exceptions and overrides, baseline files) a former ID\n")
		b.WriteString("stands for every rule listed beside it, so existing configuration keeps its meaning.\n\n")
		b.WriteString("| Former ID | Now |\n|---|---|\n")
		for _, a := range former {
			var now []string
			for _, id := range aliases[a] {
				now = append(now, fmt.Sprintf("[`%s`](#%s)", id, anchor(id)))
			}
			fmt.Fprintf(&b, "| `%s` | %s |\n", a, strings.Join(now, ", "))
		}
		b.WriteString("\n## Rules\n\n")
	}
	b.WriteString("| ID | Severity | Tags | Title |\n|---|---|---|---|\n")
	for _, r := range set.Rules() {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s | %s |\n", r.ID, anchor(r.ID), r.Severity, strings.Join(r.Tags, ", "), r.Title)
	}
	for _, r := range set.Rules() {
		fmt.Fprintf(&b, "\n## %s\n\n", r.ID)
		fmt.Fprintf(&b, "**%s** · severity %s · tags %s", r.Title, r.Severity, strings.Join(r.Tags, ", "))
		if len(r.Aliases) > 0 {
			fmt.Fprintf(&b, " · former ID %s", "`"+strings.Join(r.Aliases, "`, `")+"`")
		}
		b.WriteString("\n\n")
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
