package report

// GitLab security reports (artifacts:reports:sast and
// artifacts:reports:container_scanning), schema version 15.x: GitLab shows
// them in merge requests and the vulnerability report. Suppressed
// findings (exemptions, VEX, baselines) are left out: GitLab has no
// place for an accepted finding, and listing them would reopen them.
// Container scanning carries only vulnerability findings, the ones with
// a package; secrets and configuration findings of an image belong to a
// SAST report.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
)

// GitLab formats.
const (
	FormatGitLabSAST              Format = "gitlab-sast"
	FormatGitLabContainerScanning Format = "gitlab-container-scanning"
)

// gitlabSchemaVersion is the report schema version written.
const gitlabSchemaVersion = "15.2.1"

type glReport struct {
	Version         string            `json:"version"`
	Schema          string            `json:"schema"`
	Scan            glScan            `json:"scan"`
	Vulnerabilities []glVulnerability `json:"vulnerabilities"`
}

type glScan struct {
	Analyzer  glTool `json:"analyzer"`
	Scanner   glTool `json:"scanner"`
	Type      string `json:"type"`
	StartTime string `json:"start_time"`
	EndTime   string `json:"end_time"`
	Status    string `json:"status"`
}

type glTool struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	URL     string       `json:"url,omitempty"`
	Version string       `json:"version"`
	Vendor  glToolVendor `json:"vendor"`
}

type glToolVendor struct {
	Name string `json:"name"`
}

type glVulnerability struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Severity    string         `json:"severity"`
	Solution    string         `json:"solution,omitempty"`
	Identifiers []glIdentifier `json:"identifiers"`
	Links       []glLink       `json:"links,omitempty"`
	Location    any            `json:"location"`
}

type glIdentifier struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Value string `json:"value"`
	URL   string `json:"url,omitempty"`
}

type glLink struct {
	URL string `json:"url"`
}

type glSASTLocation struct {
	File      string `json:"file,omitempty"`
	StartLine int    `json:"start_line,omitempty"`
	Class     string `json:"class,omitempty"`
	Method    string `json:"method,omitempty"`
}

type glCSLocation struct {
	Dependency      glDependency `json:"dependency"`
	OperatingSystem string       `json:"operating_system"`
	Image           string       `json:"image"`
}

type glDependency struct {
	Package glPackage `json:"package"`
	Version string    `json:"version"`
}

type glPackage struct {
	Name string `json:"name"`
}

// gitlabTime is the schema's timestamp form (no zone, UTC).
func gitlabTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") }

func gitlabSeverity(s finding.Severity) string {
	switch s {
	case finding.SeverityCritical:
		return "Critical"
	case finding.SeverityHigh:
		return "High"
	case finding.SeverityMedium:
		return "Medium"
	case finding.SeverityLow:
		return "Low"
	}
	return "Unknown"
}

// gitlabID derives a stable UUID-shaped ID from what identifies the
// finding, so that GitLab tracks it across pipelines.
func gitlabID(f finding.Finding, kind string) string {
	h := sha256.New()
	for _, p := range []string{kind, f.RuleID, f.File, f.Object.String(), f.Container, f.Field, f.Message} {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	b := h.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x50 // version 5 layout (name-based, SHA)
	b[8] = b[8]&0x3f | 0x80
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func gitlabTool(opts Options) glTool {
	name, version := opts.ToolName, opts.ToolVersion
	if name == "" {
		name = DefaultToolName
	}
	if version == "" {
		version = "devel"
	}
	return glTool{ID: strings.ToLower(name), Name: "Palisade", URL: opts.InformationURI, Version: version, Vendor: glToolVendor{Name: "Palisade"}}
}

// gitlabDescription is the message, then the remediation, as plain text.
func gitlabDescription(f finding.Finding) string {
	d := stripControl(f.Message, true)
	if f.Object.Kind != "" {
		d = f.Object.String() + ": " + d
	}
	return d
}

func writeGitLab(w io.Writer, r *finding.Report, opts Options, scanType string, now time.Time) error {
	tool := gitlabTool(opts)
	out := glReport{
		Version: gitlabSchemaVersion,
		Schema:  fmt.Sprintf("https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/v%s/dist/%s-report-format.json", gitlabSchemaVersion, strings.ReplaceAll(scanType, "_", "-")),
		Scan: glScan{Analyzer: tool, Scanner: tool, Type: scanType,
			StartTime: gitlabTime(now), EndTime: gitlabTime(now), Status: "success"},
		Vulnerabilities: []glVulnerability{},
	}
	for _, f := range r.Findings {
		if f.Suppressed {
			continue
		}
		v := glVulnerability{
			ID:          gitlabID(f, scanType),
			Name:        stripControl(firstLine(f.Title), false),
			Description: gitlabDescription(f),
			Severity:    gitlabSeverity(f.Severity),
			Solution:    stripControl(f.Remediation, true),
		}
		if v.Name == "" {
			v.Name = f.RuleID
		}
		switch scanType {
		case "container_scanning":
			vu := f.Vulnerability
			if vu == nil {
				continue
			}
			v.Identifiers = vulnIdentifiers(vu)
			for _, l := range vu.Links {
				v.Links = append(v.Links, glLink{URL: l})
			}
			if v.Solution == "" {
				if vu.Fixed != "" {
					v.Solution = fmt.Sprintf("Upgrade %s to %s", vu.Package.Name, vu.Fixed)
				} else {
					v.Solution = "No fix yet."
				}
			}
			v.Location = glCSLocation{
				Dependency:      glDependency{Package: glPackage{Name: vu.Package.Name}, Version: vu.Package.Version},
				OperatingSystem: vu.Package.Ecosystem,
				Image:           f.Object.Name,
			}
		default:
			v.Identifiers = []glIdentifier{{Type: "palisade_rule_id", Name: "Palisade " + f.RuleID, Value: f.RuleID}}
			if f.Vulnerability != nil {
				v.Identifiers = append(v.Identifiers, vulnIdentifiers(f.Vulnerability)...)
			}
			v.Location = glSASTLocation{File: f.File, StartLine: f.Line, Class: f.Object.String(), Method: f.Container}
		}
		out.Vulnerabilities = append(out.Vulnerabilities, v)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// vulnIdentifiers lists the advisory and its aliases; CVEs get GitLab's
// "cve" type, which links them to its vulnerability knowledge.
func vulnIdentifiers(v *finding.Vulnerability) []glIdentifier {
	var ids []glIdentifier
	for _, id := range append([]string{v.ID}, v.Aliases...) {
		t := strings.ToLower(id)
		if i := strings.IndexByte(t, '-'); i > 0 {
			t = t[:i]
		}
		ident := glIdentifier{Type: t, Name: id, Value: id}
		if t == "cve" {
			ident.URL = "https://nvd.nist.gov/vuln/detail/" + id
		}
		ids = append(ids, ident)
	}
	return ids
}
