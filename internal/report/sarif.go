package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/palisade-sec/palisade/internal/finding"
)

// SARIF 2.1.0 constants.
const (
	sarifSchemaURI = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion   = "2.1.0"
	// srcRoot is the conventional base for relative artifact URIs; GitHub
	// code scanning resolves it to the repository root.
	srcRoot = "%SRCROOT%"
	// fingerprintKey versions the fingerprint scheme: if the hashed fields
	// ever change, bump it so old and new alerts are not confused.
	fingerprintKey = "palisadeFindingHash/v1"
)

// The types below cover the part of the SARIF object model Palisade fills.

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string               `json:"id"`
	Name                 string               `json:"name,omitempty"`
	ShortDescription     *sarifText           `json:"shortDescription,omitempty"`
	FullDescription      *sarifText           `json:"fullDescription,omitempty"`
	Help                 *sarifText           `json:"help,omitempty"`
	HelpURI              string               `json:"helpUri,omitempty"`
	DefaultConfiguration sarifRuleConfig      `json:"defaultConfiguration"`
	Properties           *sarifRuleProperties `json:"properties,omitempty"`
}

// sarifText is both SARIF's message and multiformatMessageString.
type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifRuleProperties struct {
	Tags []string `json:"tags,omitempty"`
	// SecuritySeverity is the CVSS-like score GitHub code scanning reads to
	// rank security alerts; it is a string by convention.
	SecuritySeverity string `json:"security-severity,omitempty"`
	// Frameworks and Peers carry the rule's CIS, NSA/CISA, MITRE ATT&CK
	// and Pod Security mappings and its peer tools' equivalent IDs.
	Frameworks *finding.Frameworks `json:"frameworks,omitempty"`
	Peers      []finding.PeerCheck `json:"peers,omitempty"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          *sarifResultProps  `json:"properties,omitempty"`
}

type sarifResultProps struct {
	Severity  string `json:"severity"`
	Field     string `json:"field,omitempty"`
	Container string `json:"container,omitempty"`
	// Vulnerability carries a vulnerability finding's package, versions
	// and CVSS scores, as in the JSON report.
	Vulnerability *finding.Vulnerability `json:"vulnerability,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysicalLocation `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogicalLocation `json:"logicalLocations,omitempty"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           *sarifRegion          `json:"region,omitempty"`
}

