package netpol

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/workload"
)

const foldedScenario = "testdata/scenarios/10-pods-folded-into-owners/input.yaml"

func loadInventory(t *testing.T, doc string) *workload.Inventory {
	t.Helper()
	inv, _, err := LoadInventory(context.Background(), []string{"-"}, strings.NewReader(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFoldedPeersEverywhere: pods folded into their owner are that owner in
// findings, --focus and Peer lookups, never one entry per pod.
func TestFoldedPeersEverywhere(t *testing.T) {
	inv := loadInventory(t, readFile(t, foldedScenario))
	m := FromInventory(inv).Model

	var objects []string
	for _, f := range Findings(m) {
		if f.RuleID == RuleNoIngress || f.RuleID == RuleNoEgress {
			objects = append(objects, f.RuleID+" "+f.Object.Kind+" "+f.Object.Namespace+"/"+f.Object.Name)
		}
	}
	slices.Sort(objects)
	want := []string{
		RuleNoEgress + " Pod shop/debug",
		RuleNoEgress + " ReplicaSet shop/web-7d4b9c6f5",
		RuleNoEgress + " StatefulSet shop/db",
		RuleNoIngress + " Pod shop/debug",
		RuleNoIngress + " ReplicaSet shop/web-7d4b9c6f5",
	}
	if !slices.Equal(objects, want) {
		t.Errorf("isolation findings on %q, want %q", objects, want)
	}

	for _, name := range []string{"shop/web-7d4b9c6f5", "shop/web-7d4b9c6f5[ReplicaSet]", "shop/db"} {
		p, err := m.Peer(name)
		if err != nil {
			t.Errorf("Peer(%q): %v", name, err)
			continue
		}
		for _, e := range m.Focus(p) {
			for _, s := range []string{e.Src.String(), e.Dst.String()} {
				if strings.Contains(s, "[Pod]") && !strings.Contains(s, "debug") {
					t.Errorf("focus on %s names a pod: %s", name, s)
				}
			}
		}
	}
	if p, err := m.Peer("shop/db"); err == nil && !slices.Equal(p.Pods, []string{"db-0", "db-1"}) {
		t.Errorf("shop/db pods = %q", p.Pods)
	}
	if _, err := m.Peer("shop/db-0"); err == nil {
		t.Error("a folded pod is still a peer of its own")
	}
}

// TestDiffIgnoresReplacedPods: two dumps of the same workloads whose pods
// were replaced (new names, same owners) have the same connectivity.
func TestDiffIgnoresReplacedPods(t *testing.T) {
	before := readFile(t, foldedScenario)
	after := strings.NewReplacer("web-7d4b9c6f5-2xkqp", "web-7d4b9c6f5-p0p0p", "web-7d4b9c6f5-9hzvw", "web-7d4b9c6f5-q1q1q", "10.244.1.7", "10.244.3.3").Replace(before)
	var conns [2]*Connectivity
	for i, doc := range []string{before, after} {
		m := FromInventory(loadInventory(t, doc)).Model
		c, err := Analyze(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	if d := Diff(conns[0], conns[1]); len(d) != 0 {
		t.Errorf("replaced pods changed connectivity: %v", d)
	}
}

// TestGenerateForFoldedPeers: requirements name owners; the generated
// policies select the owners' stable labels (never pod-template-hash or a
// StatefulSet pod's name, which change with every rollout or differ per
// pod) and the proof holds.
func TestGenerateForFoldedPeers(t *testing.T) {
	inv := loadInventory(t, readFile(t, foldedScenario))
	req := mustParse(t, `apiVersion: palisade.io/v1alpha1
kind: NetworkRequirements
namespaces: [shop]
dns: {disabled: true}
allow:
- {from: shop/web-7d4b9c6f5, to: shop/db, ports: [TCP/5432]}
- {from: shop/debug, to: "shop/web-7d4b9c6f5[ReplicaSet]", ports: [TCP/8080]}
`)
	plan, err := Generate(inv, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plan.Policies {
		for k := range p.Spec.PodSelector.MatchLabels {
			if perPodLabels[k] {
				t.Errorf("policy %s selects per-pod label %s", p.Name, k)
			}
		}
	}
	proof, err := plan.Prove(context.Background(), inv)
	if err != nil {
		t.Fatal(err)
	}
	if !proof.OK() {
		t.Fatalf("proof failed: %v %v", proof.Differences, proof.Unmet)
	}
}

// TestGenerateRefusesDisagreeingPods: an owner whose pods do not share the
// labels a policy would select cannot be given a policy of its own.
func TestGenerateRefusesDisagreeingPods(t *testing.T) {
	doc := strings.ReplaceAll(readFile(t, foldedScenario), "labels: {app: web, pod-template-hash: 7d4b9c6f5}\n    ownerReferences:\n    - {apiVersion: apps/v1, kind: ReplicaSet, name: web-7d4b9c6f5, uid: 0b0d1c1e-0000-4000-8000-0000000000aa, controller: true, blockOwnerDeletion: true}\n  spec:\n    containers:\n    - {name: web, image: nginx:1.27, ports: [{name: http, containerPort: 8080, protocol: TCP}]}\n  status: {phase: Running, podIP: 10.244.2.4",
		"labels: {app: web2, pod-template-hash: 7d4b9c6f5}\n    ownerReferences:\n    - {apiVersion: apps/v1, kind: ReplicaSet, name: web-7d4b9c6f5, uid: 0b0d1c1e-0000-4000-8000-0000000000aa, controller: true, blockOwnerDeletion: true}\n  spec:\n    containers:\n    - {name: web, image: nginx:1.27, ports: [{name: http, containerPort: 8080, protocol: TCP}]}\n  status: {phase: Running, podIP: 10.244.2.4")
	inv := loadInventory(t, doc)
	b := FromInventory(inv)
	if !slices.ContainsFunc(b.Problems, func(p finding.Problem) bool {
		return p.Level == finding.LevelNote && strings.Contains(p.Message, "shop/web-7d4b9c6f5[ReplicaSet]: its 2 pods do not behave as one peer (their labels differ in app;")
	}) {
		t.Fatalf("no note on the disagreeing pods: %v", b.Problems)
	}
	req := mustParse(t, "apiVersion: palisade.io/v1alpha1\nkind: NetworkRequirements\nnamespaces: [shop]\nallow:\n- {from: shop/debug, to: shop/web-7d4b9c6f5}\n")
	if _, err := Generate(inv, req); err == nil || !strings.Contains(err.Error(), "cannot be selected as one") {
		t.Fatalf("Generate = %v, want a refusal", err)
	}
}

// TestInferNamesOwners: inferred requirements name the folded peers, once.
func TestInferNamesOwners(t *testing.T) {
	doc := readFile(t, foldedScenario) + `---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {selector: {app: db}, ports: [{port: 5432, targetPort: pg}]}
`
	doc = strings.ReplaceAll(doc, "- {name: web, image: nginx:1.27, ports:", "- {name: web, image: nginx:1.27, env: [{name: DB, value: 'postgres://db:5432/shop'}], ports:")
	got := InferRequirements(loadInventory(t, doc))
	if len(got) != 1 || got[0].From != "shop/web-7d4b9c6f5[ReplicaSet]" || got[0].To != "shop/db[StatefulSet]" {
		t.Fatalf("inferred %+v, want one shop/web-7d4b9c6f5[ReplicaSet] -> shop/db[StatefulSet]", got)
	}
}

// TestOwnersInInputNotRepeated: the objects of a dump that stand for the
// same pods give one peer, named after the pods' controller.
func TestOwnersInInputNotRepeated(t *testing.T) {
	pod := func(name, labels, owner string) string {
		return "---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: a, labels: {" + labels + "}, ownerReferences: [" + owner + "]}\nspec: {containers: [{name: c, image: x}]}\nstatus: {phase: Running}\n"
	}
	const cronJob = "---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: backup, namespace: a}\nspec: {schedule: '@daily', jobTemplate: {spec: {template: {metadata: {labels: {app: backup}}, spec: {containers: [{name: c, image: x}]}}}}}\n"
	const job = "---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: backup-29001300, namespace: a, ownerReferences: [{apiVersion: batch/v1, kind: CronJob, name: backup, uid: u, controller: true}]}\nspec: {template: {metadata: {labels: {app: backup}}, spec: {containers: [{name: c, image: x}]}}}\n"
	const deploy = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: a}\nspec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: x}]}}}\n"
	jobPod := pod("backup-29001300-xk2p9", "app: backup", "{apiVersion: batch/v1, kind: Job, name: backup-29001300, uid: j, controller: true}")
	webPod := pod("web-5d8c-aaaaa", "app: web, pod-template-hash: 5d8c", "{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d8c, uid: r, controller: true}")
	for name, tc := range map[string]struct {
		doc  string
		want []string
	}{
		"cronjob with running job pod, job absent":       {cronJob + jobPod, []string{"a/backup-29001300[Job]"}},
		"cronjob, its job, and the job's pod":            {cronJob + job + jobPod, []string{"a/backup-29001300[Job]"}},
		"cronjob and its job, no pods":                   {cronJob + job, []string{"a/backup[CronJob]"}},
		"deployment and pod, replicaset absent":          {deploy + webPod, []string{"a/web-5d8c[ReplicaSet]"}},
		"pod not owned (owner reference not controller)": {pod("p", "app: p", "{apiVersion: v1, kind: ConfigMap, name: cm, uid: c}"), []string{"a/p[Pod]"}},
		"deployment of another name stays":               {strings.ReplaceAll(deploy, "name: web", "name: webx") + webPod, []string{"a/web-5d8c[ReplicaSet]", "a/webx[Deployment]"}},
	} {
		t.Run(name, func(t *testing.T) {
			m := FromInventory(loadInventory(t, tc.doc)).Model
			var got []string
			for _, p := range m.Peers {
				got = append(got, p.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("peers %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLabelConflictsScoped: pods of one StatefulSet differ in their
// per-pod name label; only a selector that can see them (a policy of their
// namespace, or a rule peer naming it) makes that a note.
func TestLabelConflictsScoped(t *testing.T) {
	pods := ""
	for _, n := range []string{"db-0", "db-1"} {
		pods += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + n + ", namespace: a, labels: {app: db, statefulset.kubernetes.io/pod-name: " + n + "}, ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: db, uid: u, controller: true}]}\nspec: {containers: [{name: c, image: x}]}\n"
	}
	policy := func(ns, spec string) string {
		return "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: " + ns + "}\nspec: " + spec + "\n"
	}
	const first = "{podSelector: {matchLabels: {statefulset.kubernetes.io/pod-name: db-0}}}"
	for name, tc := range map[string]struct {
		policies string
		note     bool
	}{
		"no policy":                           {"", false},
		"selected in their namespace":         {policy("a", first), true},
		"same selector in another namespace":  {policy("b", first), false},
		"rule peer in the policy's namespace": {policy("b", "{podSelector: {}, ingress: [{from: ["+first+"]}]}"), false},
		"rule peer naming their namespace":    {policy("b", "{podSelector: {}, ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {statefulset.kubernetes.io/pod-name: db-0}}}]}]}"), true},
	} {
		t.Run(name, func(t *testing.T) {
			b := FromInventory(loadInventory(t, pods+tc.policies))
			got := slices.ContainsFunc(b.Problems, func(p finding.Problem) bool {
				return strings.Contains(p.Message, "a/db[StatefulSet]: its 2 pods do not behave as one peer")
			})
			if got != tc.note {
				t.Errorf("note = %v, want %v: %v", got, tc.note, b.Problems)
			}
		})
	}
}

// TestNamedPortsOfFoldedPods: the named ports of every pod of an owner
// count (each pod's, not only those before the first one already seen),
// and pods whose named port stands for different numbers are named in a
// note, since the peer then shows the ports of all of them.
func TestNamedPortsOfFoldedPods(t *testing.T) {
	pod := func(name, ports string) string {
		return "---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: a, labels: {app: web}, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web, uid: u, controller: true}]}\nspec: {containers: [{name: c, image: x, ports: " + ports + "}]}\n"
	}
	const cli = "---\napiVersion: v1\nkind: Pod\nmetadata: {name: cli, namespace: a, labels: {app: cli}}\nspec: {containers: [{name: c, image: x}]}\n"
	policy := func(port string) string {
		return "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web, namespace: a}\nspec: {podSelector: {matchLabels: {app: web}}, ingress: [{from: [{podSelector: {matchLabels: {app: cli}}}], ports: [{port: " + port + "}]}]}\n"
	}
	for name, tc := range map[string]struct {
		doc  string
		want string // cli => web
		note string // "" for none
	}{
		// web-2 lists metrics after the http port web-1 already gave.
		"port after a known one": {pod("web-1", "[{name: http, containerPort: 8080}]") + pod("web-2", "[{name: http, containerPort: 8080}, {name: metrics, containerPort: 9100}]") + cli + policy("metrics"),
			"TCP 9100", ""},
		"same ports": {pod("web-1", "[{name: http, containerPort: 8080}]") + pod("web-2", "[{name: http, containerPort: 8080}]") + cli + policy("http"),
			"TCP 8080", ""},
		// Each pod accepts one of the two; the peer shows both.
		"port differs": {pod("web-1", "[{name: http, containerPort: 8080}]") + pod("web-2", "[{name: http, containerPort: 9090}]") + cli + policy("http"),
			"TCP 8080,9090", `their named ports differ: "http" is TCP 8080 or TCP 9090`},
		// The policy's port has the default protocol, TCP: a named port
		// matches a container port of its name and protocol, so web-2's
		// UDP one never does; the note still says the pods differ.
		"protocol differs": {pod("web-1", "[{name: dns, containerPort: 53}]") + pod("web-2", "[{name: dns, containerPort: 53, protocol: UDP}]") + cli + policy("dns"),
			"TCP 53", `"dns" is TCP 53 or UDP 53`},
	} {
		t.Run(name, func(t *testing.T) {
			b := FromInventory(loadInventory(t, tc.doc))
			c, err := Analyze(context.Background(), b.Model)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, x := range c.Connections {
				if x.Src.String() == "a/cli[Pod]" && x.Dst.String() == "a/web[ReplicaSet]" {
					got = x.Conns.String()
				}
			}
			if got != tc.want {
				t.Errorf("a/cli => a/web = %q, want %q", got, tc.want)
			}
			var notes []string
			for _, p := range b.Problems {
				if strings.Contains(p.Message, "do not behave as one peer") {
					notes = append(notes, p.Message)
				}
			}
			switch {
			case tc.note == "" && len(notes) > 0:
				t.Errorf("notes %q, want none", notes)
			case tc.note != "" && (len(notes) != 1 || !strings.Contains(notes[0], tc.note)):
				t.Errorf("notes %q, want one containing %q", notes, tc.note)
			}
		})
	}
}
