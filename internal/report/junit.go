package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
)

// JUnit XML has no formal standard; this follows the common dialect that
// Jenkins, GitLab and Azure Pipelines read: testsuites > testsuite >
// testcase, with failure, error or skipped inside a testcase.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Failure   *junitProblem `xml:"failure"`
	Error     *junitProblem `xml:"error"`
	Skipped   *junitSkipped `xml:"skipped"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	// Details go in CDATA so multi-line text stays readable; encoding/xml
	// splits any "]]>" inside it.
	Details string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// junitBuilder groups test cases into suites in order of first appearance,
// which follows the report's (sorted) order.
type junitBuilder struct {
	suites []junitSuite
	byName map[string]int
}

func (b *junitBuilder) add(suite string, c junitCase) {
	i, ok := b.byName[suite]
	if !ok {
		i = len(b.suites)
		b.byName[suite] = i
		b.suites = append(b.suites, junitSuite{Name: suite})
	}
	s := &b.suites[i]
	s.Tests++
	switch {
	case c.Failure != nil:
		s.Failures++
	case c.Error != nil:
		s.Errors++
	case c.Skipped != nil:
		s.Skipped++
	}
	s.Cases = append(s.Cases, c)
}

func writeJUnit(buf *bytes.Buffer, r *finding.Report) error {
	b := junitBuilder{byName: map[string]int{}}
	for _, f := range r.Findings {
		suite := f.File
		if suite == "" {
			suite = f.Object.String() // live-cluster object: no file to group by
		}
		b.add(attr(suite), junitCaseOf(f))
	}
	for _, p := range r.Problems {
		suite := p.File
		if suite == "" {
			suite = DefaultToolName
		}
		b.add(attr(suite), junitProblemCase(p))
	}
	if len(b.suites) == 0 {
		// A clean scan still reports one passing test, so CI shows a green
		// result rather than "no tests found".
		b.add(DefaultToolName, junitCase{Name: "scan", Classname: DefaultToolName})
	}

	doc := junitSuites{Name: DefaultToolName, Suites: b.suites}
	for _, s := range b.suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JUnit XML: %w", err)
	}
	buf.WriteString(xml.Header)
	buf.Write(out)
	buf.WriteString("\n")
	return nil
}

func junitCaseOf(f finding.Finding) junitCase {
	name := f.RuleID + " " + f.Object.String()
	if f.Container != "" {
		// The same rule can fire once per container of one object; keep
		// the test names apart so CI does not merge them.
		name += " [" + f.Container + "]"
	}
	if k := vulnerabilityKey(f); k != "" {
		name += " [" + k + "]"
	}
	c := junitCase{Name: attr(name), Classname: attr(f.Object.String()), File: attr(f.File)}
	if f.Suppressed {
		reason := "suppressed"
		if f.Suppression != nil && f.Suppression.Reason != "" {
			reason += ": " + f.Suppression.Reason
		}
		c.Skipped = &junitSkipped{Message: attr(reason)}
		return c
	}
	msg := firstLine(f.Message)
	if msg == "" {
		msg = f.Title
	}
	c.Failure = &junitProblem{Message: attr(msg), Type: f.Severity.String(), Details: junitDetails(f)}
	return c
}

// junitDetails is the failure body: the full message, then the facts a
// reader needs to find and fix the problem.
func junitDetails(f finding.Finding) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(f.Message) + "\n\n")
	line := func(key, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%-12s %s\n", key+":", value)
		}
	}
	line("Rule", strings.TrimSpace(f.RuleID+" "+f.Title))
	line("Severity", f.Severity.String())
	line("Object", f.Object.String())
	line("Location", f.Location())
	line("Field", f.Field)
	line("Container", f.Container)
	line("Remediation", f.Remediation)
	vulnerabilityDetails(f.Vulnerability, line)
	return stripControl(b.String(), true)
}

func junitProblemCase(p finding.Problem) junitCase {
	// Name the case by where the problem is; the message goes in the body.
	loc := finding.Finding{File: p.File, Line: p.Line}.Location()
	c := junitCase{Name: attr(strings.TrimSpace("input " + loc)), Classname: DefaultToolName, File: attr(p.File)}
	if p.Level == finding.LevelError {
		c.Error = &junitProblem{Message: attr(firstLine(p.Message)), Type: "error", Details: stripControl(p.String(), true)}
	} else {
		// A note is an input skipped on purpose.
		c.Skipped = &junitSkipped{Message: attr(p.Message)}
	}
	return c
}

// attr cleans text for a one-line XML attribute: no control characters
// (invalid in XML 1.0), newlines folded to spaces.
func attr(s string) string {
	return strings.TrimSpace(stripControl(s, false))
}
