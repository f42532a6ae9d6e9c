package workload

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/manifest"
)

const allKinds = `apiVersion: v1
kind: Pod
metadata: {name: pod, namespace: a}
spec:
  containers: [{name: c, image: x, ports: [{containerPort: 80}]}]
  volumes: [{name: scratch}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: deploy}
spec: {template: {spec: {containers: [{name: c, image: x}]}}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: sts, namespace: a}
spec: {template: {spec: {serviceAccountName: db, containers: [{name: c, image: x}]}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds, namespace: a}
spec: {template: {spec: {containers: [{name: c, image: x}]}}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs, namespace: a}
spec: {template: {spec: {containers: [{name: c, image: x}]}}}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: rc, namespace: a}
spec: {}
---
apiVersion: batch/v1
kind: Job
metadata: {name: job, namespace: a}
spec: {template: {spec: {initContainers: [{name: i, image: y}], containers: [{name: c, image: x}]}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cron, namespace: a, annotations: {team: core}}
spec: {schedule: "* * * * *", jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: x}]}}}}}
---
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {pod-security.kubernetes.io/enforce: baseline}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cr}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, annotations: {palisade.io/exempt: "x: y"}}
spec: {size: 3}
`

func load(t *testing.T, content, ns string) (*Inventory, []string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := manifest.Load(context.Background(), []string{p}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv, probs := FromManifests(set, ns)
	var msgs []string
	for _, p := range append(set.Problems, probs...) {
		msgs = append(msgs, p.String())
	}
	return inv, msgs
}

func TestFromManifestsNormalisesEveryWorkloadKind(t *testing.T) {
	inv, probs := load(t, allKinds, "fallback")
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	got := map[string]*Workload{}
	for _, w := range inv.Workloads {
		got[w.Ref.Kind] = w
	}
	want := map[string]string{
		"Pod": "spec", "Deployment": "spec.template.spec", "StatefulSet": "spec.template.spec", "DaemonSet": "spec.template.spec",
		"ReplicaSet": "spec.template.spec", "ReplicationController": "spec.template.spec", "Job": "spec.template.spec",
		"CronJob": "spec.jobTemplate.spec.template.spec",
	}
	for kind, path := range want {
		w, ok := got[kind]
		if !ok {
			t.Errorf("%s not normalised to a workload", kind)
			continue
		}
		if w.SpecPath != path {
			t.Errorf("%s spec path %q, want %q", kind, w.SpecPath, path)
		}
	}
	if len(inv.Workloads) != len(want) {
		t.Errorf("%d workloads, want %d", len(inv.Workloads), len(want))
	}
	// API-server defaulting.
	pod := got["Pod"]
	if pod.Spec.Volumes[0].EmptyDir == nil {
		t.Error("a volume with no source is not an emptyDir")
	}
	if pod.Spec.Containers[0].Ports[0].Protocol != "TCP" {
		t.Error("port protocol not defaulted to TCP")
	}
	if pod.Spec.ServiceAccountName != "default" || got["StatefulSet"].Spec.ServiceAccountName != "db" {
		t.Error("service account defaulting wrong")
	}
	if got["Deployment"].Namespace() != "fallback" {
		t.Errorf("deployment namespace %q, want the default namespace", got["Deployment"].Namespace())
	}
	if cs := Containers(got["Job"].Spec); len(cs) != 2 || !cs[0].Init || cs[0].Path != "initContainers[0]" || cs[1].Path != "containers[0]" {
		t.Errorf("containers of the job: %+v", cs)
	}
	if lvl, ok := inv.PolicyLevelLabel("a", "enforce"); !ok || lvl != "baseline" {
		t.Errorf("namespace label = %q %v", lvl, ok)
	}
	// Cluster-scoped and unknown kinds.
	for _, o := range inv.Objects {
		switch o.Ref.Kind {
		case "ClusterRole", "Namespace":
			if o.Ref.Namespace != "" {
				t.Errorf("%s got namespace %q", o.Ref.Kind, o.Ref.Namespace)
			}
		case "Widget":
			if o.Ref.Namespace != "fallback" || o.Typed != nil {
				t.Errorf("custom resource: %+v", o.Ref)
			}
			if o.Annotations()["palisade.io/exempt"] != "x: y" {
				t.Error("annotations of an untyped object not read")
			}
			c, err := o.Content()
			if err != nil || c["spec"].(map[string]any)["size"] != int64(3) {
				t.Errorf("content of an untyped object: %v %v", c, err)
			}
		case "CronJob":
			if o.Annotations()["team"] != "core" {
				t.Error("annotations of a typed object not read")
			}
			// The JSON of typed objects is released; Content re-encodes.
			if o.Source.JSON != nil {
				t.Error("typed object kept its JSON")
			}
			c, err := o.Content()
			if err != nil || c["kind"] != "CronJob" || c["metadata"].(map[string]any)["name"] != "cron" {
				t.Errorf("content of a typed object: %v %v", c, err)
			}
		}
	}
}

func TestFromManifestsWrongTypes(t *testing.T) {
	_, probs := load(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: a}\nspec:\n  replicas: three\n  template: {spec: {containers: [{name: c, image: x}]}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: ok, namespace: a}\nspec: {containers: [{name: c, image: x}]}\n", "")
	if len(probs) != 1 || !strings.Contains(probs[0], ":5: Deployment \"d\": field spec.replicas") {
		t.Errorf("problems = %v, want one error at line 5 naming spec.replicas", probs)
	}
}
