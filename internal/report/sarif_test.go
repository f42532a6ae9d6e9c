package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/palisade-sec/palisade/internal/finding"
)

// sarifSchema compiles the official SARIF 2.1.0 schema (see testdata/README.md).
func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("read schema: %v", err)
	}
	const url = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	c := jsonschema.NewCompiler()
	c.AssertFormat() // "uri" and "uri-reference" must really be URIs
	if err := c.AddResource(url, doc); err != nil {
		t.Fatalf("add schema: %v", err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

func validateSARIF(sch *jsonschema.Schema, b []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// sarifDoc is the part of a SARIF log the tests read back.
type sarifDoc struct {
	Runs []struct {
		Tool struct {
			Driver struct {
				Name    string `json:"name"`
				Version string `json:"version"`
				Rules   []struct {
					ID         string `json:"id"`
					HelpURI    string `json:"helpUri"`
					Properties struct {
						SecuritySeverity string `json:"security-severity"`
					} `json:"properties"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Invocations []struct {
			ExecutionSuccessful bool `json:"executionSuccessful"`
			Notifications       []struct {
				Level string `json:"level"`
			} `json:"toolExecutionNotifications"`
		} `json:"invocations"`
		Results []struct {
			RuleID    string `json:"ruleId"`
			RuleIndex int    `json:"ruleIndex"`
			Level     string `json:"level"`
			Message   struct {
				Text string `json:"text"`
			} `json:"message"`
			Locations []struct {
				PhysicalLocation *struct {
					ArtifactLocation struct {
						URI       string `json:"uri"`
						URIBaseID string `json:"uriBaseId"`
					} `json:"artifactLocation"`
					Region *struct {
						StartLine int `json:"startLine"`
					} `json:"region"`
				} `json:"physicalLocation"`
				LogicalLocations []struct {
					FullyQualifiedName string `json:"fullyQualifiedName"`
					Kind               string `json:"kind"`
				} `json:"logicalLocations"`
			} `json:"locations"`
			PartialFingerprints map[string]string `json:"partialFingerprints"`
			Suppressions        []struct {
				Kind          string `json:"kind"`
				Justification string `json:"justification"`
			} `json:"suppressions"`
		} `json:"results"`
	} `json:"runs"`
}

func TestSARIFSchema(t *testing.T) {
	sch := sarifSchema(t)
	reports := map[string]*finding.Report{"full": testReport(), "empty": emptyReport(), "bare": {}}
	for name, r := range reports {
		t.Run(name, func(t *testing.T) {
			if err := validateSARIF(sch, render(t, FormatSARIF, r, sarifOpts)); err != nil {
				t.Errorf("SARIF fails the 2.1.0 schema: %v", err)
			}
		})
	}
}

// TestSARIFSchemaRejects proves the validator can fail: each broken copy of
// a valid document must be rejected.
func TestSARIFSchemaRejects(t *testing.T) {
	sch := sarifSchema(t)
	valid := render(t, FormatSARIF, testReport(), sarifOpts)
	tests := []struct {
		name   string
		mutate func(doc map[string]any)
	}{
		{"no version", func(doc map[string]any) { delete(doc, "version") }},
		{"wrong version", func(doc map[string]any) { doc["version"] = "2.0.0" }},
		{"unknown level", func(doc map[string]any) { result(doc, "PS-K8S-001")["level"] = "critical" }},
		{"line zero", func(doc map[string]any) {
			loc := result(doc, "PS-K8S-001")["locations"].([]any)[0].(map[string]any)
			loc["physicalLocation"].(map[string]any)["region"] = map[string]any{"startLine": 0}
		}},
		{"informationUri not a URI", func(doc map[string]any) {
			run := doc["runs"].([]any)[0].(map[string]any)
			run["tool"].(map[string]any)["driver"].(map[string]any)["informationUri"] = "palisade home page"
		}},
		{"unknown property", func(doc map[string]any) { result(doc, "PS-K8S-001")["severity"] = "HIGH" }},
		{"bad suppression kind", func(doc map[string]any) {
			for _, r := range doc["runs"].([]any)[0].(map[string]any)["results"].([]any) {
				if s, ok := r.(map[string]any)["suppressions"]; ok {
					s.([]any)[0].(map[string]any)["kind"] = "annotation"
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(valid, &doc); err != nil {
				t.Fatal(err)
			}
			tt.mutate(doc)
			b, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			if err := validateSARIF(sch, b); err == nil {
				t.Error("broken SARIF passed validation")
			}
		})
	}
}

// result finds the first result of a rule in a decoded SARIF log.
func result(doc map[string]any, ruleID string) map[string]any {
	for _, r := range doc["runs"].([]any)[0].(map[string]any)["results"].([]any) {
		if r := r.(map[string]any); r["ruleId"] == ruleID {
			return r
		}
	}
	panic("no result for " + ruleID)
}

func TestSARIFContent(t *testing.T) {
	r := testReport()
	var doc sarifDoc
	if err := json.Unmarshal(render(t, FormatSARIF, r, sarifOpts), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Runs) != 1 {
		t.Fatalf("got %d runs, want 1", len(doc.Runs))
	}
	run := doc.Runs[0]
	if d := run.Tool.Driver; d.Name != "palisade" || d.Version != "0.1.0-test" {
		t.Errorf("driver = %q %q", d.Name, d.Version)
	}
	if len(run.Results) != len(r.Findings) {
		t.Fatalf("got %d results, want %d", len(run.Results), len(r.Findings))
	}

	fingerprints := map[string]bool{}
	for i, res := range run.Results {
		f := r.Findings[i]
		if res.RuleID != f.RuleID || run.Tool.Driver.Rules[res.RuleIndex].ID != f.RuleID {
			t.Errorf("result %d: ruleId %q, ruleIndex %d do not point at rule %q", i, res.RuleID, res.RuleIndex, f.RuleID)
		}
		if res.Message.Text != f.Message {
			t.Errorf("result %d: message %q, want %q", i, res.Message.Text, f.Message)
		}
		wantLevel := map[finding.Severity]string{
			finding.SeverityCritical: "error", finding.SeverityHigh: "error",
			finding.SeverityMedium: "warning", finding.SeverityLow: "note",
		}[f.Severity]
		if res.Level != wantLevel {
			t.Errorf("result %d (%s): level %q, want %q", i, f.Severity, res.Level, wantLevel)
		}

		loc := res.Locations[0]
		if len(loc.LogicalLocations) != 1 || loc.LogicalLocations[0].FullyQualifiedName != f.Object.String() || loc.LogicalLocations[0].Kind != "resource" {
			t.Errorf("result %d: logical location %+v, want %s", i, loc.LogicalLocations, f.Object)
		}
		switch pl := loc.PhysicalLocation; {
		case f.File == "":
			if pl != nil {
				t.Errorf("result %d: cluster object has physical location %+v", i, pl)
			}
		case pl == nil:
			t.Errorf("result %d: no physical location for %s", i, f.File)
		case f.Line > 0 && (pl.Region == nil || pl.Region.StartLine != f.Line):
			t.Errorf("result %d: region %+v, want startLine %d", i, pl.Region, f.Line)
		case f.Line == 0 && pl.Region != nil:
			t.Errorf("result %d: region %+v for a finding without line", i, pl.Region)
		case pl.ArtifactLocation.URIBaseID != "%SRCROOT%":
			t.Errorf("result %d: uriBaseId %q", i, pl.ArtifactLocation.URIBaseID)
		}

		fp := res.PartialFingerprints[fingerprintKey]
		if len(fp) != 64 || fingerprints[fp] {
			t.Errorf("result %d: fingerprint %q missing or not unique", i, fp)
		}
		fingerprints[fp] = true

		if f.Suppressed != (len(res.Suppressions) == 1) {
			t.Errorf("result %d: suppressed %v but suppressions %+v", i, f.Suppressed, res.Suppressions)
		}
		if f.Suppressed {
			wantKind := map[string]string{"annotation": "inSource", "policy": "external"}[f.Suppression.Kind]
			if s := res.Suppressions[0]; s.Kind != wantKind || s.Justification != f.Suppression.Reason {
				t.Errorf("result %d: suppression %+v, want kind %q reason %q", i, s, wantKind, f.Suppression.Reason)
			}
		}
	}

	// A path with a space and an ampersand becomes an escaped relative URI.
	for i, f := range r.Findings {
		if f.File == "manifests/my app/values & more.yaml" {
			if got := run.Results[i].Locations[0].PhysicalLocation.ArtifactLocation.URI; got != "manifests/my%20app/values%20&%20more.yaml" {
				t.Errorf("URI for %q = %q", f.File, got)
			}
		}
	}

	inv := run.Invocations[0]
	if inv.ExecutionSuccessful || len(inv.Notifications) != 2 || inv.Notifications[0].Level != "error" || inv.Notifications[1].Level != "note" {
		t.Errorf("invocation = %+v, want unsuccessful with an error and a note", inv)
	}
	for _, rule := range run.Tool.Driver.Rules {
		if rule.Properties.SecuritySeverity == "" {
			t.Errorf("rule %s has no security-severity", rule.ID)
		}
		if rule.ID == "PS-K8S-002" && rule.HelpURI != "https://kubernetes.io/docs/concepts/security/pod-security-standards/" {
			t.Errorf("rule %s helpUri %q: want the first reference with a URL", rule.ID, rule.HelpURI)
		}
	}
}

// TestFingerprintStable: the fingerprint ignores the line (files move) but
// not the container.
func TestFingerprintStable(t *testing.T) {
	f := testReport().Findings[0]
	moved := f
	moved.Line += 40
	moved.Message = "reworded"
	if fingerprint(f) != fingerprint(moved) {
		t.Error("fingerprint changed with line or message")
	}
	other := f
	other.Container = "sidecar"
	if fingerprint(f) == fingerprint(other) {
		t.Error("fingerprint ignores the container")
	}
}

func TestArtifactLocation(t *testing.T) {
	tests := []struct {
		path, uri, base string
	}{
		{"manifests/a.yaml", "manifests/a.yaml", "%SRCROOT%"},
		{"./manifests/../b.yaml", "b.yaml", "%SRCROOT%"},
		{"c:d.yaml", "./c:d.yaml", "%SRCROOT%"},
		{"100%.yaml", "100%25.yaml", "%SRCROOT%"},
		{"/abs/x y.yaml", "file:///abs/x%20y.yaml", ""},
	}
	for _, tt := range tests {
		got := artifactLocation(tt.path)
		if got.URI != tt.uri || got.URIBaseID != tt.base {
			t.Errorf("artifactLocation(%q) = %+v, want %q %q", tt.path, got, tt.uri, tt.base)
		}
	}
}
