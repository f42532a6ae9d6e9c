package helmchart

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestRuntimeLedgerWired: with the runtime sensors, the chart makes the
// runtime ledger ConfigMap, lets the sensors get and patch only it and
// the agent only get it, and passes its name to the DaemonSet
// (--runtime-node-ledger) and its NAMESPACE/NAME to the agent
// (--runtime-ledger, docs/runtime.md); without the sensors the agent is
// not told to read one.
func TestRuntimeLedgerWired(t *testing.T) {
	objs := render(t, on("agent", "runtime"))
	var ledger string
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && strings.HasSuffix(o.GetName(), "-runtime-ledger") {
			ledger = o.GetName()
		}
	}
	if ledger == "" {
		t.Fatal("no runtime ledger ConfigMap")
	}
	want := map[string]string{"agent": "--runtime-ledger=" + namespace + "/" + ledger, "runtime": "--runtime-node-ledger=" + ledger}
	verbs := map[string][]any{}
	for _, o := range objs {
		component := o.GetLabels()["app.kubernetes.io/component"]
		switch o.GetKind() {
		case "Deployment", "DaemonSet":
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
			if flag, ok := want[component]; ok && !slices.Contains(args, flag) {
				t.Errorf("%s: args %v lack %s", component, args, flag)
			}
		case "Role", "ClusterRole":
			rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
			for _, r := range rules {
				res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources")
				names, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resourceNames")
				if slices.Contains(names, ledger) {
					if len(names) != 1 || o.GetKind() != "Role" {
						t.Errorf("%s: %s %s names %v", component, o.GetKind(), o.GetName(), names)
					}
					v, _, _ := unstructured.NestedSlice(r.(map[string]any), "verbs")
					verbs[component] = v
				} else if component == "runtime" && slices.Contains(res, "configmaps") && !imageFileShards(names) {
					t.Errorf("runtime: %s %s grants ConfigMaps beyond the ledger: %v", o.GetKind(), o.GetName(), r)
				}
			}
		}
	}
	if fmt.Sprint(verbs["runtime"]) != "[get patch]" || fmt.Sprint(verbs["agent"]) != "[get]" {
		t.Errorf("verbs on the ledger: %v, want the sensors get and patch, the agent get", verbs)
	}
	for _, o := range render(t, on("agent")) {
		if o.GetKind() == "Deployment" {
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
			if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--runtime-ledger") }) {
				t.Errorf("agent without the runtime sensors told to read a ledger: %v", args)
			}
		}
	}
}

// imageFileShards says whether names are exactly the image file list
// shards (TestImageFilesWired checks their grants).
func imageFileShards(names []string) bool {
	if len(names) != 8 {
		return false
	}
	for i, n := range names {
		if !strings.HasSuffix(n, fmt.Sprintf("-image-files-%d", i)) {
			return false
		}
	}
	return true
}

// TestImageFilesWired: with the runtime sensors, the chart makes the eight
// image file list ConfigMaps, lets the sensors get them and the agent get
// and update them, by name only, and passes their prefix to both
// (docs/runtime.md, "Drift from the image's SBOM").
func TestImageFilesWired(t *testing.T) {
	objs := render(t, on("agent", "runtime"))
	var shards []string
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && strings.Contains(o.GetName(), "-image-files-") {
			shards = append(shards, o.GetName())
		}
	}
	if !imageFileShards(shards) {
		t.Fatalf("image file ConfigMaps %v", shards)
	}
	prefix := strings.TrimSuffix(shards[0], "0")
	want := map[string]string{"agent": "--runtime-image-files=" + namespace + "/" + prefix, "runtime": "--runtime-image-files-prefix=" + prefix}
	verbs := map[string]string{}
	for _, o := range objs {
		component := o.GetLabels()["app.kubernetes.io/component"]
		switch o.GetKind() {
		case "Deployment", "DaemonSet":
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
			if flag, ok := want[component]; ok && !slices.Contains(args, flag) {
				t.Errorf("%s: args %v lack %s", component, args, flag)
			}
		case "Role", "ClusterRole":
			rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
			for _, r := range rules {
				names, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resourceNames")
				if slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, prefix) }) {
					if !slices.Equal(names, shards) || o.GetKind() != "Role" {
						t.Errorf("%s: %s %s names %v", component, o.GetKind(), o.GetName(), names)
					}
					v, _, _ := unstructured.NestedSlice(r.(map[string]any), "verbs")
					verbs[component] = fmt.Sprint(v)
				}
			}
		}
	}
	if verbs["runtime"] != "[get]" || verbs["agent"] != "[get update]" {
		t.Errorf("verbs on the image file lists: %v, want the sensors get, the agent get and update", verbs)
	}
}
