package helmchart

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/palisade-sec/palisade/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	chartDir  = "../../deploy/helm/palisade"
	namespace = "palisade-system"
	relName   = "palisade"
	hubURL    = "https://hub.example.com:8443"
)

var fingerprint = "sha256:" + strings.Repeat("ab", 32)

// scenario is a set of values as a user passes them: values files, then
// --set style overrides (merged over the files).
type scenario struct {
	name  string
	files []string
	set   map[string]any
}

// agentHub is what every install with the agent sets on the command line.
var agentHub = map[string]any{"agent": map[string]any{"hub": map[string]any{"url": hubURL, "caFingerprint": fingerprint}}}

func on(components ...string) map[string]any {
	m := loader.MergeMaps(map[string]any{}, agentHub)
	for _, c := range components {
		m = loader.MergeMaps(m, map[string]any{c: map[string]any{"enabled": true}})
	}
	return m
}

var scenarios = []scenario{
	{name: "default"},
	{name: "edge", files: []string{chartDir + "/values-edge.yaml"}, set: agentHub},
	{name: "all components", set: on("hub", "agent", "admission", "runtime")},
	{name: "admission with cert-manager", set: loader.MergeMaps(on("admission"), map[string]any{"admission": map[string]any{"tls": map[string]any{"mode": "cert-manager"}}})},
	{name: "runtime with overlay evidence", set: loader.MergeMaps(on("agent", "runtime"), map[string]any{"runtime": map[string]any{"overlayLayers": map[string]any{"hostPaths": []any{
		"/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs", "/var/lib/rancher/k3s/agent/containerd/io.containerd.snapshotter.v1.overlayfs"}}}})},
	{name: "hub with PostgreSQL, 3 replicas", set: map[string]any{"hub": map[string]any{"replicas": 3, "database": map[string]any{"existingSecret": "hub-db"}}}},
}

func (s scenario) values(t *testing.T) map[string]any {
	t.Helper()
	vals, err := ReadValues(s.files...)
	if err != nil {
		t.Fatal(err)
	}
	return loader.MergeMaps(vals, s.set)
}

func render(t *testing.T, vals map[string]any) []*unstructured.Unstructured {
	t.Helper()
	ch, err := Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Render(context.Background(), ch, relName, namespace, vals)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Objects(out)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// TestRender renders each scenario as `helm template` does, lints it as
// `helm lint --strict` does, and checks what the chart promises of every
// object: images by digest, the restricted Pod Security Standard, no
// service account token where the API is not used, a NetworkPolicy for
// every workload, disruption budgets only where there are replicas to
// spare, and objects in the release's namespace.
func TestRender(t *testing.T) {
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			vals := s.values(t)
			if msgs := Lint(chartDir, namespace, vals); len(msgs) > 0 {
				t.Errorf("helm lint --strict:\n%s", strings.Join(msgs, "\n"))
			}
			objs := render(t, vals)
			if len(objs) == 0 {
				t.Fatal("nothing rendered")
			}
			byKind := map[string][]*unstructured.Unstructured{}
			for _, o := range objs {
				byKind[o.GetKind()] = append(byKind[o.GetKind()], o)
				if ns := o.GetNamespace(); ns != "" && ns != namespace {
					t.Errorf("%s/%s in namespace %q, want the release's", o.GetKind(), o.GetName(), ns)
				}
				if o.GetLabels()["app.kubernetes.io/instance"] != relName {
					t.Errorf("%s/%s: no instance label", o.GetKind(), o.GetName())
				}
			}
			policies := map[string]bool{}
			for _, np := range byKind["NetworkPolicy"] {
				sel, _, _ := unstructured.NestedStringMap(np.Object, "spec", "podSelector", "matchLabels")
				policies[sel["app.kubernetes.io/component"]] = true
			}
			pdbs := map[string]bool{}
			for _, p := range byKind["PodDisruptionBudget"] {
				pdbs[p.GetLabels()["app.kubernetes.io/component"]] = true
			}
			if len(byKind["Deployment"]) == 0 {
				t.Fatal("no Deployment rendered")
			}
			for _, d := range byKind["Deployment"] {
				checkDeployment(t, d, policies, pdbs)
			}
			for _, d := range byKind["DaemonSet"] {
				checkRuntimeDaemonSet(t, d, policies)
			}
		})
	}
}

