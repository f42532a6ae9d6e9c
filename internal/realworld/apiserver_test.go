package realworld

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// capture rewrites testdata/realworld/apiserver-dump from the live run:
//
//	go test ./internal/realworld -run TestAPIServerDumps -capture
var capture = flag.Bool("capture", false, "write the live API server's dumps to testdata/realworld/apiserver-dump")

// dumpDir is the committed capture of TestAPIServerDumps, a corpus of its
// own so the object dumps are checked even where no control plane runs.
var dumpDir = filepath.Join(realworldDir, "apiserver-dump")

// liveObjects are created in a fresh namespace of a real kube-apiserver
// and read back as the API server and kubectl write them. The
// ReplicaSet's Pod is given its controller ownerReference by the test
// (there is no controller-manager to create it).
const liveObjects = `
apiVersion: v1
kind: Pod
metadata: {name: privileged-pod, labels: {app: debug}}
spec:
  containers:
  - name: shell
    image: registry.k8s.io/e2e-test-images/busybox:1.36.1-1
    securityContext: {privileged: true}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: hostpath-sysadmin}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - name: agent
        image: registry.example/agent:2.1
        securityContext: {capabilities: {add: [SYS_ADMIN]}}
        volumeMounts: [{name: logs, mountPath: /host/logs}]
      volumes: [{name: logs, hostPath: {path: /var/log}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-agent}
spec:
  selector: {matchLabels: {app: node-agent}}
  template:
    metadata: {labels: {app: node-agent}}
    spec:
      hostNetwork: true
      hostPID: true
      containers: [{name: agent, image: registry.example/node-agent:1.0}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 999, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: db
        image: registry.example/db:16.4
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: backup, image: "registry.example/backup:latest"}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: registry.example/migrate:3
        securityContext: {runAsUser: 0}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy-rc}
spec:
  selector: {app: legacy}
  template:
    metadata: {labels: {app: legacy}}
    spec:
      containers: [{name: web, image: registry.example/legacy:0.9}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-rs}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.example/web:1.0
        securityContext: {privileged: true}
---
apiVersion: v1
kind: Pod
metadata: {name: web-rs-x7k2p, labels: {app: web}}
spec:
  containers:
  - name: web
    image: registry.example/web:1.0
    securityContext: {privileged: true}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: secret-admin}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: ["*"]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: app}
`

// liveResources are what the test lists back, by the file it writes.
var liveResources = []struct {
	file string
	gvr  schema.GroupVersionResource
}{
	{"pods.json", schema.GroupVersionResource{Version: "v1", Resource: "pods"}},
	{"deployments.json", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}},
	{"daemonsets.json", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}},
	{"statefulsets.json", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}},
	{"replicasets.json", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}},
	{"replicationcontrollers.json", schema.GroupVersionResource{Version: "v1", Resource: "replicationcontrollers"}},
	{"jobs.json", schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}},
	{"cronjobs.json", schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}},
	{"roles.json", schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}},
	{"networkpolicies.json", schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}},
	{"services.json", schema.GroupVersionResource{Version: "v1", Resource: "services"}},
	{"serviceaccounts.json", schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}},
}

var liveKinds = map[string]schema.GroupVersionResource{
	"Pod": liveResources[0].gvr, "Deployment": liveResources[1].gvr, "DaemonSet": liveResources[2].gvr,
	"StatefulSet": liveResources[3].gvr, "ReplicaSet": liveResources[4].gvr, "ReplicationController": liveResources[5].gvr,
	"Job": liveResources[6].gvr, "CronJob": liveResources[7].gvr, "Role": liveResources[8].gvr,
	"NetworkPolicy": liveResources[9].gvr, "Service": liveResources[10].gvr, "ServiceAccount": liveResources[11].gvr,
}

// TestAPIServerDumps creates workloads in a real kube-apiserver, dumps
// them as the API server returns them (typed lists whose items carry no
// apiVersion or kind, with managedFields and status), as `kubectl get -o
// yaml` prints several kinds (kind: List) and as `kubectl get -o json`
// prints one, and runs the corpus checks and the hand-written
// expectations of apiserver-dump on them.
func TestAPIServerDumps(t *testing.T) {
	env := testenv.Shared(t)
	ctx := t.Context()
	ns := env.CreateNamespace(ctx, t, "realworld-", nil).Name
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	var rsUID string
	for _, doc := range strings.Split(liveObjects, "\n---\n") {
		var obj unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatalf("live object: %v", err)
		}
		if obj.GetName() == "web-rs-x7k2p" {
			yes := true
			obj.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-rs",
				UID: types.UID(rsUID), Controller: &yes, BlockOwnerDeletion: &yes}})
		}
		created, err := dyn.Resource(liveKinds[obj.GetKind()]).Namespace(ns).Create(ctx, &obj, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
		if created.GetKind() == "ReplicaSet" {
			rsUID = string(created.GetUID())
		}
	}

	dir := t.TempDir()
	rest := env.AdminClient(t).CoreV1().RESTClient()
	var all []any
	paths := map[string]string{"namespaces.json": "/api/v1/namespaces"}
	for _, r := range liveResources {
		prefix := "/apis/" + r.gvr.Group + "/" + r.gvr.Version
		if r.gvr.Group == "" {
			prefix = "/api/v1"
		}
		paths[r.file] = prefix + "/namespaces/" + ns + "/" + r.gvr.Resource
	}
	for _, file := range sortedKeys(paths) {
		raw, err := rest.Get().AbsPath(paths[file]).DoRaw(ctx)
		if err != nil {
			t.Fatalf("GET %s: %v", paths[file], err)
		}
		writeDump(t, dir, file, raw)
		if file == "namespaces.json" {
			continue
		}
		// kubectl sets each item's apiVersion and kind when it prints.
		var list map[string]any
		if err := json.Unmarshal(raw, &list); err != nil {
			t.Fatal(err)
		}
		items, _ := list["items"].([]any)
		for _, it := range items {
			im := it.(map[string]any)
			im["apiVersion"], im["kind"] = list["apiVersion"], strings.TrimSuffix(list["kind"].(string), "List")
			all = append(all, im)
		}
		if file == "pods.json" {
			b, _ := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List",
				"metadata": map[string]any{"resourceVersion": ""}, "items": items}, "", "    ")
			writeDump(t, dir, "pods-kubectl.json", b)
		}
	}
	b, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"resourceVersion": ""}, "items": all})
	if err != nil {
		t.Fatal(err)
	}
	writeDump(t, dir, "all-kubectl.yaml", b)

	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := newMismatches(15)
	files := corpusFiles(t, dir)
	forEachFile(files, func(f string) {
		checkFile(t, m, evaluator, "apiserver-live", f)
		checkNetpolFile(t, m, "apiserver-live", f)
	})
	checkExpectations(t, m, "apiserver-live", dir, filepath.Join(dumpDir, expectationsFile))
	m.report(t)

	if *capture {
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			writeDump(t, dumpDir, filepath.Base(f), data)
		}
		t.Logf("captured %d dumps into %s", len(files), dumpDir)
	}
}

func writeDump(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}
