package admission

import (
	"bytes"
	"os"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// TestInstallManifests checks the generated install and that
// deploy/admission/install.yaml is what the command prints.
func TestInstallManifests(t *testing.T) {
	out, err := Manifests(ManifestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../../deploy/admission/install.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, committed) {
		t.Error("deploy/admission/install.yaml is stale: run 'go run ./cmd/palisade admission manifests > deploy/admission/install.yaml'")
	}
	kinds := map[string]int{}
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("document does not parse: %v\n%s", err, doc)
		}
		kinds[meta.Kind]++
		switch meta.Kind {
		case "Deployment":
			var d appsv1.Deployment
			if err := yaml.UnmarshalStrict([]byte(doc), &d); err != nil {
				t.Fatal(err)
			}
			if *d.Spec.Replicas < 2 || d.Spec.Template.Spec.Affinity == nil || d.Spec.Template.Spec.Affinity.PodAntiAffinity == nil {
				t.Error("deployment needs 2+ replicas and pod anti-affinity")
			}
			c := d.Spec.Template.Spec.Containers[0]
			sc := c.SecurityContext
			if sc == nil || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || len(sc.Capabilities.Drop) != 1 ||
				!*d.Spec.Template.Spec.SecurityContext.RunAsNonRoot || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("container not restricted or unbounded: %+v", c)
			}
		case "ValidatingWebhookConfiguration":
			var v admissionregistrationv1.ValidatingWebhookConfiguration
			if err := yaml.UnmarshalStrict([]byte(doc), &v); err != nil {
				t.Fatal(err)
			}
			checkSelector(t, v.Webhooks[0].NamespaceSelector)
		case "MutatingWebhookConfiguration":
			var m admissionregistrationv1.MutatingWebhookConfiguration
			if err := yaml.UnmarshalStrict([]byte(doc), &m); err != nil {
				t.Fatal(err)
			}
			checkSelector(t, m.Webhooks[0].NamespaceSelector)
			if *m.Webhooks[0].FailurePolicy != admissionregistrationv1.Ignore {
				t.Error("the mutating webhook should fail open: the validating one decides")
			}
		}
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "Deployment", "PodDisruptionBudget", "Service", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} {
		if kinds[k] != 1 {
			t.Errorf("%d %s, want 1", kinds[k], k)
		}
	}
	// The policy and the break-glass ledger, which the webhook may get
	// and update (its one Role) and the agent read.
	if kinds["ConfigMap"] != 2 || kinds["Role"] != 1 || kinds["RoleBinding"] != 1 || !strings.Contains(string(out), "--break-glass-ledger=palisade-system/palisade-break-glass-ledger") {
		t.Errorf("%d ConfigMaps, %d Roles, %d RoleBindings, want the policy and the break-glass ledger with its Role and binding, and the flag", kinds["ConfigMap"], kinds["Role"], kinds["RoleBinding"])
	}
	if _, err := Manifests(ManifestOptions{Replicas: 1}); err == nil {
		t.Error("one replica accepted")
	}
}

func checkSelector(t *testing.T, s *metav1.LabelSelector) {
	t.Helper()
	for _, e := range s.MatchExpressions {
		if e.Key == "kubernetes.io/metadata.name" && e.Operator == metav1.LabelSelectorOpNotIn &&
			strings.Contains(strings.Join(e.Values, ","), "kube-system") && strings.Contains(strings.Join(e.Values, ","), DefaultNamespace) {
			return
		}
	}
	t.Errorf("namespaceSelector %+v does not exclude kube-system and %s", s, DefaultNamespace)
}