func checkDeployment(t *testing.T, d *unstructured.Unstructured, policies, pdbs map[string]bool) {
	t.Helper()
	component := d.GetLabels()["app.kubernetes.io/component"]
	pod, _, _ := unstructured.NestedMap(d.Object, "spec", "template", "spec")
	if v, _, _ := unstructured.NestedBool(pod, "securityContext", "runAsNonRoot"); !v {
		t.Errorf("%s: pod securityContext.runAsNonRoot not true", component)
	}
	if v, _, _ := unstructured.NestedString(pod, "securityContext", "seccompProfile", "type"); v != "RuntimeDefault" {
		t.Errorf("%s: seccompProfile %q", component, v)
	}
	automount, found, _ := unstructured.NestedBool(pod, "automountServiceAccountToken")
	// The agent watches the cluster; the webhook only writes break-glass
	// Events; the hub never calls the API.
	if want := component == "agent" || component == "admission"; !found || automount != want {
		t.Errorf("%s: automountServiceAccountToken %v (set %v), want %v (only the agent and the webhook call the API)", component, automount, found, want)
	}
	containers, _, _ := unstructured.NestedSlice(pod, "containers")
	for _, c := range containers {
		c := c.(map[string]any)
		image, _ := c["image"].(string)
		if !strings.Contains(image, "@sha256:") || strings.Count(image, ":") != 1 {
			t.Errorf("%s: image %q not pinned by digest alone", component, image)
		}
		sc, _ := c["securityContext"].(map[string]any)
		if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false {
			t.Errorf("%s: container securityContext %v", component, sc)
		}
		if drop, _, _ := unstructured.NestedStringSlice(sc, "capabilities", "drop"); !reflect.DeepEqual(drop, []string{"ALL"}) {
			t.Errorf("%s: capabilities.drop %v", component, drop)
		}
		for _, r := range []string{"cpu", "memory"} {
			if _, ok, _ := unstructured.NestedString(c, "resources", "limits", r); !ok {
				t.Errorf("%s: no %s limit", component, r)
			}
			if _, ok, _ := unstructured.NestedString(c, "resources", "requests", r); !ok {
				t.Errorf("%s: no %s request", component, r)
			}
		}
	}
	if !policies[component] {
		t.Errorf("%s: no NetworkPolicy selects it", component)
	}
	replicas, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	if pdbs[component] != (replicas > 1) {
		t.Errorf("%s: %d replicas, PodDisruptionBudget %v (wanted only with more than one replica)", component, replicas, pdbs[component])
	}
}

