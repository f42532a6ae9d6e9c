package rule

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/workload"
)

func inventoryOf(t *testing.T, yaml string) *workload.Inventory {
	t.Helper()
	file := filepath.Join(t.TempDir(), "in.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := manifest.Load(context.Background(), []string{file}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv, probs := workload.FromManifests(set, "")
	for _, p := range append(set.Problems, probs...) {
		t.Fatalf("input problem: %v", p)
	}
	return inv
}

func deployment(objectAnnotation, templateAnnotation string) string {
	y := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n"
	if objectAnnotation != "" {
		y += "  annotations:\n    palisade.io/exempt: \"" + objectAnnotation + "\"\n"
	}
	y += "spec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata:\n      labels: {app: web}\n"
	if templateAnnotation != "" {
		y += "      annotations:\n        palisade.io/exempt: \"" + templateAnnotation + "\"\n"
	}
	return y + "    spec:\n      containers:\n      - {name: web, image: nginx}\n"
}

// suppressedRules applies exemptions to one finding per rule of splitSet
// on the only object of the inventory and returns what was suppressed,
// as "rule-id=kind".
func suppressedRules(t *testing.T, inv *workload.Inventory, exceptions []Exception) (string, []finding.Problem) {
	t.Helper()
	s := splitSet(t)
	var fs []finding.Finding
	for _, r := range s.Rules() {
		fs = append(fs, finding.Finding{RuleID: r.ID, Object: inv.Objects[0].Ref})
	}
	probs := ApplyExemptions(fs, s, inv, exceptions, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var got []string
	for _, f := range fs {
		if f.Suppressed {
			got = append(got, f.RuleID+"="+f.Suppression.Kind)
		}
	}
	return strings.Join(got, ","), probs
}

func TestAnnotationExemptions(t *testing.T) {
	tests := []struct {
		name               string
		object, template   string
		want               string
		wantProblemOnField string
	}{
		{name: "alias exempts every rule it stands for", object: "x/resources: sized by the VPA",
			want: "x/cpu-limits=annotation,x/memory-limits=annotation"},
		{name: "split ID exempts only itself", object: "x/cpu-limits: no CPU limits by design",
			want: "x/cpu-limits=annotation"},
		{name: "template annotation alone", template: "x/latest-tag: pinned by the operator",
			want: "x/latest-tag=annotation"},
		{name: "object and template annotations both count", object: "x/latest-tag: pinned by the operator",
			template: "x/resources: sized by the VPA",
			want:     "x/cpu-limits=annotation,x/latest-tag=annotation,x/memory-limits=annotation"},
		{name: "malformed template annotation is a warning at its line", object: "x/latest-tag: pinned",
			template: "x/resources", want: "x/latest-tag=annotation", wantProblemOnField: "spec.template.metadata.annotations.palisade.io/exempt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := inventoryOf(t, deployment(tt.object, tt.template))
			got, probs := suppressedRules(t, inv, nil)
			if got != tt.want {
				t.Errorf("suppressed %q, want %q", got, tt.want)
			}
			if tt.wantProblemOnField == "" {
				if len(probs) > 0 {
					t.Errorf("problems %v", probs)
				}
				return
			}
			src := inv.Objects[0].Source
			if len(probs) != 1 || probs[0].Line != src.LineOf(tt.wantProblemOnField) || probs[0].Line == src.Line {
				t.Errorf("problems %+v, want one at line %d", probs, src.LineOf(tt.wantProblemOnField))
			}
		})
	}
}

func TestPolicyExceptionAliases(t *testing.T) {
	inv := inventoryOf(t, deployment("", ""))
	got, _ := suppressedRules(t, inv, []Exception{{Rules: []string{"x/resources"}, Namespaces: []string{"shop"}, Reason: "VPA"}})
	if want := "x/cpu-limits=policy,x/memory-limits=policy"; got != want {
		t.Errorf("suppressed %q, want %q", got, want)
	}
}

// TestExceptionRulesChecked: an exception whose rule ID designates no
// rule at all (a typo) is an error naming where it is written, as --rules
// refuses a typo; one for rules the scan does not run is a warning, once;
// tags, globs and former IDs designate rules.
func TestExceptionRulesChecked(t *testing.T) {
	all, err := NewSet(testRule("hardening/latest-tag", []string{"hardening/old-tag"}, TagHardening), testRule("pss/privileged", nil, TagPSSBaseline))
	if err != nil {
		t.Fatal(err)
	}
	src := "policy p.yaml:7: spec.exceptions[1]"
	for _, rules := range [][]string{{"hardening/latest-tag"}, {"hardening/*"}, {"pss-baseline"}, {"hardening/old-tag"}} {
		if err := CheckExceptionRules(all, []Exception{{Rules: rules, Reason: "r", Source: src}}); err != nil {
			t.Errorf("%v: %v", rules, err)
		}
	}
	for _, rules := range [][]string{{"hardening/latest-tags"}, {"hardening/latest-tag", "pss/privilegd"}, {"-pss/privileged"}} {
		err := CheckExceptionRules(all, []Exception{{Rules: []string{"pss/privileged"}, Reason: "r"}, {Rules: rules, Reason: "r", Source: src}})
		if err == nil || !strings.Contains(err.Error(), src) || !strings.Contains(err.Error(), rules[len(rules)-1]) {
			t.Errorf("%v: error %v, want one naming %q and the rule", rules, err, src)
		}
	}

	selected, err := all.Select([]string{"pss/*"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	past := now.Add(-time.Hour)
	probs := IdleExceptions(selected, []Exception{
		{Rules: []string{"pss/privileged"}, Reason: "used"},
		{Rules: []string{"hardening/latest-tag"}, Reason: "not selected", Source: src},
		{Rules: []string{"hardening/*"}, Reason: "expired: ApplyExemptions says so", Expires: &past},
	}, now)
	if len(probs) != 1 || probs[0].Level != finding.LevelWarning || !strings.Contains(probs[0].Message, src) || !strings.Contains(probs[0].Message, "hardening/latest-tag") {
		t.Errorf("warnings %+v, want one naming %q and its rule", probs, src)
	}
}
