package baseline

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

func f(rule, file string, line int, name string) finding.Finding {
	return finding.Finding{RuleID: rule, Severity: finding.SeverityHigh, File: file, Line: line,
		Object: finding.ObjectRef{Kind: "Deployment", Namespace: "default", Name: name}, Container: "app"}
}

func TestFingerprintIgnoresLinesAndRoot(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	base := Fingerprint(f("pss/privileged", "deploy/app.yaml", 10, "app"), ".")
	tests := []struct {
		name string
		in   finding.Finding
		root string
		same bool
	}{
		{"other line", f("pss/privileged", "deploy/app.yaml", 99, "app"), ".", true},
		{"absolute path, same root", f("pss/privileged", filepath.Join(wd, "deploy/app.yaml"), 10, "app"), wd, true},
		{"other rule", f("pss/host-pid", "deploy/app.yaml", 10, "app"), ".", false},
		{"other file", f("pss/privileged", "deploy/other.yaml", 10, "app"), ".", false},
		{"other object", f("pss/privileged", "deploy/app.yaml", 10, "web"), ".", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Fingerprint(tc.in, tc.root) == base; got != tc.same {
				t.Errorf("same fingerprint %v, want %v", got, tc.same)
			}
		})
	}
}

func TestWriteReadApply(t *testing.T) {
	accepted := []finding.Finding{
		f("pss/privileged", "a.yaml", 5, "app"),
		f("dockerfile/remote-add", "Dockerfile", 3, "build"),
		f("dockerfile/remote-add", "Dockerfile", 4, "build"),
	}
	suppressed := f("hardening/latest", "a.yaml", 7, "app")
	suppressed.Suppressed = true
	suppressed.Suppression = &finding.Suppression{Kind: "annotation", Reason: "legacy"}
	r := finding.NewReport(append(append([]finding.Finding{}, accepted...), suppressed), nil, 2, nil)
	b := FromReport(r, ".")
	if len(b.Entries) != 2 {
		t.Fatalf("entries %+v, want 2 (the suppressed finding is not recorded)", b.Entries)
	}
	path := filepath.Join(t.TempDir(), "baseline.json")
	if err := b.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := b.Write(&again); err != nil {
		t.Fatal(err)
	}
	onDisk, _ := os.ReadFile(path)
	if !bytes.Equal(onDisk, again.Bytes()) {
		t.Error("baseline output is not deterministic")
	}
	read, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}

	// Later: lines moved, one accepted finding fixed, a third remote ADD
	// and a new privileged container appeared.
	later := []finding.Finding{
		f("pss/privileged", "a.yaml", 15, "app"),
		f("dockerfile/remote-add", "Dockerfile", 3, "build"),
		f("dockerfile/remote-add", "Dockerfile", 4, "build"),
		f("dockerfile/remote-add", "Dockerfile", 9, "build"),
		f("pss/privileged", "b.yaml", 1, "new"),
	}
	lr := finding.NewReport(later, nil, 3, nil)
	acc, stale := read.Apply(lr, ".", "baseline.json")
	if acc != 3 || stale != 0 {
		t.Errorf("accepted %d stale %d, want 3 and 0", acc, stale)
	}
	if lr.Summary.Total != 2 || lr.Summary.Suppressed != 3 || lr.Summary.Objects != 3 {
		t.Errorf("summary %+v", lr.Summary)
	}
	var newOnes []string
	for _, x := range lr.Findings {
		if !x.Suppressed {
			newOnes = append(newOnes, x.Location())
		} else if x.Suppression.Kind != SuppressionKind {
			t.Errorf("suppression %+v", x.Suppression)
		}
	}
	if strings.Join(newOnes, " ") != "Dockerfile:9 b.yaml:1" {
		t.Errorf("new findings %v", newOnes)
	}

	fixed := finding.NewReport([]finding.Finding{f("pss/privileged", "a.yaml", 15, "app")}, nil, 1, nil)
	if _, stale := read.Apply(fixed, ".", "b"); stale != 1 {
		t.Errorf("stale %d, want 1", stale)
	}
}

func TestReadRejects(t *testing.T) {
	tests := map[string]string{
		"not json":      "nope",
		"wrong version": `{"version":"v0","findings":[]}`,
		"zero count":    `{"version":"` + Version + `","findings":[{"fingerprint":"x","ruleID":"r","count":0}]}`,
		"unknown field": `{"version":"` + Version + `","findings":[],"extra":1}`,
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Read(path); err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v, want one naming %s", err, path)
			}
		})
	}
}

// A baseline written before a rule was split keeps accepting the findings
// of every rule that now carries the former ID as an alias, once per
// entry count for each of them, and nothing else.
func TestApplyThroughAliases(t *testing.T) {
	old := FromReport(finding.NewReport([]finding.Finding{
		f("hardening/resources", "a.yaml", 5, "app"),
		f("hardening/resources", "a.yaml", 9, "db"),
		f("hardening/resources", "a.yaml", 9, "db"),
	}, nil, 2, nil), ".")
	split := []finding.RuleInfo{
		{ID: "hardening/cpu-limits", Aliases: []string{"hardening/resources"}},
		{ID: "hardening/memory-limits", Aliases: []string{"hardening/resources"}},
		{ID: "hardening/latest-tag"},
	}
	tests := []struct {
		name         string
		later        []finding.Finding
		wantAccepted int
		wantStale    int
		wantNew      string
	}{
		{"each split rule accepted up to the count", []finding.Finding{
			f("hardening/cpu-limits", "a.yaml", 6, "app"),
			f("hardening/memory-limits", "a.yaml", 6, "app"),
			f("hardening/cpu-limits", "a.yaml", 9, "db"),
			f("hardening/cpu-limits", "a.yaml", 9, "db"),
			f("hardening/cpu-limits", "a.yaml", 9, "db"),
		}, 4, 0, "hardening/cpu-limits@db"},
		{"a rule without the alias is new", []finding.Finding{
			f("hardening/latest-tag", "a.yaml", 5, "app"),
			f("hardening/memory-limits", "a.yaml", 5, "new"),
		}, 0, 2, "hardening/latest-tag@app hardening/memory-limits@new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := finding.NewReport(tt.later, nil, 2, split)
			acc, stale := old.Apply(r, ".", "baseline.json")
			if acc != tt.wantAccepted || stale != tt.wantStale {
				t.Errorf("accepted %d stale %d, want %d and %d", acc, stale, tt.wantAccepted, tt.wantStale)
			}
			var newOnes []string
			for _, x := range r.Findings {
				if !x.Suppressed {
					newOnes = append(newOnes, x.RuleID+"@"+x.Object.Name)
				}
			}
			if strings.Join(newOnes, " ") != tt.wantNew {
				t.Errorf("new findings %v, want %s", newOnes, tt.wantNew)
			}
		})
	}
}
