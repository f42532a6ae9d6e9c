package rules

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/rules/hardening"
	"github.com/palisade-sec/palisade/internal/workload"
)

// TestHostAccessAtEveryLevel: a privileged pod sharing the node's
// namespaces, ports and file system is reported unsuppressed, at its
// risk's severity, whatever Pod Security level the scan is told to
// apply, and each setting once: by the Pod Security control where it is
// in force, by the hardening rule where it is not (issue #18). In a
// namespace labelled privileged the controls report it suppressed, and
// the hardening rules unsuppressed: the label is a level too, and the
// change being scanned can add it.
func TestHostAccessAtEveryLevel(t *testing.T) {
	set, err := manifest.Load(context.Background(), []string{"testdata/host-access.yaml"}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv, probs := workload.FromManifests(set, "")
	if len(set.Problems)+len(probs) > 0 {
		t.Fatalf("fixture problems: %v %v", set.Problems, probs)
	}
	all, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	hostRules := []string{hardening.PrivilegedContainerID, hardening.HostPIDID, hardening.HostIPCID, hardening.HostNetworkID, hardening.HostPortID, hardening.HostPathVolumeID}
	pssRules := []string{"pss/privileged", "pss/host-namespaces", "pss/host-ports", "pss/host-path-volumes"}
	for _, tt := range []struct {
		level     string
		selectors []string
		// unsuppressed findings in namespace apps of these rules, and
		// none of the others of hostRules, pssRules and
		// privilege-escalation.
		want []string
	}{
		{level: rule.LevelPrivileged, want: append(slices.Clone(hostRules), hardening.PrivilegeEscalationID)},
		{level: rule.LevelBaseline, want: append(slices.Clone(pssRules), hardening.PrivilegeEscalationID)},
		{level: rule.LevelRestricted, want: []string{"pss/privileged", "pss/host-namespaces", "pss/host-ports", "pss/restricted-volumes", "pss/allow-privilege-escalation"}},
		{level: rule.LevelRestricted, selectors: []string{"hardening"}, want: append(slices.Clone(hostRules), hardening.PrivilegeEscalationID)},
		{level: rule.LevelBaseline, selectors: []string{"-pss/host-ports", "-pss/privileged"},
			want: []string{hardening.PrivilegedContainerID, "pss/host-namespaces", hardening.HostPortID, "pss/host-path-volumes", hardening.PrivilegeEscalationID}},
	} {
		name := tt.level + "/" + strings.Join(tt.selectors, ",")
		t.Run(name, func(t *testing.T) {
			sel, err := all.Select(DefaultSelectors(tt.selectors))
			if err != nil {
				t.Fatal(err)
			}
			fs, err := sel.Evaluate(context.Background(), rule.NewContext(inv, rule.Settings{DefaultPSSLevel: tt.level}, sel), nil)
			if err != nil {
				t.Fatal(err)
			}
			watched := append(append(append([]string{}, hostRules...), pssRules...), hardening.PrivilegeEscalationID, "pss/restricted-volumes", "pss/allow-privilege-escalation")
			count, labelled := map[string]int{}, map[string]int{}
			var worst finding.Severity
			for _, f := range fs {
				if !slices.Contains(watched, f.RuleID) {
					continue
				}
				switch {
				case f.Object.Namespace == "node-agents":
					if strings.HasPrefix(f.RuleID, "pss/") && !f.Suppressed {
						t.Errorf("%s unsuppressed in the namespace labelled privileged: %s", f.RuleID, f.Message)
					}
					if !strings.HasPrefix(f.RuleID, "pss/") {
						if f.Suppressed {
							t.Errorf("%s suppressed in the namespace labelled privileged: %s", f.RuleID, f.Message)
						}
						labelled[f.RuleID]++
					}
				case f.Suppressed:
					if !strings.HasPrefix(f.RuleID, "pss/") || tt.level != rule.LevelPrivileged {
						t.Errorf("%s suppressed: %s", f.RuleID, f.Message)
					}
				default:
					count[f.RuleID]++
					worst = max(worst, f.Severity)
				}
			}
			var got []string
			for id, n := range count {
				got = append(got, id)
				if n != 1 && id != hardening.PrivilegeEscalationID && id != "pss/allow-privilege-escalation" {
					t.Errorf("%s reported %d times, want once", id, n)
				}
			}
			sort.Strings(got)
			want := slices.Clone(tt.want)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("unsuppressed rules %v\nwant %v", got, want)
			}
			// The label must not hide what a level would report: every
			// host-access rule reports the labelled namespace's pod.
			for _, id := range hostRules {
				if labelled[id] == 0 {
					t.Errorf("%s not reported in the namespace labelled privileged", id)
				}
			}
			if worst != finding.SeverityCritical {
				t.Errorf("most severe unsuppressed finding %v, want CRITICAL", worst)
			}
		})
	}
}
