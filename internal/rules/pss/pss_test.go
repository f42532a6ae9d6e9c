package pss

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/rules/hardening"
	"github.com/palisade-sec/palisade/internal/workload"
)

// fixtureRoot finds the Pod Security fixtures shipped in the
// k8s.io/pod-security-admission module, at the version go.mod pins.
func fixtureRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/pod-security-admission").Output()
	if err != nil {
		t.Fatalf("locating k8s.io/pod-security-admission: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "test", "testdata")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("pod-security-admission fixtures: %v", err)
	}
	return dir
}

// newestVersionDir returns the newest v1.N directory of a level.
func newestVersionDir(t *testing.T, levelDir string) string {
	t.Helper()
	entries, err := os.ReadDir(levelDir)
	if err != nil {
		t.Fatal(err)
	}
	best, bestMinor := "", -1
	for _, e := range entries {
		var minor int
		if n, _ := fmtSscanf(e.Name(), &minor); n == 1 && minor > bestMinor {
			best, bestMinor = e.Name(), minor
		}
	}
	if best == "" {
		t.Fatalf("no version directory in %s", levelDir)
	}
	return filepath.Join(levelDir, best)
}

func evaluate(t *testing.T, rules *rule.Set, files []string, level string) []finding.Finding {
	t.Helper()
	set, err := manifest.Load(context.Background(), files, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv, probs := workload.FromManifests(set, "fixtures")
	for _, p := range append(set.Problems, probs...) {
		if p.Level == finding.LevelError {
			t.Fatalf("fixture did not load: %v", p)
		}
	}
	c := rule.NewContext(inv, rule.Settings{DefaultPSSLevel: level}, rules)
	fs, err := rules.Evaluate(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// pssRules is the set of this package's rules.
func pssRules(t *testing.T) *rule.Set {
	t.Helper()
	all, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	rules, err := rule.NewSet(all...)
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// TestUpstreamFixtures is the oracle: every "fail" fixture of the newest
// version must raise the Pod Security finding it is named after (or the
// stricter control that overrides it at that level) and every "pass"
// fixture none at all.
func TestUpstreamFixtures(t *testing.T) {
	rules := pssRules(t)
	overriders := map[string][]string{}
	for _, c := range policy.DefaultChecks() {
		for _, o := range c.Versions[len(c.Versions)-1].OverrideCheckIDs {
			overriders[strings.ToLower(string(o))] = append(overriders[strings.ToLower(string(o))], RuleID(c.ID))
		}
	}
	byLowerID := map[string]string{}
	for _, c := range policy.DefaultChecks() {
		byLowerID[strings.ToLower(string(c.ID))] = RuleID(c.ID)
	}
	root := fixtureRoot(t)
	for _, level := range []string{rule.LevelBaseline, rule.LevelRestricted} {
		dir := newestVersionDir(t, filepath.Join(root, level))
		t.Logf("%s fixtures: %s", level, dir)
		for _, outcome := range []string{"pass", "fail"} {
			files, _ := filepath.Glob(filepath.Join(dir, outcome, "*.yaml"))
			if len(files) == 0 {
				t.Fatalf("no fixtures in %s/%s", dir, outcome)
			}
			for _, file := range files {
				name := strings.TrimSuffix(filepath.Base(file), ".yaml")
				t.Run(level+"/"+outcome+"/"+name, func(t *testing.T) {
					got := map[string]bool{}
					for _, f := range evaluate(t, rules, []string{file}, level) {
						got[f.RuleID] = true
					}
					if outcome == "pass" {
						if len(got) > 0 {
							t.Errorf("pass fixture raised %v", keys(got))
						}
						return
					}
					checkID := strings.TrimRight(name, "0123456789")
					want, ok := byLowerID[checkID]
					if !ok {
						t.Fatalf("fixture %s names no known check", name)
					}
					accepted := append([]string{want}, overriders[checkID]...)
					if level == rule.LevelBaseline {
						accepted = []string{want}
					}
					for _, id := range accepted {
						if got[id] {
							return
						}
					}
					t.Errorf("fail fixture raised %v, want one of %v", keys(got), accepted)
				})
			}
		}
	}
}

// TestAgreesWithLibraryEvaluator checks that running the controls one by
// one gives the same verdict as the library's own aggregate evaluator.
func TestAgreesWithLibraryEvaluator(t *testing.T) {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := Rules()
	rules, _ := rule.NewSet(all...)
	root := fixtureRoot(t)
	for _, level := range []string{rule.LevelBaseline, rule.LevelRestricted} {
		dir := newestVersionDir(t, filepath.Join(root, level))
		files, _ := filepath.Glob(filepath.Join(dir, "*", "*.yaml"))
		for _, file := range files {
			set, _ := manifest.Load(context.Background(), []string{file}, manifest.Options{})
			inv, _ := workload.FromManifests(set, "fixtures")
			if len(inv.Workloads) != 1 {
				t.Fatalf("%s: %d workloads", file, len(inv.Workloads))
			}
			w := inv.Workloads[0]
			lv := api.LevelVersion{Level: api.Level(level), Version: api.LatestVersion()}
			agg := policy.AggregateCheckResults(evaluator.EvaluatePod(lv, w.PodMeta, w.Spec))
			fs := evaluate(t, rules, []string{file}, level)
			if agg.Allowed != (len(fs) == 0) {
				t.Errorf("%s at %s: library allowed=%v, Palisade findings=%d", file, level, agg.Allowed, len(fs))
			}
		}
	}
}

// A namespace labelled privileged switches the controls off for its
// workloads; the findings of the default level are still reported, as
// suppressed with the label as the reason, so adding the label cannot
// hide them in a review.
func TestLevelFromNamespaceLabel(t *testing.T) {
	all, _ := Rules()
	rules, _ := rule.NewSet(all...)
	inv := workload.NewInventory()
	for name, level := range map[string]string{"relaxed": "privileged", "strict": "baseline"} {
		inv.Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{api.EnforceLevelLabel: level}}},
			finding.ObjectRef{Kind: "Namespace", Name: name}, nil)
	}
	pod := func(ns string) *corev1.Pod {
		yes := true
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "x", SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}}}
	}
	for _, ns := range []string{"relaxed", "strict", "other"} {
		inv.Add(pod(ns), finding.ObjectRef{Kind: "Pod", Namespace: ns, Name: "p"}, nil)
	}
	c := rule.NewContext(inv, rule.Settings{DefaultPSSLevel: rule.LevelBaseline}, rules)
	fs, err := rules.Evaluate(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		s := f.Object.Namespace + " " + f.RuleID + " " + f.Container
		if f.Suppressed {
			s += " suppressed " + f.Suppression.Kind + ": " + f.Suppression.Reason
		}
		got = append(got, s)
	}
	sort.Strings(got)
	want := []string{
		"other pss/privileged c",
		"relaxed pss/privileged c suppressed namespace-policy: namespace relaxed enforces the privileged Pod Security level",
		"strict pss/privileged c",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// With privileged as the default level too, no control is enforced
	// outside the namespace labelled baseline; the baseline controls'
	// findings are still there, at their severity, suppressed with the
	// level (or the namespace's label) as the reason.
	c = rule.NewContext(inv, rule.Settings{DefaultPSSLevel: rule.LevelPrivileged}, rules)
	fs, _ = rules.Evaluate(context.Background(), c, nil)
	got = nil
	for _, f := range fs {
		s := f.Object.Namespace + " " + f.RuleID + " " + f.Severity.String()
		if f.Suppressed {
			s += " suppressed " + f.Suppression.Kind
		}
		got = append(got, s)
	}
	sort.Strings(got)
	want = []string{
		"other pss/privileged CRITICAL suppressed pss-level",
		"relaxed pss/privileged CRITICAL suppressed namespace-policy",
		"strict pss/privileged CRITICAL",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("at the privileged level:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// withHardening is every Pod Security rule with the two hardening rules
// that report, on their own, part of what the controls forbid.
func withHardening(t *testing.T) *rule.Set {
	t.Helper()
	all, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range hardening.Rules() {
		if r.ID == hardening.DangerousCapabilitiesID || r.ID == hardening.RunAsRootID {
			all = append(all, r)
		}
	}
	set, err := rule.NewSet(all...)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != len(all) || len(all) < 12 {
		t.Fatalf("set of %d rules", set.Len())
	}
	return set
}

// With the two hardening rules selected, the verdicts still agree with
// the upstream fixtures: every fail fixture raises a Pod Security finding,
// every pass fixture no finding at all (not even a hardening one: what
// they report, the baseline forbids).
func TestUpstreamFixturesWithHardening(t *testing.T) {
	rules := withHardening(t)
	root := fixtureRoot(t)
	for _, level := range []string{rule.LevelBaseline, rule.LevelRestricted} {
		dir := newestVersionDir(t, filepath.Join(root, level))
		for _, outcome := range []string{"pass", "fail"} {
			files, _ := filepath.Glob(filepath.Join(dir, outcome, "*.yaml"))
			for _, file := range files {
				got := keysOf(evaluate(t, rules, []string{file}, level))
				if (len(got) > 0) != (outcome == "fail") {
					t.Errorf("%s at %s: findings %v", file, level, got)
				}
			}
		}
	}
}

func keysOf(fs []finding.Finding) []string {
	m := map[string]bool{}
	for _, f := range fs {
		m[f.RuleID+"="+f.Severity.String()] = true
	}
	return keys(m)
}

// agentDeployment is the start of the test Deployments, up to its pod
// spec's fields.
const agentDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: agent, namespace: ops}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
`

const riskyDeployment = agentDeployment + `      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: agent
        image: agent:1
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            drop: [ALL]
            add: [%s]
        volumeMounts: [{name: host, mountPath: /host}]
      volumes:
      - name: host
        %s
`

// Severity follows the risk, not the level: the same pod gets the same
// severity for what breaks the baseline at the baseline and the
// restricted level, and a dangerous capability is also reported, HIGH, by
// its own rule, beside the control's unchanged verdict.
func TestSeverityFollowsRisk(t *testing.T) {
	tests := []struct {
		name       string
		add        string
		volume     string
		baseline   string
		restricted string
	}{
		{"SYS_ADMIN and hostPath", "SYS_ADMIN", "hostPath: {path: /var/lib}",
			"hardening/dangerous-capabilities=HIGH pss/capabilities-baseline=HIGH pss/host-path-volumes=HIGH",
			"hardening/dangerous-capabilities=HIGH pss/capabilities-restricted=HIGH pss/restricted-volumes=HIGH"},
		{"capability beyond the baseline, not dangerous", "SYS_NICE", "emptyDir: {}",
			"pss/capabilities-baseline=HIGH",
			"pss/capabilities-restricted=HIGH"},
		{"only what restricted adds", "NET_BIND_SERVICE", "gitRepo: {repository: https://example.com/r.git}",
			"",
			"pss/restricted-volumes=MEDIUM"},
		{"allowed everywhere", "NET_BIND_SERVICE", "emptyDir: {}", "", ""},
	}
	rules := withHardening(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "d.yaml")
			if err := os.WriteFile(file, []byte(fmt.Sprintf(riskyDeployment, tt.add, tt.volume)), 0o644); err != nil {
				t.Fatal(err)
			}
			for level, want := range map[string]string{rule.LevelBaseline: tt.baseline, rule.LevelRestricted: tt.restricted} {
				if got := strings.Join(keysOf(evaluate(t, rules, []string{file}, level)), " "); got != want {
					t.Errorf("at %s: %s, want %s", level, got, want)
				}
			}
		})
	}
}

// Explicit root is reported, HIGH, by hardening/run-as-root beside the
// restricted controls' unchanged (MEDIUM) verdicts; runAsNonRoot merely
// not set is only the control's finding.
func TestRunAsRootBesidePodSecurity(t *testing.T) {
	rules := withHardening(t)
	const pod = `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: ops}
spec:
  securityContext: {seccompProfile: {type: RuntimeDefault}, %s}
  containers:
  - name: c
    image: x
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
`
	tests := []struct{ name, podSC, want string }{
		{"runAsUser 0 and runAsNonRoot true", "runAsUser: 0, runAsNonRoot: true", "hardening/run-as-root=HIGH pss/run-as-user=MEDIUM"},
		{"runAsNonRoot false", "runAsNonRoot: false", "hardening/run-as-root=HIGH pss/run-as-non-root=MEDIUM"},
		{"runAsNonRoot not set", "", "pss/run-as-non-root=MEDIUM"},
		{"runAsNonRoot false with a user", "runAsNonRoot: false, runAsUser: 1000", "pss/run-as-non-root=MEDIUM"},
		{"non-root", "runAsNonRoot: true, runAsUser: 1000", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "p.yaml")
			if err := os.WriteFile(file, []byte(fmt.Sprintf(pod, tt.podSC)), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(keysOf(evaluate(t, rules, []string{file}, rule.LevelRestricted)), " "); got != tt.want {
				t.Errorf("%s, want %s", got, tt.want)
			}
		})
	}
}

// Every baseline control is at least HIGH; only what restricted adds is
// MEDIUM.
func TestControlSeverities(t *testing.T) {
	all, _ := Rules()
	for _, r := range all {
		if r.HasTag(rule.TagPSSBaseline) && r.Severity < finding.SeverityHigh {
			t.Errorf("baseline control %s is %s", r.ID, r.Severity)
		}
		if !r.HasTag(rule.TagPSSBaseline) && r.Severity != finding.SeverityMedium {
			t.Errorf("restricted control %s is %s", r.ID, r.Severity)
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The two hardening rules apply at every level alike, the privileged one
// included (severity follows the risk, not the profile), and are
// suppressed like the controls in a namespace labelled privileged. At the
// privileged level the baseline controls are shown suppressed.
func TestHardeningRulesFollowTheLevel(t *testing.T) {
	const in = `apiVersion: v1
kind: Namespace
metadata:
  name: relaxed
  labels: {pod-security.kubernetes.io/enforce: privileged}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: %s}