// checkRuntimeDaemonSet checks the runtime sensor's promise: exactly
// CAP_BPF and CAP_PERFMON (every other capability dropped, no
// CAP_SYS_RESOURCE), a read-only root, no privilege escalation, hostPID
// but no host network or IPC, only read-only host mounts, a digest, limits
// and a NetworkPolicy.
func checkRuntimeDaemonSet(t *testing.T, d *unstructured.Unstructured, policies map[string]bool) {
	t.Helper()
	component := d.GetLabels()["app.kubernetes.io/component"]
	if component != "runtime" {
		t.Fatalf("DaemonSet of component %q", component)
	}
	pod, _, _ := unstructured.NestedMap(d.Object, "spec", "template", "spec")
	if pod["hostPID"] != true || pod["hostNetwork"] != nil || pod["hostIPC"] != nil {
		t.Errorf("runtime: hostPID %v hostNetwork %v hostIPC %v, want hostPID only", pod["hostPID"], pod["hostNetwork"], pod["hostIPC"])
	}
	if v, _, _ := unstructured.NestedString(pod, "securityContext", "seccompProfile", "type"); v != "RuntimeDefault" {
		t.Errorf("runtime: seccompProfile %q", v)
	}
	containers, _, _ := unstructured.NestedSlice(pod, "containers")
	if len(containers) != 1 {
		t.Fatalf("runtime: %d containers", len(containers))
	}
	c := containers[0].(map[string]any)
	if image, _ := c["image"].(string); !strings.Contains(image, "@sha256:") || strings.Count(image, ":") != 1 {
		t.Errorf("runtime: image %q not pinned by digest alone", image)
	}
	sc, _ := c["securityContext"].(map[string]any)
	if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false || sc["privileged"] != nil {
		t.Errorf("runtime: container securityContext %v", sc)
	}
	drop, _, _ := unstructured.NestedStringSlice(sc, "capabilities", "drop")
	add, _, _ := unstructured.NestedStringSlice(sc, "capabilities", "add")
	if !reflect.DeepEqual(drop, []string{"ALL"}) || !reflect.DeepEqual(add, []string{"BPF", "PERFMON"}) {
		t.Errorf("runtime: capabilities drop %v add %v, want drop [ALL] add [BPF PERFMON]", drop, add)
	}
	mounts, _, _ := unstructured.NestedSlice(c, "volumeMounts")
	for _, m := range mounts {
		if m.(map[string]any)["readOnly"] != true {
			t.Errorf("runtime: mount %v not read-only", m)
		}
	}
	for _, r := range []string{"cpu", "memory"} {
		if _, ok, _ := unstructured.NestedString(c, "resources", "limits", r); !ok {
			t.Errorf("runtime: no %s limit", r)
		}
	}
	if !policies[component] {
		t.Error("runtime: no NetworkPolicy selects it")
	}
}

// TestEdgeFitsNode checks values-edge.yaml against its promise: the agent
// and the webhook on a 1-CPU, 512 MiB node take at most half its memory
// (limits) and a quarter of its CPU (requests), with one webhook replica.
func TestEdgeFitsNode(t *testing.T) {
	objs := render(t, scenarios[1].values(t))
	var memLimit, cpuRequest resource.Quantity
	components := map[string]int64{}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		replicas, _, _ := unstructured.NestedInt64(o.Object, "spec", "replicas")
		components[o.GetLabels()["app.kubernetes.io/component"]] = replicas
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for range replicas {
			for _, c := range containers {
				lim, _, _ := unstructured.NestedString(c.(map[string]any), "resources", "limits", "memory")
				req, _, _ := unstructured.NestedString(c.(map[string]any), "resources", "requests", "cpu")
				memLimit.Add(resource.MustParse(lim))
				cpuRequest.Add(resource.MustParse(req))
			}
		}
	}
	if !reflect.DeepEqual(components, map[string]int64{"agent": 1, "admission": 1}) {
		t.Errorf("edge components %v, want one agent and one webhook", components)
	}
	if memLimit.Cmp(resource.MustParse("256Mi")) > 0 {
		t.Errorf("edge memory limits add up to %s, more than half of a 512 MiB node", memLimit.String())
	}
	if cpuRequest.Cmp(resource.MustParse("250m")) > 0 {
		t.Errorf("edge CPU requests add up to %s, more than a quarter of a 1-CPU node", cpuRequest.String())
	}
}

