package catalog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/catalog/peers"
	"github.com/palisade-sec/palisade/internal/finding"
)

// Markdown renders the reference of every check of every analyser:
// docs/rules.md is this output, and a test fails when the two drift apart.
func Markdown(c *Catalog) string {
	var b strings.Builder
	b.WriteString("# Palisade rules\n\n")
	b.WriteString("<!-- Generated from the check definitions by `go run ./cmd/palisade rules docs > docs/rules.md`. Do not edit. -->\n\n")
	b.WriteString("Every check of every analyser: workload and Dockerfile rules (`scan config`, `scan cluster`, admission),\n")
	b.WriteString("cluster and RBAC rules, node audit checks (`node audit`), audit-log detections (`audit analyze`),\n")
	b.WriteString("encryption at rest (`cluster encryption`) and network-policy findings (`netpol analyze`).\n\n")
	b.WriteString("Select checks with `--rules` by tag, ID glob, framework (`cis-5.2.*`, `nsa`, `mitre:T1611`,\n")
	b.WriteString("`pss:baseline/*`) or a peer tool's ID (`ksv-0017`, `C-0057`); exempt an object with the annotation\n")
	b.WriteString("`palisade.io/exempt: \"<rule-id>[,<rule-id>]: <reason>\"` (on the object, its pod template, or both)\n")
	b.WriteString("or with a policy-file exception. See docs/frameworks.md for compliance scores and\n")
	b.WriteString("docs/coverage.md for every peer tool's checks.\n\n")
	aliases := map[string][]string{}
	var former []string
	for _, ch := range c.checks {
		for _, a := range ch.Aliases {
			if aliases[a] == nil {
				former = append(former, a)
			}
			aliases[a] = append(aliases[a], ch.ID)
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
				now = append(now, link(id))
			}
			fmt.Fprintf(&b, "| `%s` | %s |\n", a, strings.Join(now, ", "))
		}
		b.WriteString("\n")
	}
	b.WriteString("## Rules\n\n")
	b.WriteString("| ID | Analyser | Severity | Tags | Title |\n|---|---|---|---|---|\n")
	for _, ch := range c.checks {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", link(ch.ID), ch.Analyser, ch.Severity, strings.Join(ch.Tags, ", "), ch.Title)
	}
	for _, ch := range c.checks {
		fmt.Fprintf(&b, "\n## %s\n\n", ch.ID)
		fmt.Fprintf(&b, "**%s** · %s · severity %s · tags %s", ch.Title, ch.Analyser, ch.Severity, strings.Join(ch.Tags, ", "))
		if len(ch.Aliases) > 0 {
			fmt.Fprintf(&b, " · former ID %s", "`"+strings.Join(ch.Aliases, "`, `")+"`")
		}
		b.WriteString("\n\n")
		fmt.Fprintf(&b, "%s\n\n", ch.Description)
		fmt.Fprintf(&b, "**Remediation.** %s\n", ch.Remediation)
		if ch.Fix != "" {
			fmt.Fprintf(&b, "\n```%s\n%s\n```\n", ch.FixLang, strings.TrimRight(ch.Fix, "\n"))
		}
		if lines := FrameworkLines(ch.Frameworks); len(lines) > 0 {
			b.WriteString("\n**Frameworks.** " + strings.Join(lines, " · ") + "\n")
		}
		if len(ch.Peers) > 0 {
			b.WriteString("\n**Equivalent checks.** " + PeerLine(ch.Peers) + "\n")
		}
		if len(ch.References) > 0 {
			b.WriteString("\n**References.**\n")
			for _, ref := range ch.References {
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

// FrameworkLines renders a check's mappings, one entry per framework.
func FrameworkLines(f finding.Frameworks) []string {
	var out []string
	for _, m := range []struct {
		name string
		ids  []string
	}{{"CIS", f.CIS}, {"NSA/CISA", f.NSA}, {"MITRE ATT&CK", f.MITRE}, {"Pod Security", f.PSS}} {
		if len(m.ids) > 0 {
			out = append(out, m.name+" "+strings.Join(m.ids, ", "))
		}
	}
	return out
}

// PeerLine renders peer checks as "trivy KSV-0017, kubescape C-0057".
func PeerLine(ps []finding.PeerCheck) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Tool+" "+p.ID)
	}
	return strings.Join(out, ", ")
}

// Coverage renders docs/coverage.md: per peer tool, every check it
// documents, with the Palisade checks that implement it or the reason
// none does.
func Coverage(c *Catalog) string {
	var b strings.Builder
	b.WriteString("# Coverage of other tools' checks\n\n")
	b.WriteString("<!-- Generated from internal/catalog/peers by `go run ./cmd/palisade rules coverage > docs/coverage.md`. Do not edit. -->\n\n")
	b.WriteString("Every check the documentation of each tool below lists, with the Palisade checks that implement\n")
	b.WriteString("it, or why none does (obsolete, cloud-specific, covered by another check, out of scope).\n")
	b.WriteString("`--rules` and exemptions accept these IDs: `--rules ksv-0017` selects the Palisade checks that\n")
	b.WriteString("implement KSV-0017. The lists are in internal/catalog/peers (format in its README.md).\n\n")
	if len(c.Peers) == 0 {
		b.WriteString("No peer tool's checks are listed yet.\n")
		return b.String()
	}
	b.WriteString("| Tool | Checks | Implemented | Not implemented |\n|---|---|---|---|\n")
	for _, f := range c.Peers {
		impl := 0
		for _, pc := range f.Checks {
			if len(pc.Palisade) > 0 {
				impl++
			}
		}
		fmt.Fprintf(&b, "| [%s](#%s) | %d | %d | %d |\n", f.Tool, f.Tool, len(f.Checks), impl, len(f.Checks)-impl)
	}
	for _, f := range c.Peers {
		fmt.Fprintf(&b, "\n## %s\n\nSource: %s\n\n", f.Tool, f.Source)
		b.WriteString("| ID | Title | Palisade |\n|---|---|---|\n")
		for _, pc := range f.Checks {
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", pc.ID, cell(pc.Title), coverageCell(pc))
		}
	}
	return b.String()
}

func coverageCell(pc peers.Check) string {
	if len(pc.Palisade) == 0 {
		if id := pc.CoveredBy(); id != "" {
			_, why, _ := strings.Cut(pc.Reason, ":")
			return "covered by " + link(id) + ":" + cell(why)
		}
		return "not implemented: " + cell(pc.Reason)
	}
	var out []string
	for _, id := range pc.Palisade {
		out = append(out, link(id))
	}
	if pc.Note != "" {
		return strings.Join(out, ", ") + " — " + cell(pc.Note)
	}
	return strings.Join(out, ", ")
}

// cell keeps text on one table row.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ")
}

// link is a Markdown link to a check's section of docs/rules.md.
func link(id string) string {
	return fmt.Sprintf("[`%s`](rules.md#%s)", id, anchor(id))
}

// anchor is the GitHub heading anchor of a check ID.
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