spec:
  securityContext: {runAsUser: 0, runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: c
    image: x
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL], add: [NET_ADMIN]}
`
	tests := []struct{ ns, level, want string }{
		{"apps", rule.LevelPrivileged, "hardening/dangerous-capabilities hardening/run-as-root pss/capabilities-baseline=pss-level"},
		{"relaxed", rule.LevelPrivileged, "hardening/dangerous-capabilities=namespace-policy hardening/run-as-root=namespace-policy pss/capabilities-baseline=namespace-policy"},
		{"apps", rule.LevelBaseline, "hardening/dangerous-capabilities hardening/run-as-root pss/capabilities-baseline"},
		{"apps", rule.LevelRestricted, "hardening/dangerous-capabilities hardening/run-as-root pss/capabilities-restricted pss/run-as-user"},
		{"relaxed", rule.LevelRestricted, "hardening/dangerous-capabilities=namespace-policy hardening/run-as-root=namespace-policy pss/capabilities-restricted=namespace-policy pss/run-as-user=namespace-policy"},
		{"relaxed", rule.LevelBaseline, "hardening/dangerous-capabilities=namespace-policy hardening/run-as-root=namespace-policy pss/capabilities-baseline=namespace-policy"},
	}
	rules := withHardening(t)
	for _, tt := range tests {
		t.Run(tt.ns+"/"+tt.level, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "p.yaml")
			if err := os.WriteFile(file, []byte(fmt.Sprintf(in, tt.ns)), 0o644); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range evaluate(t, rules, []string{file}, tt.level) {
				if f.Suppressed {
					got = append(got, f.RuleID+"="+f.Suppression.Kind)
				} else {
					got = append(got, f.RuleID)
				}
			}
			sort.Strings(got)
			if strings.Join(got, " ") != tt.want {
				t.Errorf("%v, want %s", got, tt.want)
			}
		})
	}
}

const capsDeployment = agentDeployment + `      containers:
      - name: agent
        image: agent:1
        securityContext:
          capabilities: %s
