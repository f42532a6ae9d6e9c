package helmchart

import (
	"os"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestAgentBootstrapTokenIsAFile: deploy/agent/agent.yaml and the chart
// hand the agent its bootstrap token as a file from the Secret (mounted
// read-only, optional, 0400) named by --token-file, never as an
// environment variable, where it shows in the pod's description and is
// inherited by every child process.
func TestAgentBootstrapTokenIsAFile(t *testing.T) {
	data, err := os.ReadFile("../../deploy/agent/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Objects(string(data))
	if err != nil {
		t.Fatal(err)
	}
	for name, objs := range map[string][]*unstructured.Unstructured{"deploy/agent/agent.yaml": plain, "chart": render(t, on("agent"))} {
		var dep *unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() == "Deployment" && o.GetLabels()["app.kubernetes.io/component"] == "agent" {
				dep = o
			}
		}
		if dep == nil {
			t.Fatalf("%s: no agent Deployment", name)
		}
		containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
		volumes, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "volumes")
		if len(containers) != 1 {
			t.Fatalf("%s: %d containers", name, len(containers))
		}
		c := containers[0].(map[string]any)
		env, _, _ := unstructured.NestedSlice(c, "env")
		for _, e := range env {
			if _, ref := e.(map[string]any)["valueFrom"]; ref || strings.Contains(strings.ToUpper(e.(map[string]any)["name"].(string)), "TOKEN") {
				t.Errorf("%s: environment variable %v carries a secret", name, e)
			}
		}
		args, _, _ := unstructured.NestedStringSlice(c, "args")
		if !slices.Contains(args, "--token-file=/etc/palisade-agent/bootstrap/token") || slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--token=") }) {
			t.Errorf("%s: args %v, want --token-file=/etc/palisade-agent/bootstrap/token and no --token", name, args)
		}
		mounts, _, _ := unstructured.NestedSlice(c, "volumeMounts")
		var mounted string
		for _, m := range mounts {
			m := m.(map[string]any)
			if m["mountPath"] == "/etc/palisade-agent/bootstrap" && m["readOnly"] == true {
				mounted = m["name"].(string)
			}
		}
		found := false
		for _, v := range volumes {
			v := v.(map[string]any)
			if v["name"] != mounted || mounted == "" {
				continue
			}
			sec, _ := v["secret"].(map[string]any)
			mode, _, _ := unstructured.NestedInt64(v, "secret", "defaultMode")
			if sec == nil || sec["optional"] != true || mode != 0o400 {
				t.Errorf("%s: bootstrap token volume %v, want an optional Secret of mode 0400", name, v)
			}
			found = true
		}
		if !found {
			t.Errorf("%s: no Secret volume mounted read-only at /etc/palisade-agent/bootstrap", name)
		}
	}
}
