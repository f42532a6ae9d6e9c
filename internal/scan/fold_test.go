package scan_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// privilegedContainers is a pod spec's containers, indented for a Pod.
const privilegedContainers = `  containers:
  - name: app
    image: registry.example/app:1.0
    securityContext: {privileged: true}
`

// object is a manifest of the namespace "shop" with a controller owner
// reference when owner is set (the owner's apiVersion does not matter:
// owners are matched by kind and name), followed by spec and "---".
func object(apiVersion, kind, name, ownerKind, owner, spec string) string {
	refs := ""
	if owner != "" {
		refs = "\n  ownerReferences:\n  - {apiVersion: apps/v1, kind: " + ownerKind + ", name: " + owner + ", uid: 6f1c0a52-0000-4000-8000-000000000001, controller: true, blockOwnerDeletion: true}"
	}
	return "apiVersion: " + apiVersion + "\nkind: " + kind + "\nmetadata:\n  name: " + name + "\n  namespace: shop" + refs + "\n" + spec + "---\n"
}

// pod is a Pod of a dump (kubectl get pods -o yaml), with its controller.
// Its container is on line 8 without an owner, 10 with one; it is 11 or
// 13 lines long.
func pod(name, ownerKind, owner string) string {
	return object("v1", "Pod", name, ownerKind, owner, "spec:\n"+privilegedContainers)
}

// controller is a workload with a pod template, with its controller; its
// container is on line 12 without an owner, 14 with one.
func controller(kind, name, ownerKind, owner string) string {
	template := "spec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n"
	return object("apps/v1", kind, name, ownerKind, owner, template+indent(privilegedContainers, "    "))
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+prefix) + "\n"
}

func TestConfigFoldsReplicasIntoOwners(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // pss/privileged findings
	}{
		{
			name:  "pods of one ReplicaSet are one finding, named after it",
			files: map[string]string{"pods.yaml": pod("web-7d4b9c-abcde", "ReplicaSet", "web-7d4b9c") + pod("web-7d4b9c-fghij", "ReplicaSet", "web-7d4b9c")},
			want:  []string{"pss/privileged ReplicaSet/shop/web-7d4b9c pods.yaml:10"},
		},
		{
			name:  "standalone pods stay pods",
			files: map[string]string{"pods.yaml": pod("debug", "", "") + pod("web-7d4b9c-abcde", "ReplicaSet", "web-7d4b9c")},
			want:  []string{"pss/privileged Pod/shop/debug pods.yaml:8", "pss/privileged ReplicaSet/shop/web-7d4b9c pods.yaml:21"},
		},
		{
			name: "pod, ReplicaSet and Deployment: once, as the Deployment, at the Deployment",
			files: map[string]string{
				"a-pods.yaml":   pod("web-7d4b9c-abcde", "ReplicaSet", "web-7d4b9c"),
				"b-rs.yaml":     controller("ReplicaSet", "web-7d4b9c", "Deployment", "web"),
				"c-deploy.yaml": controller("Deployment", "web", "", ""),
			},
			want: []string{"pss/privileged Deployment/shop/web c-deploy.yaml:12"},
		},
		{
			name:  "ReplicaSet whose Deployment is not in the input: named after the Deployment",
			files: map[string]string{"rs.yaml": controller("ReplicaSet", "web-7d4b9c", "Deployment", "web")},
			want:  []string{"pss/privileged Deployment/shop/web rs.yaml:14"},
		},
		{
			name:  "pods of a DaemonSet and a StatefulSet",
			files: map[string]string{"pods.yaml": pod("node-agent-x1", "DaemonSet", "node-agent") + pod("node-agent-x2", "DaemonSet", "node-agent") + pod("db-0", "StatefulSet", "db")},
			want:  []string{"pss/privileged DaemonSet/shop/node-agent pods.yaml:10", "pss/privileged StatefulSet/shop/db pods.yaml:36"},
		},
		{
			name: "a mirror pod owned by its Node stays itself",
			files: map[string]string{"pods.yaml": strings.Replace(pod("kube-apiserver-cp1", "Node", "cp1"), "apps/v1", "v1", 1) +
				strings.Replace(pod("etcd-cp1", "Node", "cp1"), "apps/v1", "v1", 1)},
			want: []string{"pss/privileged Pod/shop/etcd-cp1 pods.yaml:23", "pss/privileged Pod/shop/kube-apiserver-cp1 pods.yaml:10"},
		},
		{
			name:  "the same Deployment in two overlays is two findings",
			files: map[string]string{"dev.yaml": controller("Deployment", "web", "", ""), "prod.yaml": controller("Deployment", "web", "", "")},
			want:  []string{"pss/privileged Deployment/shop/web dev.yaml:12", "pss/privileged Deployment/shop/web prod.yaml:12"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, dir := scanFiles(t, tt.files, "pss/privileged")
			if errs := errorsOf(r); len(errs) > 0 {
				t.Fatalf("errors: %q", errs)
			}
			if got := findingsOf(r, dir); !slices.Equal(got, tt.want) {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if r.Summary.Total != len(tt.want) {
				t.Errorf("summary total %d, want %d", r.Summary.Total, len(tt.want))
			}
		})
	}
}

// An exemption annotation of the owner covers its replicas even when they
// are decoded and evaluated in another batch than the owner (a dump of
// more than 512 workloads).
func TestConfigFoldedExemptionAcrossBatches(t *testing.T) {
	deployment := strings.Replace(controller("Deployment", "web", "", ""), "  namespace: shop\n",
		"  namespace: shop\n  annotations: {palisade.io/exempt: \"pss/privileged: the node agent needs it\"}\n", 1)
	var b strings.Builder
	b.WriteString(deployment)
	for i := range 520 {
		b.WriteString(object("v1", "Pod", fmt.Sprintf("filler-%d", i), "", "", "spec:\n  containers: [{name: c, image: registry.example/c:1}]\n"))
	}
	b.WriteString(controller("ReplicaSet", "web-7d4b9c", "Deployment", "web"))
	b.WriteString(pod("web-7d4b9c-abcde", "ReplicaSet", "web-7d4b9c"))
	r, _ := scanFiles(t, map[string]string{"dump.yaml": b.String()}, "pss/privileged")
	if errs := errorsOf(r); len(errs) > 0 {
		t.Fatalf("errors: %q", errs)
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, fmt.Sprintf("%s %s suppressed=%v", f.RuleID, f.Object, f.Suppressed))
	}
	want := []string{"pss/privileged Deployment/shop/web suppressed=true"}
	if !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
}
