package realworld

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// TestCorpora is the differential test over whole corpora. For every file:
//   - the loader sees exactly the objects the oracle decodes (nothing
//     dropped, nothing invented), and the inventory holds each of them;
//   - every workload (any version a user could mean) is evaluated;
//   - ERROR problems appear exactly where the oracle found a document it
//     cannot use or an unknown version of a built-in group;
//   - an object under a removed or wrong apiVersion carries
//     hardening/deprecated-api-version;
//   - for every workload, whether findings of Pod Security rules (tagged
//     pss-baseline or pss-restricted) are reported at baseline and
//     restricted agrees with k8s.io/pod-security-admission's evaluator.
func TestCorpora(t *testing.T) {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := newMismatches(15)
	for _, c := range allCorpora(t) {
		if len(c.Files) == 0 {
			t.Errorf("corpus %s has no files", c.Name)
			continue
		}
		forEachFile(c.Files, func(file string) {
			checkFile(t, m, evaluator, c.Name, file)
		})
	}
	m.report(t)
}

func checkFile(t *testing.T, m *mismatches, evaluator policy.Evaluator, corpus, file string) {
	oracle, err := decodeFile(file)
	if err != nil {
		m.add(corpus, "unreadable corpus file", "%s: %v", file, err)
		return
	}
	m.count(corpus, "files", 1)
	m.count(corpus, "objects", len(oracle.Objects))

	// Loader: the same objects, as a multiset.
	set, err := manifest.Load(context.Background(), []string{file}, manifest.Options{SkipDockerfiles: true})
	if err != nil {
		m.add(corpus, "loader failed", "%s: %v", file, err)
		return
	}
	want := map[objectID]int{}
	for _, o := range oracle.Objects {
		want[o.ID]++
	}
	got := map[objectID]int{}
	for _, o := range set.Objects {
		got[objectID{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}]++
	}
	for id, n := range want {
		if got[id] < n {
			m.add(corpus, "object dropped by the loader", "%s: %s (oracle %d, loader %d)%s", file, id, n, got[id], fromList(oracle, id))
		}
	}
	for id, n := range got {
		if want[id] < n {
			m.add(corpus, "object invented by the loader", "%s: %s (oracle %d, loader %d)", file, id, want[id], n)
		}
	}

	// Inventory: every object the loader read and a current API server
	// would understand is in it; every workload is evaluated.
	inv, _ := workload.FromManifests(set, "")
	inInventory, evaluated := map[string]bool{}, map[string]bool{}
	for _, o := range inv.Objects {
		inInventory[o.Ref.Kind+"/"+o.Ref.Name] = true
	}
	for _, w := range inv.Workloads {
		evaluated[w.Ref.Kind+"/"+w.Ref.Name] = true
	}
	for _, o := range oracle.Objects {
		class := classify(o.ID.APIVersion, o.ID.Kind)
		if class != unknownVersion && !inInventory[o.ID.Kind+"/"+o.ID.Name] {
			m.add(corpus, "object missing from the inventory", "%s: %s [%s]", file, o.ID, class)
		}
		if isWorkload(o.ID) {
			m.count(corpus, "workloads", 1)
			ok, oname := controllerOwner(o.Content)
			if !evaluated[o.ID.Kind+"/"+o.ID.Name] && !evaluated[ok+"/"+oname] {
				m.add(corpus, "workload not evaluated", "%s: %s [%s]", file, o.ID, class)
			}
		}
	}

	restricted := scanPaths(t, []string{file}, rule.LevelRestricted)
	baseline := scanPaths(t, []string{file}, rule.LevelBaseline)

	// Problems: an ERROR exactly where the input cannot be used.
	var reasons []string
	reasons = append(reasons, oracle.Unreadable...)
	for _, o := range oracle.Objects {
		if classify(o.ID.APIVersion, o.ID.Kind) == unknownVersion {
			reasons = append(reasons, fmt.Sprintf("%s: unknown version of a built-in group", o.ID))
		}
	}
	// With no object in the file, "nothing to scan" is the right answer
	// for a scan of it alone; otherwise every ERROR counts.
	errs := errorProblems(restricted, file, len(oracle.Objects) == 0)
	switch {
	case len(reasons) > 0 && len(errs) == 0:
		m.add(corpus, "input not understood but no ERROR problem", "%s: %s", file, strings.Join(reasons, "; "))
	case len(reasons) == 0 && len(errs) > 0:
		m.add(corpus, "ERROR problem on input the oracle understands", "%s: %s", file, strings.Join(errs, "; "))
	}

	// Removed and wrong versions: evaluated as the kind and reported.
	for _, o := range oracle.Objects {
		class := classify(o.ID.APIVersion, o.ID.Kind)
		if class != removed && class != wrongGroup || !isResource(o.ID.APIVersion, o.ID.Kind) {
			continue
		}
		m.count(corpus, "old-version objects", 1)
		if len(ruleIDs(findingsOn(restricted, o), deprecatedRule)) == 0 {
			m.add(corpus, "removed or wrong apiVersion without "+deprecatedRule, "%s: %s [%s]", file, o.ID, class)
		}
	}

	// Pod Security: the upstream evaluator's verdict is the oracle.
	labelled := pssLabelledNamespaces(oracle)
	for _, o := range oracle.Objects {
		if !isWorkload(o.ID) {
			continue
		}
		if labelled[o.ID.Namespace] {
			// Palisade rightly evaluates these at the namespace's level,
			// which the default-level comparison cannot check.
			m.count(corpus, "pss skipped (labelled namespace)", 1)
			continue
		}
		meta, spec, err := podTemplate(o)
		if err != nil {
			m.add(corpus, "oracle cannot read pod template", "%s: %s: %v", file, o.ID, err)
			continue
		}
		m.count(corpus, "pss comparisons", 2)
		for _, lv := range []struct {
			level string
			rep   *finding.Report
		}{{rule.LevelBaseline, baseline}, {rule.LevelRestricted, restricted}} {
			res := policy.AggregateCheckResults(evaluator.EvaluatePod(
				api.LevelVersion{Level: api.Level(lv.level), Version: api.LatestVersion()}, meta, spec))
			got := podSecurityRuleIDs(t, findingsOn(lv.rep, o))
			if res.Allowed != (len(got) == 0) {
				m.add(corpus, "Pod Security verdict differs at "+lv.level,
					"%s: %s: pod-security-admission allowed=%v (%s), Palisade %v", file, o.ID, res.Allowed, res.ForbiddenDetail(), got)
			}
		}
	}
}