`

// Polaris' insecureCapabilities (its security checks page, and the check
// definition that page links to) fails a container unless it drops ALL,
// or drops every one of CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD,
// NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT,
// KILL, AUDIT_WRITE and NET_ADMIN; it does not look at what is added. The
// mapping to pss/capabilities-restricted holds at the restricted level:
// every container Polaris fails is reported, and Palisade is stricter
// where the table says so (an explicit list instead of ALL; adding more
// than NET_BIND_SERVICE back).
func TestPolarisInsecureCapabilitiesMapping(t *testing.T) {
	polarisList := "[CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE, NET_ADMIN]"
	tests := []struct {
		name         string
		capabilities string
		polarisFails bool
		palisade     bool // pss/capabilities-restricted reports it
	}{
		{"nothing dropped", "{}", true, true},
		{"some dropped", "{drop: [NET_RAW, SYS_ADMIN]}", true, true},
		{"default set but not NET_ADMIN", "{drop: [CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE]}", true, true},
		{"drop ALL", "{drop: [ALL]}", false, false},
		{"drop ALL, add NET_BIND_SERVICE", "{drop: [ALL], add: [NET_BIND_SERVICE]}", false, false},
		// Palisade is stricter: the restricted profile names ALL.
		{"Polaris' explicit list", "{drop: " + polarisList + "}", false, true},
		// Palisade is stricter: what is added back counts.
		{"drop ALL, add SYS_TIME", "{drop: [ALL], add: [SYS_TIME]}", false, true},
	}
	rules := pssRules(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "d.yaml")
			if err := os.WriteFile(file, []byte(fmt.Sprintf(capsDeployment, tt.capabilities)), 0o644); err != nil {
				t.Fatal(err)
			}
			got := false
			for _, f := range evaluate(t, rules, []string{file}, rule.LevelRestricted) {
				got = got || f.RuleID == "pss/capabilities-restricted"
			}
			if got != tt.palisade {
				t.Errorf("pss/capabilities-restricted reported = %v, want %v", got, tt.palisade)
			}
			if tt.polarisFails && !got {
				t.Errorf("Polaris fails this container and Palisade does not: the mapping is looser than its note says")
			}
		})
	}
}

// TestMessageAsFormatted: the message built by concatenation starts as
// fmt.Sprintf's "violates Pod Security %q (%s): " did, at both levels.
func TestMessageAsFormatted(t *testing.T) {
	file := filepath.Join(t.TempDir(), "w.yaml")
	doc := agentDeployment + "      containers:\n      - {name: agent, image: agent:1, securityContext: {privileged: true}}\n"
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, level := range []string{"baseline", "restricted"} {
		fs := evaluate(t, pssRules(t), []string{file}, level)
		if len(fs) == 0 {
			t.Fatalf("%s: no finding", level)
		}
		for _, f := range fs {
			if prefix := fmt.Sprintf("violates Pod Security %q (", level); !strings.HasPrefix(f.Message, prefix) || !strings.Contains(f.Message, "): ") {
				t.Errorf("%s: message %q, want it to start with %q and hold \"): \"", level, f.Message, prefix)
			}
		}
	}
}

// TestDefaultCapabilitiesOnceAtEveryLevel: a container that drops
// NET_RAW alone keeps the runtime's other default capabilities. At every
// level exactly one rule reports it, at the same severity:
// pss/capabilities-restricted where the restricted level applies,
// hardening/default-capabilities-kept elsewhere.
func TestDefaultCapabilitiesOnceAtEveryLevel(t *testing.T) {
	all, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range hardening.Rules() {
		if r.ID == "hardening/default-capabilities-kept" {
			all = append(all, r)
		}
	}
	set, err := rule.NewSet(all...)
	if err != nil {
		t.Fatal(err)
	}
	const pod = `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: apps}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: c
    image: x
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [NET_RAW]}
`
	file := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(file, []byte(pod), 0o644); err != nil {
		t.Fatal(err)
	}
	for level, want := range map[string]string{
		rule.LevelPrivileged: "hardening/default-capabilities-kept MEDIUM",
		rule.LevelBaseline:   "hardening/default-capabilities-kept MEDIUM",
		rule.LevelRestricted: "pss/capabilities-restricted MEDIUM",
	} {
		var got []string
		for _, f := range evaluate(t, set, []string{file}, level) {
			if !f.Suppressed {
				got = append(got, f.RuleID+" "+f.Severity.String())
			}
		}
		if strings.Join(got, ", ") != want {
			t.Errorf("at %s: %v, want %s", level, got, want)
		}
	}
}