// TestWebhookTLS: with admission.tls.mode=helm the webhooks' caBundle is
// the CA that signed the serving certificate, for the Service's names.
func TestWebhookTLS(t *testing.T) {
	objs := render(t, on("admission"))
	var certPEM, caPEM []byte
	var bundles []string
	for _, o := range objs {
		switch o.GetKind() {
		case "Secret":
			crt, _, _ := unstructured.NestedString(o.Object, "data", "tls.crt")
			ca, _, _ := unstructured.NestedString(o.Object, "data", "ca.crt")
			certPEM, _ = base64.StdEncoding.DecodeString(crt)
			caPEM, _ = base64.StdEncoding.DecodeString(ca)
		case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
			hooks, _, _ := unstructured.NestedSlice(o.Object, "webhooks")
			for _, h := range hooks {
				b, _, _ := unstructured.NestedString(h.(map[string]any), "clientConfig", "caBundle")
				bundles = append(bundles, b)
			}
		}
	}
	if len(bundles) != 2 {
		t.Fatalf("%d webhooks, want mutating and validating", len(bundles))
	}
	for _, b := range bundles {
		got, _ := base64.StdEncoding.DecodeString(b)
		if string(got) != string(caPEM) {
			t.Error("a webhook's caBundle is not the chart's CA")
		}
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.crt holds no certificate")
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("tls.crt holds no certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	host := fmt.Sprintf("%s-admission.%s.svc", relName, namespace)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
		t.Errorf("serving certificate for %s: %v", host, err)
	}
}

// TestRenderRejects: values the chart cannot honour fail the render with
// a message naming the value, never render something else.
func TestRenderRejects(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]any
		want string
	}{
		{"agent without hub URL", map[string]any{"agent": map[string]any{"enabled": true, "hub": map[string]any{"caFingerprint": fingerprint}}}, "agent.hub.url is required"},
		{"agent without fingerprint", map[string]any{"agent": map[string]any{"enabled": true, "hub": map[string]any{"url": hubURL}}}, "agent.hub.caFingerprint is required"},
		{"agent hub over plain HTTP", loader.MergeMaps(on("agent"), map[string]any{"agent": map[string]any{"hub": map[string]any{"url": "http://hub:8443"}}}), "must be an https:// URL"},
		{"fingerprint not a digest", loader.MergeMaps(on("agent"), map[string]any{"agent": map[string]any{"hub": map[string]any{"caFingerprint": "abc"}}}), "caFingerprint must be sha256"},
		{"image by tag", map[string]any{"image": map[string]any{"digest": "latest"}}, "image.digest must be sha256"},
		{"agent image by tag", loader.MergeMaps(on("agent"), map[string]any{"agent": map[string]any{"image": map[string]any{"digest": "v1.0"}}}), "agent.image.digest must be sha256"},
		{"two hubs on SQLite", map[string]any{"hub": map[string]any{"replicas": 2}}, "needs a PostgreSQL database"},
		{"unknown TLS mode", loader.MergeMaps(on("admission"), map[string]any{"admission": map[string]any{"tls": map[string]any{"mode": "none"}}}), "admission.tls.mode must be"},
		{"own TLS secret without CA", loader.MergeMaps(on("admission"), map[string]any{"admission": map[string]any{"tls": map[string]any{"mode": "secret", "secretName": "x"}}}), "admission.tls.caBundle"},
		{"failure policy typo", loader.MergeMaps(on("admission"), map[string]any{"admission": map[string]any{"failurePolicy": "fail"}}), "admission.failurePolicy must be"},
		{"exemption reason splitting the annotation", loader.MergeMaps(on("agent"), map[string]any{"agent": map[string]any{"exemptions": map[string]any{"hardening/x": "a; pss/privileged: b"}}}), "cannot hold ';'"},
		{"exemption without reason", loader.MergeMaps(on("agent"), map[string]any{"agent": map[string]any{"exemptions": map[string]any{"hardening/x": ""}}}), "needs a reason"},
	}
	ch, err := Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(context.Background(), ch, relName, namespace, tc.set)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestAgreesWithDeploy: the chart grants the agent exactly the rules of