// fromList says where a dropped object came from, to tell list bugs from
// others at a glance.
func fromList(f oracleFile, id objectID) string {
	for _, o := range f.Objects {
		if o.ID == id && o.List != "" {
			return " [item of a " + o.List + "]"
		}
	}
	return ""
}

// pssLabelledNamespaces are the namespaces of a file that set their own
// Pod Security enforce level.
func pssLabelledNamespaces(f oracleFile) map[string]bool {
	out := map[string]bool{}
	for _, o := range f.Objects {
		if o.ID.Kind != "Namespace" {
			continue
		}
		md, _ := o.Content["metadata"].(map[string]any)
		labels, _ := md["labels"].(map[string]any)
		if _, ok := labels[api.EnforceLevelLabel]; ok {
			out[o.ID.Name] = true
		}
	}
	return out
}

// podTemplate extracts the pod metadata and spec of a workload the way the
// pod-security-admission webhook does, from the object as written.
func podTemplate(o oracleObject) (*metav1.ObjectMeta, *corev1.PodSpec, error) {
	var tmpl any = o.Content
	for _, k := range workloadKinds[o.ID.Kind] {
		mm, ok := tmpl.(map[string]any)
		if !ok {
			return nil, nil, fmt.Errorf("no %s", strings.Join(workloadKinds[o.ID.Kind], "."))
		}
		tmpl = mm[k]
	}
	if tmpl == nil {
		return nil, nil, fmt.Errorf("no pod template at %s", strings.Join(workloadKinds[o.ID.Kind], "."))
	}
	raw, err := json.Marshal(tmpl)
	if err != nil {
		return nil, nil, err
	}
	var pt corev1.PodTemplateSpec
	if err := json.Unmarshal(raw, &pt); err != nil {
		return nil, nil, err
	}
	return &pt.ObjectMeta, &pt.Spec, nil
}

// TestCorpusExpectations checks the hand-written expectations.yaml beside
// each committed corpus.
func TestCorpusExpectations(t *testing.T) {
	entries, err := os.ReadDir(realworldDir)
	if err != nil {
		t.Fatal(err)
	}
	m := newMismatches(15)
	n := 0
	for _, e := range entries {
		exp := filepath.Join(realworldDir, e.Name(), expectationsFile)
		_, errExp := os.Stat(exp)
		_, errSrc := os.Stat(filepath.Join(realworldDir, e.Name(), "SOURCE.md"))
		if !e.IsDir() || errExp != nil || errSrc != nil {
			continue
		}
		n++
		checkExpectations(t, m, e.Name(), filepath.Join(realworldDir, e.Name()), exp)
	}
	if n == 0 {
		t.Fatal("no corpus has an expectations file")
	}
	m.report(t)
}

// podSecurityRuleIDs are the rules of findings that carry a Pod Security
// tag: the pss/ controls and the rules that take over part of one
// (dangerous capabilities, running as root). Whether any fired is
// Palisade's Pod Security verdict.
func podSecurityRuleIDs(t *testing.T, fs []finding.Finding) []string {
	set, err := builtinRules()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range fs {
		if r, ok := set.Get(f.RuleID); ok && (r.HasTag(rule.TagPSSBaseline) || r.HasTag(rule.TagPSSRestricted)) {
			seen[f.RuleID] = true
		}
	}
	return sortedKeys(seen)
}
