package workload

import (
	"strings"
	"testing"
)

func TestLookupAPIVersion(t *testing.T) {
	tests := []struct {
		apiVersion, kind string
		status           APIStatus
		group            string // the group the object is evaluated in
		message          string // part of Message(), for replaced and unknown
	}{
		{"apps/v1", "Deployment", APIServed, "apps", ""},
		{"v1", "Pod", APIServed, "", ""},
		{"batch/v1", "CronJob", APIServed, "batch", ""},
		{"rbac.authorization.k8s.io/v1", "ClusterRole", APIServed, "rbac.authorization.k8s.io", ""},
		{"apiextensions.k8s.io/v1", "CustomResourceDefinition", APIServed, "apiextensions.k8s.io", ""},
		{"extensions/v1beta1", "DaemonSet", APIReplaced, "apps", "extensions/v1beta1 DaemonSet was removed in Kubernetes 1.16; use apps/v1 — this object will not apply on a current cluster"},
		{"extensions/v1beta1", "Deployment", APIReplaced, "apps", "removed in Kubernetes 1.16; use apps/v1"},
		{"extensions/v1beta1", "NetworkPolicy", APIReplaced, "networking.k8s.io", "use networking.k8s.io/v1"},
		{"extensions/v1beta1", "Ingress", APIReplaced, "networking.k8s.io", "removed in Kubernetes 1.22"},
		{"extensions/v1beta1", "PodSecurityPolicy", APIReplaced, "extensions", "use Pod Security Admission"},
		{"apps/v1beta2", "DaemonSet", APIReplaced, "apps", "apps/v1beta2 DaemonSet was removed in Kubernetes 1.16; use apps/v1 — this object will not apply on a current cluster"},
		{"apps/v1beta1", "StatefulSet", APIReplaced, "apps", "use apps/v1"},
		{"batch/v1beta1", "CronJob", APIReplaced, "batch", "removed in Kubernetes 1.25; use batch/v1"},
		{"batch/v2alpha1", "CronJob", APIReplaced, "batch", "use batch/v1"},
		{"v1", "Deployment", APIReplaced, "apps", "v1 Deployment does not exist in Kubernetes; use apps/v1 — this object will not apply on any cluster"},
		{"v1", "StatefulSet", APIReplaced, "apps", "use apps/v1"},
		{"rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding", APIReplaced, "rbac.authorization.k8s.io", "use rbac.authorization.k8s.io/v1"},
		{"rbac.authorization.k8s.io/v1alpha1", "Role", APIReplaced, "rbac.authorization.k8s.io", "removed in Kubernetes 1.22"},
		{"networking.k8s.io/v1beta1", "Ingress", APIReplaced, "networking.k8s.io", "use networking.k8s.io/v1"},
		{"policy/v1beta1", "PodDisruptionBudget", APIReplaced, "policy", "use policy/v1"},
		{"apps/v9", "Deployment", APIUnknown, "apps", `apiVersion "apps/v9": Kubernetes serves Deployment as apps/v1; not understood`},
		{"v2", "Pod", APIUnknown, "", `Kubernetes serves Pod as v1`},
		{"apps/v1", "Pod", APIUnknown, "apps", `Kubernetes serves Pod as v1`},
		{"apps/v1", "Deploymnet", APIUnknown, "apps", `Kubernetes has no kind Deploymnet in API group "apps"`},
		{"v1", "Widget", APIUnknown, "", "in the core API group"},
		{"example.com/v1", "Widget", APICustom, "example.com", ""},
		{"gateway.networking.k8s.io/v1", "HTTPRoute", APICustom, "gateway.networking.k8s.io", ""},
		{"monitoring.coreos.com/v1", "Deployment", APICustom, "monitoring.coreos.com", ""},
		{"", "Deployment", APICustom, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.apiVersion+" "+tt.kind, func(t *testing.T) {
			got := LookupAPIVersion(tt.apiVersion, tt.kind)
			if got.Status != tt.status || got.Group != tt.group {
				t.Fatalf("status %d group %q, want %d %q", got.Status, got.Group, tt.status, tt.group)
			}
			if msg := got.Message(); !strings.Contains(msg, tt.message) || (tt.message == "") != (msg == "") {
				t.Errorf("message %q, want it to contain %q", msg, tt.message)
			}
		})
	}
}