type sarifArtifactLocation struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogicalLocation struct {
	Name               string `json:"name,omitempty"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifSuppression struct {
	Kind          string                 `json:"kind"`
	Status        string                 `json:"status"`
	Justification string                 `json:"justification,omitempty"`
	Properties    *sarifSuppressionProps `json:"properties,omitempty"`
}

type sarifSuppressionProps struct {
	// Source keeps Palisade's own kind (annotation, policy, vex), which
	// SARIF's two kinds cannot express.
	Source  string `json:"source,omitempty"`
	Expires string `json:"expires,omitempty"`
}

// sarifLevel maps a severity to a SARIF level. Unknown severities become
// warnings: they should be seen, but not fail a gate on their own.
func sarifLevel(s finding.Severity) string {
	switch s {
	case finding.SeverityCritical, finding.SeverityHigh:
		return "error"
	case finding.SeverityLow:
		return "note"
	}
	return "warning"
}

// securitySeverity gives the conventional score for each severity band
// (GitHub: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low).
func securitySeverity(s finding.Severity) string {
	switch s {
	case finding.SeverityCritical:
		return "9.5"
	case finding.SeverityHigh:
		return "8.0"
	case finding.SeverityMedium:
		return "5.5"
	case finding.SeverityLow:
		return "2.0"
	}
	return ""
}

func writeSARIF(buf *bytes.Buffer, r *finding.Report, opts Options) error {
	rules, index := sarifRules(r)
	name := opts.ToolName
	if name == "" {
		name = DefaultToolName
	}
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name:           name,
			Version:        opts.ToolVersion,
			InformationURI: opts.InformationURI,
			Rules:          rules,
		}},
		Invocations: []sarifInvocation{withCoverage(sarifInvocationOf(r.Problems), r.Summary)},
		Results:     []sarifResult{},
	}
	for _, f := range r.Findings {
		run.Results = append(run.Results, sarifResultOf(f, index[f.RuleID]))
	}
	b, err := marshalJSON(sarifLog{Schema: sarifSchemaURI, Version: sarifVersion, Runs: []sarifRun{run}})
	if err != nil {
		return err
	}
	buf.Write(b)
	return nil
}

// sarifRules builds driver.rules sorted by ID, and the index of each ID in
// it. A rule that produced findings but is missing from Report.Rules is
// described from its first finding, so every result's ruleIndex is valid.
func sarifRules(r *finding.Report) ([]sarifRule, map[string]int) {
	infos := map[string]finding.RuleInfo{}
	for _, ri := range r.Rules {
		if _, dup := infos[ri.ID]; !dup {
			infos[ri.ID] = ri
		}
	}
	for _, f := range r.Findings {
		if _, ok := infos[f.RuleID]; !ok {
			infos[f.RuleID] = finding.RuleInfo{
				ID: f.RuleID, Title: f.Title, Severity: f.Severity,
				Remediation: f.Remediation,
			}
		}
	}
	ids := slices.Sorted(maps.Keys(infos))

	rules := make([]sarifRule, 0, len(ids))
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		index[id] = i
		rules = append(rules, sarifRuleOf(infos[id]))
	}
	return rules, index
}

func sarifRuleOf(ri finding.RuleInfo) sarifRule {
	rule := sarifRule{
		ID:                   ri.ID,
		Name:                 pascalCase(ri.Title),
		DefaultConfiguration: sarifRuleConfig{Level: sarifLevel(ri.Severity)},
	}
	if rule.Name == "" {
		rule.Name = ri.ID
	}
	if ri.Title != "" {
		rule.ShortDescription = &sarifText{Text: ri.Title}
	}
	description := ri.Description
	if description == "" {
		description = ri.Title
	}
	if description != "" {
		rule.FullDescription = &sarifText{Text: description}
	}
	if help := ruleHelp(ri, description); help != nil {
		rule.Help = help
	}
	for _, ref := range ri.References {
		if isAbsoluteURL(ref.URL) {
			rule.HelpURI = ref.URL
			break
		}
	}
	// GitHub reads security-severity only for rules tagged "security".
	tags := append([]string(nil), ri.Tags...)
	if !slices.Contains(tags, "security") {
		tags = append(tags, "security")
	}
	rule.Properties = &sarifRuleProperties{Tags: tags, SecuritySeverity: securitySeverity(ri.Severity), Peers: ri.Peers}
	if !ri.Frameworks.IsZero() {
		fw := ri.Frameworks
		rule.Properties.Frameworks = &fw
	}
	return rule
}

// ruleHelp writes the rule's description, remediation and references as
// plain text and as Markdown.
func ruleHelp(ri finding.RuleInfo, description string) *sarifText {
	var text, md []string
	if description != "" {
		text = append(text, description)
		md = append(md, description)
	}
	if ri.Remediation != "" {
		text = append(text, "Remediation: "+ri.Remediation)
		md = append(md, "**Remediation:** "+ri.Remediation)
	}
	if len(ri.References) > 0 {
		tl := []string{"References:"}
		ml := []string{"**References:**", ""}
		for _, ref := range ri.References {
			switch {
			case ref.URL == "":
				tl = append(tl, "- "+ref.Title)
				ml = append(ml, "- "+ref.Title)
			case ref.Title == "":
				tl = append(tl, "- "+ref.URL)
				ml = append(ml, "- <"+ref.URL+">")
			default:
				tl = append(tl, "- "+ref.Title+": "+ref.URL)
				ml = append(ml, "- ["+ref.Title+"]("+ref.URL+")")
			}
		}
		text = append(text, strings.Join(tl, "\n"))
		md = append(md, strings.Join(ml, "\n"))
	}
	if len(text) == 0 {
		return nil
	}
	return &sarifText{Text: strings.Join(text, "\n\n"), Markdown: strings.Join(md, "\n\n")}
}

func sarifResultOf(f finding.Finding, ruleIndex int) sarifResult {
	msg := f.Message
	if strings.TrimSpace(msg) == "" {
		msg = f.Title // SARIF requires message text
	}
	if strings.TrimSpace(msg) == "" {
		msg = f.RuleID
	}
	loc := sarifLocation{
		PhysicalLocation: physicalLocation(f.File, f.Line),
		LogicalLocations: []sarifLogicalLocation{{
			Name:               f.Object.Name,
			FullyQualifiedName: f.Object.String(),
			Kind:               "resource",
		}},
	}
	res := sarifResult{
		RuleID:              f.RuleID,
		RuleIndex:           ruleIndex,
		Level:               sarifLevel(f.Severity),
		Message:             sarifText{Text: msg},
		Locations:           []sarifLocation{loc},
		PartialFingerprints: map[string]string{fingerprintKey: fingerprint(f)},
		Properties: &sarifResultProps{
			Severity:      f.Severity.String(),
			Field:         f.Field,
			Container:     f.Container,
			Vulnerability: f.Vulnerability,
		},
	}
	if f.Suppressed {
		res.Suppressions = []sarifSuppression{sarifSuppressionOf(f.Suppression)}
	}
	return res
}

// sarifSuppressionOf maps Palisade's suppression kinds onto SARIF's two: an
// annotation lives in the scanned manifest itself ("inSource"); policy
// exceptions and VEX statements live elsewhere ("external").
func sarifSuppressionOf(s *finding.Suppression) sarifSuppression {
	if s == nil {
		return sarifSuppression{Kind: "external", Status: "accepted"}
	}
	out := sarifSuppression{Kind: "external", Status: "accepted", Justification: s.Reason}
	if s.Kind == "annotation" {
		out.Kind = "inSource"
	}
	props := sarifSuppressionProps{Source: s.Kind}
	if s.Expires != nil {
		props.Expires = s.Expires.UTC().Format(time.RFC3339)
	}
	if props != (sarifSuppressionProps{}) {
		out.Properties = &props
	}
	return out
}

// physicalLocation locates a file, or returns nil for objects read from a
// live cluster, whose location is then only logical.
func physicalLocation(file string, line int) *sarifPhysicalLocation {
	if file == "" {
		return nil
	}
	pl := &sarifPhysicalLocation{ArtifactLocation: artifactLocation(file)}
	if line > 0 {
		pl.Region = &sarifRegion{StartLine: line}
	}
	return pl
}

// artifactLocation turns a file path into a URI with forward slashes and
// percent-escapes. Relative paths are relative to %SRCROOT%; absolute paths
// become file:// URIs.
func artifactLocation(file string) sarifArtifactLocation {
	p := filepath.ToSlash(filepath.Clean(file))
	if filepath.IsAbs(file) {
		if !strings.HasPrefix(p, "/") {
			p = "/" + p // Windows drive: C:/x -> /C:/x
		}
		u := url.URL{Scheme: "file", Path: p}
		return sarifArtifactLocation{URI: u.String()}
	}
	// url.URL.String escapes what needs it and prefixes "./" when the
	// first segment has a colon, so it cannot be read as a scheme.
	u := url.URL{Path: p}
	return sarifArtifactLocation{URI: u.String(), URIBaseID: srcRoot}
}

// fingerprint identifies a finding across scans independently of its line,
// so moving a manifest around does not reopen a dismissed alert.
func fingerprint(f finding.Finding) string {
	h := sha256.New()
	for _, part := range []string{f.RuleID, f.Object.String(), f.Field, f.Container} {
		h.Write([]byte(part))
		h.Write([]byte{0}) // separator: ("ab","c") must differ from ("a","bc")
	}
	if k := vulnerabilityKey(f); k != "" {
		h.Write([]byte(k))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sarifInvocationOf(problems []finding.Problem) sarifInvocation {
	inv := sarifInvocation{ExecutionSuccessful: true}
	for _, p := range problems {
		level := finding.LevelNote
		if p.Level == finding.LevelError {
			level = "error"
			inv.ExecutionSuccessful = false
		}
		n := sarifNotification{Level: level, Message: sarifText{Text: p.Message}}
		if pl := physicalLocation(p.File, p.Line); pl != nil {
			n.Locations = []sarifLocation{{PhysicalLocation: pl}}
		}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, n)
	}
	return inv
}

// withCoverage adds how much of the input was understood as a final
// note, for reports that count it: a SARIF viewer shows notifications,
// and a run with findings but most of its input unread must say so.
func withCoverage(inv sarifInvocation, s finding.Summary) sarifInvocation {
	if line := CoverageLine(s); line != "" {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications,
			sarifNotification{Level: finding.LevelNote, Message: sarifText{Text: line}})
	}
	return inv
}

// pascalCase turns a title into a SARIF rule name such as
// "PrivilegedContainer": letters and digits only, each word capitalised.
func pascalCase(title string) string {
	var b strings.Builder
	for _, word := range strings.FieldsFunc(title, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		rs := []rune(word)
		b.WriteRune(unicode.ToUpper(rs[0]))
		b.WriteString(string(rs[1:]))
	}
	return b.String()
}

func isAbsoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && u.Host != ""
}
