package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// helmTemplateOutput is `helm template` output piped to `scan config -`,
// followed by a document of no chart.
const helmTemplateOutput = `---
# Source: mychart/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: shop
spec:
  template:
    spec:
      containers:
      - name: web
        image: "nginx:1.27"
        securityContext:
          privileged: true
---
# Source: mychart/templates/broken.yaml
apiVersion: v1
metadata:
  name: nokind
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: x}
spec:
  containers: [{name: a, image: nginx, securityContext: {privileged: true}}]
`

// TestScanHelmStdinLocations checks that findings and problems of objects
// piped from helm template point at their template (lines counted with
// the "# Source:" comment as line 1), in every format, and others at
// <stdin>.
func TestScanHelmStdinLocations(t *testing.T) {
	const template, templateLines = "mychart/templates/deployment.yaml", 14
	out, _, _ := palisade(t, helmTemplateOutput, "scan", "config", "-", "-o", "json")
	var rep struct {
		Findings []struct {
			RuleID string `json:"ruleID"`
			Object struct{ Kind string }
			File   string
			Line   int
		}
		Problems []struct {
			File, Level string
			Line        int
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json report: %v\n%s", err, out)
	}
	want := map[string]string{"Deployment": template, "Pod": "<stdin>"}
	seen := map[string]bool{}
	for _, f := range rep.Findings {
		if f.File != want[f.Object.Kind] {
			t.Errorf("%s on %s: file %q, want %q", f.RuleID, f.Object.Kind, f.File, want[f.Object.Kind])
		}
		if f.Object.Kind == "Deployment" && (f.Line < 1 || f.Line > templateLines) {
			t.Errorf("%s: line %d is not in the template's %d lines", f.RuleID, f.Line, templateLines)
		}
		seen[f.Object.Kind] = true
	}
	if !seen["Deployment"] || !seen["Pod"] {
		t.Errorf("findings on %v, want on the Deployment and the Pod", seen)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].File != "mychart/templates/broken.yaml" || rep.Problems[0].Line != 2 || rep.Problems[0].Level != "error" {
		t.Errorf("problems = %+v, want one error at mychart/templates/broken.yaml:2", rep.Problems)
	}

	out, _, _ = palisade(t, helmTemplateOutput, "scan", "config", "-", "-o", "sarif")
	var sarif struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
						Region           struct {
							StartLine int `json:"startLine"`
						}
					} `json:"physicalLocation"`
				}
			}
			Invocations []struct {
				ToolExecutionNotifications []struct {
					Locations []struct {
						PhysicalLocation struct {
							ArtifactLocation struct{ URI string } `json:"artifactLocation"`
						} `json:"physicalLocation"`
					}
				} `json:"toolExecutionNotifications"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &sarif); err != nil || len(sarif.Runs) != 1 {
		t.Fatalf("sarif report: %v\n%s", err, out)
	}
	uris := map[string]int{}
	for _, r := range sarif.Runs[0].Results {
		for _, l := range r.Locations {
			uris[l.PhysicalLocation.ArtifactLocation.URI]++
			if l.PhysicalLocation.ArtifactLocation.URI == template && l.PhysicalLocation.Region.StartLine > templateLines {
				t.Errorf("%s: SARIF line %d is not in the template", r.RuleID, l.PhysicalLocation.Region.StartLine)
			}
		}
	}
	if uris[template] == 0 || uris["%3Cstdin%3E"] == 0 || len(uris) != 2 {
		t.Errorf("SARIF artifact URIs = %v, want %s and <stdin>", uris, template)
	}
	inv := sarif.Runs[0].Invocations
	// The problem, then the note saying how much was understood.
	if len(inv) != 1 || len(inv[0].ToolExecutionNotifications) != 2 || len(inv[0].ToolExecutionNotifications[0].Locations) != 1 ||
		inv[0].ToolExecutionNotifications[0].Locations[0].PhysicalLocation.ArtifactLocation.URI != "mychart/templates/broken.yaml" {
		t.Errorf("SARIF notifications = %+v, want one at mychart/templates/broken.yaml", inv)
	}

	out, _, _ = palisade(t, helmTemplateOutput, "scan", "config", "-")
	if !strings.Contains(out, template+":") || !strings.Contains(out, "mychart/templates/broken.yaml:2") {
		t.Errorf("table does not name the templates:\n%s", out)
	}
}
