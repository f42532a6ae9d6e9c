package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/palisade-sec/palisade/internal/finding"
)

// gitlabSchemas compiles the schemas a GitLab report is checked against:
// Palisade's subset, and GitLab's official file when it is present (see
// testdata/gitlab/README.md).
func gitlabSchemas(t *testing.T, subset, official string) []*jsonschema.Schema {
	t.Helper()
	var out []*jsonschema.Schema
	for _, p := range []string{filepath.Join("testdata", "gitlab", subset), filepath.Join("testdata", "gitlab", "official", official)} {
		f, err := os.Open(p)
		if os.IsNotExist(err) && strings.Contains(p, "official") {
			t.Logf("%s not present: validated against the subset schema only", p)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		c := jsonschema.NewCompiler()
		url := "file:///" + filepath.ToSlash(p)
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
		sch, err := c.Compile(url)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, sch)
	}
	return out
}

func gitlabFixture() *finding.Report {
	fs := []finding.Finding{
		{RuleID: "pss/privileged", Severity: finding.SeverityCritical, Title: "Privileged container", Message: "container \"app\" is privileged",
			Object: finding.ObjectRef{Kind: "Deployment", Namespace: "shop", Name: "web"}, File: "charts/web/templates/deployment.yaml", Line: 18,
			Container: "app", Remediation: "Remove securityContext.privileged."},
		{RuleID: "hardening/latest", Severity: finding.SeverityMedium, Title: "Mutable tag", Message: "uses :latest",
			Object: finding.ObjectRef{Kind: "Pod", Name: "p"}, File: "a.yaml", Line: 3, Suppressed: true,
			Suppression: &finding.Suppression{Kind: "baseline", Reason: "accepted"}},
		{RuleID: "CVE-2024-0727", Severity: finding.SeverityHigh, Title: "openssl: NULL dereference", Message: "openssl 3.0.11 is vulnerable",
			Object: finding.ObjectRef{Kind: "Image", Name: "registry.example.com/app@sha256:abc"},
			Vulnerability: &finding.Vulnerability{ID: "DEBIAN-CVE-2024-0727", Aliases: []string{"CVE-2024-0727"},
				Package:   finding.VulnerablePackage{Name: "libssl3", Ecosystem: "Debian:12", Version: "3.0.11-1~deb12u2"},
				Installed: "3.0.11-1~deb12u2", Fixed: "3.0.13-1~deb12u1", Links: []string{"https://security-tracker.debian.org/tracker/CVE-2024-0727"}}},
		{RuleID: "secret/private-key", Severity: finding.SeverityCritical, Title: "Private key in image", Message: "/root/.ssh/id_rsa",
			Object: finding.ObjectRef{Kind: "Image", Name: "registry.example.com/app@sha256:abc"}},
	}
	return finding.NewReport(fs, nil, 3, nil)
}

func TestGitLabReports(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		format            Format
		scanType          string
		subset, official  string
		wantIDs           []string
		wantLocationField string
	}{
		{FormatGitLabSAST, "sast", "sast-subset.schema.json", "sast-report-format.json",
			[]string{"secret/private-key", "CVE-2024-0727", "pss/privileged"}, "class"},
		{FormatGitLabContainerScanning, "container_scanning", "container-scanning-subset.schema.json", "container-scanning-report-format.json",
			[]string{"DEBIAN-CVE-2024-0727"}, "image"},
	}
	for _, tc := range tests {
		t.Run(string(tc.format), func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeGitLab(&buf, gitlabFixture(), Options{ToolVersion: "1.2.3"}, tc.scanType, now); err != nil {
				t.Fatal(err)
			}
			for _, sch := range gitlabSchemas(t, tc.subset, tc.official) {
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
				if err != nil {
					t.Fatal(err)
				}
				if err := sch.Validate(inst); err != nil {
					t.Errorf("invalid report: %v\n%s", err, buf.String())
				}
			}
			var doc struct {
				Scan struct {
					StartTime string `json:"start_time"`
				} `json:"scan"`
				Vulnerabilities []struct {
					ID          string           `json:"id"`
					Identifiers []glIdentifier   `json:"identifiers"`
					Location    map[string]any   `json:"location"`
					Links       []map[string]any `json:"links"`
				} `json:"vulnerabilities"`
			}
			if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Scan.StartTime != "2026-11-25T12:00:00" {
				t.Errorf("start_time %q", doc.Scan.StartTime)
			}
			var ids []string
			for _, v := range doc.Vulnerabilities {
				ids = append(ids, v.Identifiers[0].Value)
				if _, ok := v.Location[tc.wantLocationField]; !ok {
					t.Errorf("%s: location %v lacks %s", v.ID, v.Location, tc.wantLocationField)
				}
			}
			if strings.Join(ids, " ") != strings.Join(tc.wantIDs, " ") {
				t.Errorf("vulnerabilities %v, want %v (suppressed findings left out)", ids, tc.wantIDs)
			}
			// IDs are stable across runs.
			var again bytes.Buffer
			if err := writeGitLab(&again, gitlabFixture(), Options{ToolVersion: "1.2.3"}, tc.scanType, now); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), again.Bytes()) {
				t.Error("output differs between runs")
			}
		})
	}
}

func TestGitLabFormatsRegistered(t *testing.T) {
	for _, name := range []string{"gitlab-sast", "gitlab-container-scanning"} {
		f, err := ParseFormat(name)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Write(&buf, f, gitlabFixture(), Options{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !json.Valid(buf.Bytes()) {
			t.Errorf("%s: not JSON", name)
		}
	}
}
