package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

// parseJUnit reads the output back with encoding/xml, which rejects
// malformed XML and characters XML 1.0 forbids.
func parseJUnit(t *testing.T, b []byte) junitSuites {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		if _, err := dec.Token(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("JUnit output is not well-formed XML: %v\n%s", err, b)
		}
	}
	var doc junitSuites
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("unmarshal JUnit: %v", err)
	}
	return doc
}

func TestJUnitCounts(t *testing.T) {
	tests := []struct {
		name                               string
		report                             *finding.Report
		suites, tests, failures, errs, skp int
	}{
		// 6 findings (2 suppressed) in 5 files or objects, plus an error
		// and a note, each in its own file's suite.
		{"full", testReport(), 7, 8, 4, 1, 3},
		{"empty", emptyReport(), 1, 1, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := parseJUnit(t, render(t, FormatJUnit, tt.report, Options{}))
			if len(doc.Suites) != tt.suites || doc.Tests != tt.tests || doc.Failures != tt.failures || doc.Errors != tt.errs || doc.Skipped != tt.skp {
				t.Errorf("got %d suites, tests=%d failures=%d errors=%d skipped=%d; want %d, %d %d %d %d",
					len(doc.Suites), doc.Tests, doc.Failures, doc.Errors, doc.Skipped,
					tt.suites, tt.tests, tt.failures, tt.errs, tt.skp)
			}
			// Each suite's attributes must match the cases it holds.
			for _, s := range doc.Suites {
				var fail, errs, skp int
				for _, c := range s.Cases {
					if c.Failure != nil {
						fail++
					}
					if c.Error != nil {
						errs++
					}
					if c.Skipped != nil {
						skp++
					}
				}
				if s.Tests != len(s.Cases) || s.Failures != fail || s.Errors != errs || s.Skipped != skp {
					t.Errorf("suite %q: attributes tests=%d failures=%d errors=%d skipped=%d, cases say %d %d %d %d",
						s.Name, s.Tests, s.Failures, s.Errors, s.Skipped, len(s.Cases), fail, errs, skp)
				}
			}
		})
	}
}

func TestJUnitContent(t *testing.T) {
	r := testReport()
	doc := parseJUnit(t, render(t, FormatJUnit, r, Options{}))
	cases := map[string]junitCase{}
	suiteOf := map[string]string{}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			cases[c.Name] = c
			suiteOf[c.Name] = s.Name
		}
	}

	priv := cases["PS-K8S-001 Deployment/prod/web [app]"]
	if priv.Failure == nil || priv.Failure.Type != "CRITICAL" || priv.Classname != "Deployment/prod/web" || suiteOf["PS-K8S-001 Deployment/prod/web [app]"] != "manifests/web.yaml" {
		t.Errorf("privileged finding case = %+v", priv)
	}
	if !strings.Contains(priv.Failure.Details, "Remediation: Set securityContext.privileged to false.") {
		t.Errorf("failure details lack the remediation:\n%s", priv.Failure.Details)
	}
	if c := cases["PS-K8S-002 Deployment/prod/web"]; c.Skipped == nil || c.Skipped.Message != "suppressed: ingress controller needs host ports" || c.Failure != nil {
		t.Errorf("suppressed finding case = %+v", c)
	}
	if _, ok := cases["PS-K8S-020 Pod/kube-system/debug"]; !ok || suiteOf["PS-K8S-020 Pod/kube-system/debug"] != "Pod/kube-system/debug" {
		t.Errorf("cluster object not in a suite of its own: %v", suiteOf)
	}

	// The hostile message survives, minus the control characters.
	hostile := cases["PS-K8S-030 Deployment/prod/worker [app]"]
	if hostile.Failure == nil {
		t.Fatalf("hostile finding has no failure: %+v", hostile)
	}
	wantMsg := `Env var "DB_<PASS>" in container 'app' holds a literal secret & leaks it.`
	if hostile.Failure.Message != wantMsg {
		t.Errorf("failure message = %q, want %q", hostile.Failure.Message, wantMsg)
	}
	if want := "<script>alert(1)</script> bell [31mred]]> end"; !strings.Contains(hostile.Failure.Details, want) {
		t.Errorf("failure details = %q, want it to contain %q", hostile.Failure.Details, want)
	}

	if c := cases["input manifests/broken.yaml:3"]; c.Error == nil || !strings.Contains(c.Error.Message, "mapping values") {
		t.Errorf("error problem case = %+v", c)
	}
	if c := cases["input manifests/kustomization.yaml"]; c.Skipped == nil {
		t.Errorf("note problem case = %+v", c)
	}
}