// Old and mistaken API versions of workloads, written as the Kubernetes
// documentation of their time did: each is evaluated as its current kind,
// and versions of built-in groups that never existed are errors, never
// silently untyped objects.
func TestFromManifestsAPIVersions(t *testing.T) {
	tests := []struct {
		name, doc string
		kind      string // the workload kind evaluated; "" for none
		typed     bool   // a typed object that is not a workload (RBAC)
		problem   string // the error expected, if any
	}{
		{name: "extensions DaemonSet without selector", kind: "DaemonSet", doc: `apiVersion: extensions/v1beta1
kind: DaemonSet
metadata:
  name: fluentd-elasticsearch
  namespace: kube-system
spec:
  templateGeneration: 2
  template:
    metadata:
      labels: {name: fluentd-elasticsearch}
    spec:
      containers:
      - name: fluentd
        image: quay.io/fluentd_elasticsearch/fluentd:v2.5.2
        securityContext: {privileged: true}
`},
		{name: "extensions Deployment with rollbackTo", kind: "Deployment", doc: `apiVersion: extensions/v1beta1
kind: Deployment
metadata: {name: nginx-deployment}
spec:
  replicas: 3
  rollbackTo: {revision: 0}
  template:
    metadata: {labels: {app: nginx}}
    spec: {containers: [{name: nginx, image: "nginx:1.7.9", ports: [{containerPort: 80}]}]}
`},
		{name: "apps/v1beta2 StatefulSet", kind: "StatefulSet", doc: `apiVersion: apps/v1beta2
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: nginx
  selector: {matchLabels: {app: nginx}}
  template:
    metadata: {labels: {app: nginx}}
    spec: {containers: [{name: nginx, image: "k8s.gcr.io/nginx-slim:0.8"}]}
`},
		{name: "batch/v1beta1 CronJob", kind: "CronJob", doc: `apiVersion: batch/v1beta1
kind: CronJob
metadata: {name: hello}
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: hello, image: busybox, args: [/bin/sh, -c, date]}]
          restartPolicy: OnFailure
`},
		{name: "v1 Deployment", kind: "Deployment", doc: `apiVersion: v1
kind: Deployment
metadata: {name: web}
spec: {template: {spec: {containers: [{name: web, image: nginx}]}}}
`},
		{name: "rbac v1beta1 ClusterRole", typed: true, doc: `apiVersion: rbac.authorization.k8s.io/v1beta1
kind: ClusterRole
metadata: {name: secret-reader}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get, watch, list]}]
`},
		// Never enforced by a current cluster: not counted as isolation.
		{name: "extensions NetworkPolicy", doc: `apiVersion: extensions/v1beta1
kind: NetworkPolicy
metadata: {name: deny-all}
spec: {podSelector: {}}
`},
		{name: "apps/v9 Deployment", problem: `:1: Deployment "nine": apiVersion "apps/v9": Kubernetes serves Deployment as apps/v1; not understood, not evaluated`, doc: `apiVersion: apps/v9
kind: Deployment
metadata: {name: nine}
spec: {template: {spec: {containers: [{name: c, image: x}]}}}
`},
		{name: "v2 Pod", problem: `:2: Pod "p": apiVersion "v2": Kubernetes serves Pod as v1`, doc: `kind: Pod
apiVersion: v2
metadata: {name: p}
spec: {containers: [{name: c, image: x}]}
`},
		{name: "networking v9 NetworkPolicy", problem: `NetworkPolicy "np": apiVersion "networking.k8s.io/v9"`, doc: `apiVersion: networking.k8s.io/v9
kind: NetworkPolicy
metadata: {name: np}
spec: {podSelector: {}}
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, probs := load(t, tt.doc, "")
			if tt.problem != "" {
				if len(probs) != 1 || !strings.Contains(probs[0], tt.problem) {
					t.Fatalf("problems %q, want one containing %q", probs, tt.problem)
				}
				if len(inv.Objects) != 0 {
					t.Errorf("an object not understood was still evaluated: %+v", inv.Objects[0].Ref)
				}
				return
			}
			if len(probs) != 0 {
				t.Fatalf("problems: %q", probs)
			}
			if len(inv.Objects) != 1 {
				t.Fatalf("%d objects, want 1", len(inv.Objects))
			}
			o := inv.Objects[0]
			if want := tt.typed || tt.kind != ""; want != (o.Typed != nil) {
				t.Errorf("%s typed: %v, want %v", o.Ref, o.Typed != nil, want)
			}
			if o.Ref.Kind == "NetworkPolicy" && len(inv.NetworkPolicies) != 0 {
				t.Errorf("a NetworkPolicy of a removed version counted as enforced")
			}
			if tt.kind == "" {
				return
			}
			if o.Workload == nil || len(inv.Workloads) != 1 || o.Workload.Ref.Kind != tt.kind {
				t.Fatalf("not evaluated as a %s workload: %+v", tt.kind, o.Ref)
			}
			if cs := Containers(o.Workload.Spec); len(cs) == 0 || cs[0].Image == "" {
				t.Errorf("pod template not decoded: %+v", o.Workload.Spec)
			}
		})
	}
}