// the plain manifests (deploy/agent), and its webhooks
// intercept exactly what deploy/admission's do.
func TestAgreesWithDeploy(t *testing.T) {
	plain := func(path, kind string) []*unstructured.Unstructured {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := Objects(string(data))
		if err != nil {
			t.Fatal(err)
		}
		var out []*unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() == kind {
				out = append(out, o)
			}
		}
		return out
	}
	chart := render(t, on("agent", "admission"))
	field := func(objs []*unstructured.Unstructured, kind string, path ...string) []any {
		var out []any
		for _, o := range objs {
			if o.GetKind() != kind {
				continue
			}
			v, _, _ := unstructured.NestedFieldCopy(o.Object, path...)
			out = append(out, v)
		}
		return out
	}
	var agentObjs []*unstructured.Unstructured
	for _, o := range chart {
		if o.GetLabels()["app.kubernetes.io/component"] != "admission" {
			agentObjs = append(agentObjs, o)
		}
	}
	chartRoles := field(agentObjs, "ClusterRole", "rules")
	if want := field(plain("../../deploy/agent/agent.yaml", "ClusterRole"), "ClusterRole", "rules"); !reflect.DeepEqual(chartRoles, want) {
		t.Errorf("agent ClusterRole rules differ from deploy/agent:\nchart %v\nplain %v", chartRoles, want)
	}
	rtChart := render(t, on("agent", "runtime"))
	var rtObjs []*unstructured.Unstructured
	for _, o := range rtChart {
		if o.GetLabels()["app.kubernetes.io/component"] == "runtime" {
			rtObjs = append(rtObjs, o)
		}
	}
	rtPlain := plain("../../deploy/runtime/runtime.yaml", "ClusterRole")
	if got, want := field(rtObjs, "ClusterRole", "rules"), field(rtPlain, "ClusterRole", "rules"); len(got) != 1 || !reflect.DeepEqual(got, want) {
		t.Errorf("runtime ClusterRole rules differ from deploy/runtime:\nchart %v\nplain %v", got, want)
	}
	for _, path := range [][]string{{"spec", "template", "spec", "containers"}, {"spec", "template", "spec", "volumes"}, {"spec", "template", "spec", "hostPID"}} {
		got, want := field(rtObjs, "DaemonSet", path...), field(plain("../../deploy/runtime/runtime.yaml", "DaemonSet"), "DaemonSet", path...)
		// The chart sets the connect window and rate on the command line,
		// which the plain manifest leaves at their defaults.
		if path[len(path)-1] == "containers" {
			for _, l := range [][]any{got, want} {
				for _, cs := range l {
					for _, c := range cs.([]any) {
						c := c.(map[string]any)
						delete(c, "args")
						delete(c, "image")
						delete(c, "imagePullPolicy")
						delete(c, "resources")
					}
				}
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("runtime DaemonSet %v differs from deploy/runtime:\nchart %v\nplain %v", path, got, want)
		}
	}
	for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
		got := field(chart, kind, "webhooks")
		want := field(plain("../../deploy/admission/install.yaml", kind), kind, "webhooks")
		if len(got) != 1 || len(want) != 1 {
			t.Fatalf("%s: chart %d, plain %d", kind, len(got), len(want))
		}
		for _, f := range []string{"name", "rules", "failurePolicy", "sideEffects", "admissionReviewVersions", "matchPolicy"} {
			g := got[0].([]any)[0].(map[string]any)[f]
			w := want[0].([]any)[0].(map[string]any)[f]
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s %s: chart %v, deploy/admission %v", kind, f, g, w)
			}
		}
	}
}

// TestRuntimeOverlayLayers: runtime.overlayLayers.hostPaths mounts each
// snapshot directory read-only under /host and points the sensor at it;
// without it, no such mount and no flag.
func TestRuntimeOverlayLayers(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		want     bool
	}{{"all components", false}, {"runtime with overlay evidence", true}} {
		var sc scenario
		for _, s := range scenarios {
			if s.name == tc.scenario {
				sc = s
			}
		}
		for _, o := range render(t, sc.values(t)) {
			if o.GetKind() != "DaemonSet" || o.GetLabels()["app.kubernetes.io/component"] != "runtime" {
				continue
			}
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			c := containers[0].(map[string]any)
			args, _, _ := unstructured.NestedStringSlice(c, "args")
			mounts, _, _ := unstructured.NestedSlice(c, "volumeMounts")
			var layerMounts []string
			for _, m := range mounts {
				if p := m.(map[string]any)["mountPath"].(string); strings.HasPrefix(p, "/host/var/lib/") {
					layerMounts = append(layerMounts, p)
				}
			}
			hasFlag := slices.Contains(args, "--runtime-host-root=/host")
			if hasFlag != tc.want || (len(layerMounts) == 2) != tc.want {
				t.Errorf("%s: --runtime-host-root %v, layer mounts %v", tc.scenario, hasFlag, layerMounts)
			}
		}
	}
}
