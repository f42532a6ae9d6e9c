package helmchart

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	release "helm.sh/helm/v4/pkg/release/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/palisade-sec/palisade/internal/testenv"
)

// helmConfig is Helm's action configuration for namespace on the test
// API server, as `helm --kubeconfig … -n NS` builds it (releases stored in
// Secrets).
func helmConfig(t *testing.T, env *testenv.Env, namespace string) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &env.KubeconfigPath
	flags.Namespace = &namespace
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.DiscardHandler))
	if err := cfg.Init(flags, namespace, "secret"); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// liveObjects gets every object of a release's manifest from the API
// server; it reports each missing one.
func liveObjects(ctx context.Context, t *testing.T, env *testenv.Env, manifest string) map[string]*unstructured.Unstructured {
	t.Helper()
	objs, err := Objects(manifest)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := restmapper.GetAPIGroupResources(dc)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
		if err != nil {
			t.Errorf("%s %s: %v", gvk.Kind, o.GetName(), err)
			continue
		}
		var live *unstructured.Unstructured
		if o.GetNamespace() != "" {
			live, err = dyn.Resource(m.Resource).Namespace(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
		} else {
			live, err = dyn.Resource(m.Resource).Get(ctx, o.GetName(), metav1.GetOptions{})
		}
		if err != nil {
			t.Errorf("%s %s/%s not on the API server: %v", gvk.Kind, o.GetNamespace(), o.GetName(), err)
			continue
		}
		out[gvk.Kind+"/"+o.GetName()] = live
	}
	return out
}

// TestInstallAndUpgrade installs the chart on the real API server with
// the previous release's values (testdata/upgrade: that release's
// values.yaml and a user's values file written for it), then upgrades to
// the current chart with the user's file, then to the edge values. Every
// object is accepted by the API server (its schema validation and
// admission), nothing of the first release is lost on upgrade, the
// webhook's certificate is kept, the policy an agent wrote is kept, and
// the hub's data volume outlives switching the hub off.
func TestInstallAndUpgrade(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := env.CreateNamespace(ctx, t, "", nil).Name
	cfg := helmConfig(t, env, ns)
	ch, err := Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	previous, err := ReadValues("testdata/upgrade/values-0.1.0.yaml", "testdata/upgrade/user-0.1.0.yaml")
	if err != nil {
		t.Fatal(err)
	}
	user, err := ReadValues("testdata/upgrade/user-0.1.0.yaml")
	if err != nil {
		t.Fatal(err)
	}

	inst := action.NewInstall(cfg)
	inst.ReleaseName, inst.Namespace = relName, ns
	inst.WaitStrategy = kube.HookOnlyStrategy // no kubelet: pods never start
	inst.Timeout = 2 * time.Minute
	rel, err := inst.RunWithContext(ctx, ch, CopyValues(previous))
	if err != nil {
		t.Fatalf("install with the previous release's values: %v", err)
	}
	first := rel.(*release.Release)
	before := liveObjects(ctx, t, env, first.Manifest)
	if len(before) < 20 {
		t.Fatalf("%d objects installed, want every component's", len(before))
	}
	tlsBefore, _, _ := unstructured.NestedString(before["Secret/palisade-admission-tls"].Object, "data", "tls.crt")

	// The agent writes the hub's admission bundle into the webhook's policy
	// ConfigMap (an Update, as internal/agent does).
	policy := before["ConfigMap/palisade-admission-policy"]
	agentPolicy := "apiVersion: palisade.io/v1alpha1\nkind: AdmissionPolicy\nmetadata: {name: from-hub}\nspec: {mode: audit}\n"
	if err := unstructured.SetNestedField(policy.Object, agentPolicy, "data", "policy.yaml"); err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	cms := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns)
	if _, err := cms.Update(ctx, policy, metav1.UpdateOptions{FieldManager: "palisade-agent"}); err != nil {
		t.Fatal(err)
	}

	up := action.NewUpgrade(cfg)
	up.Namespace = ns
	up.WaitStrategy = kube.HookOnlyStrategy
	up.Timeout = 2 * time.Minute
	rel, err = up.RunWithContext(ctx, relName, ch, CopyValues(user))
	if err != nil {
		t.Fatalf("upgrade to the current chart: %v", err)
	}
	after := liveObjects(ctx, t, env, rel.(*release.Release).Manifest)
	for key := range before {
		if after[key] == nil {
			t.Errorf("%s lost in the upgrade", key)
		}
	}
	if tls, _, _ := unstructured.NestedString(after["Secret/palisade-admission-tls"].Object, "data", "tls.crt"); tls != tlsBefore {
		t.Error("the upgrade replaced the webhook's certificate")
	}
	if got, _, _ := unstructured.NestedString(after["ConfigMap/palisade-admission-policy"].Object, "data", "policy.yaml"); got != agentPolicy {
		t.Errorf("the upgrade replaced the policy the agent wrote:\n%s", got)
	}

	// To the edge values: the hub is switched off; its data volume stays.
	edge, err := ReadValues(chartDir + "/values-edge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rel, err = up.RunWithContext(ctx, relName, ch, loader.MergeMaps(edge, agentHub))
	if err != nil {
		t.Fatalf("upgrade to the edge values: %v", err)
	}
	edgeObjs := liveObjects(ctx, t, env, rel.(*release.Release).Manifest)
	if edgeObjs["Deployment/palisade-hub"] != nil {
		t.Error("hub Deployment in the edge release")
	}
	pvcs := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}).Namespace(ns)
	if _, err := pvcs.Get(ctx, "palisade-hub-data", metav1.GetOptions{}); err != nil {
		t.Errorf("the hub's data volume was deleted with the hub: %v", err)
	}
	deps := dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace(ns)
	if _, err := deps.Get(ctx, "palisade-hub", metav1.GetOptions{}); err == nil {
		t.Error("the hub Deployment survived switching the hub off")
	}

	// Uninstall removes the cluster-wide webhooks (they would otherwise
	// call a webhook that no longer exists for every namespace).
	un := action.NewUninstall(cfg)
	un.WaitStrategy = kube.HookOnlyStrategy
	if _, err := un.Run(relName); err != nil {
		t.Fatalf("uninstall: %v", err)
	}
	hooks := dyn.Resource(schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"})
	if _, err := hooks.Get(ctx, "palisade-admission-"+ns, metav1.GetOptions{}); err == nil {
		t.Error("the validating webhook survived uninstall")
	}
}
