package agent

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/palisade-sec/palisade/internal/testenv"
)

func TestParseAdmissionPolicyTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want AdmissionPolicyTarget
		err  bool
	}{
		{in: "palisade-system/palisade-admission-policy", want: AdmissionPolicyTarget{"palisade-system", "palisade-admission-policy", "policy.yaml"}},
		{in: "ns/cm:p.yaml", want: AdmissionPolicyTarget{"ns", "cm", "p.yaml"}},
		{in: "cm", err: true},
		{in: "/cm", err: true},
		{in: "ns/", err: true},
		{in: "ns/a/b", err: true},
	} {
		got, err := ParseAdmissionPolicyTarget(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseAdmissionPolicyTarget(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

const testAdmissionPolicy = "apiVersion: palisade.io/v1alpha1\nkind: AdmissionPolicy\nmetadata:\n  name: fleet\nspec:\n  mode: enforce\n"

func TestCheckAdmissionPolicy(t *testing.T) {
	for _, tc := range []struct {
		name, content, err string
	}{
		{"policy", testAdmissionPolicy, ""},
		{"another kind", "apiVersion: v1\nkind: Pod\n", `kind "Pod"`},
		{"not yaml", "\t: [", "not YAML"},
		{"too large", testAdmissionPolicy + "# " + strings.Repeat("x", maxAdmissionPolicyBytes), "over the"},
	} {
		err := checkAdmissionPolicy([]byte(tc.content))
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		}
	}
}

// TestSyncAdmissionPolicyWithShippedRole: against a real API server, the
// agent's service account bound to exactly deploy/agent's Role (moved to
// the test's namespace) updates the webhook's policy ConfigMap, skips an
// unchanged policy, refuses a bundle that is not an AdmissionPolicy, and
// can neither touch another ConfigMap, create one, nor read Secrets.
func TestSyncAdmissionPolicyWithShippedRole(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "", nil).Name

	raw, err := os.ReadFile("../../deploy/agent/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role *rbacv1.Role
	var binding *rbacv1.RoleBinding
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var head struct{ Kind string }
		_ = yaml.Unmarshal([]byte(doc), &head)
		var meta struct{ Metadata struct{ Name string } }
		_ = yaml.Unmarshal([]byte(doc), &meta)
		if meta.Metadata.Name != "palisade-agent-admission-policy" {
			continue // the ledger's Role is read-only (TestBreakGlassLedgerOutlivesEvents)
		}
		switch head.Kind {
		case "Role":
			role = &rbacv1.Role{}
			if err := yaml.UnmarshalStrict([]byte(doc), role); err != nil {
				t.Fatal(err)
			}
		case "RoleBinding":
			binding = &rbacv1.RoleBinding{}
			if err := yaml.UnmarshalStrict([]byte(doc), binding); err != nil {
				t.Fatal(err)
			}
		}
	}
	if role == nil || binding == nil || len(role.Rules) != 1 || len(role.Rules[0].ResourceNames) != 1 {
		t.Fatalf("deploy/agent/agent.yaml: want one Role with one rule naming one ConfigMap, and its RoleBinding; got %+v %+v", role, binding)
	}
	role.Namespace, binding.Namespace = ns, ns
	binding.Subjects[0].Namespace = ns
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	name := role.Rules[0].ResourceNames[0]
	for _, cm := range []string{name, "other"} {
		if _, err := admin.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cm}, Data: map[string]string{"policy.yaml": "local"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	agentClient := testenv.NewClient(t, env.ServiceAccountConfig(ctx, t, ns, binding.Subjects[0].Name))
	target := AdmissionPolicyTarget{Namespace: ns, Name: name, Key: "policy.yaml"}
	get := func() *corev1.ConfigMap {
		cm, err := admin.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cm
	}

	// RBAC bindings take effect at once, but allow for the cache.
	var changed bool
	if err := testenv.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		changed, err = syncAdmissionPolicy(ctx, agentClient, target, []byte(testAdmissionPolicy), "admission/fleet v1")
		return err == nil, nil
	}); err != nil || !changed {
		t.Fatalf("first sync: changed=%v, %v", changed, err)
	}
	cm := get()
	if cm.Data["policy.yaml"] != testAdmissionPolicy || cm.Annotations[annotationAdmissionBundle] != "admission/fleet v1" {
		t.Fatalf("ConfigMap after sync: %v %v", cm.Data, cm.Annotations)
	}
	if changed, err := syncAdmissionPolicy(ctx, agentClient, target, []byte(testAdmissionPolicy), "admission/fleet v1"); err != nil || changed {
		t.Fatalf("unchanged policy: changed=%v, %v", changed, err)
	}
	if get().ResourceVersion != cm.ResourceVersion {
		t.Fatal("unchanged policy was written again")
	}
	if _, err := syncAdmissionPolicy(ctx, agentClient, target, []byte("apiVersion: v1\nkind: Pod\n"), "admission/fleet v2"); err == nil || !strings.Contains(err.Error(), "AdmissionPolicy") {
		t.Fatalf("a Pod as admission policy: %v", err)
	}
	if get().Data["policy.yaml"] != testAdmissionPolicy {
		t.Fatal("a refused bundle changed the ConfigMap")
	}
	missing := AdmissionPolicyTarget{Namespace: ns, Name: "absent", Key: "policy.yaml"}
	if _, err := syncAdmissionPolicy(ctx, agentClient, missing, []byte(testAdmissionPolicy), "b"); err == nil || !strings.Contains(err.Error(), ns+"/absent") {
		t.Fatalf("missing ConfigMap: %v", err)
	}

	// Least privilege.
	other := AdmissionPolicyTarget{Namespace: ns, Name: "other", Key: "policy.yaml"}
	if _, err := syncAdmissionPolicy(ctx, agentClient, other, []byte(testAdmissionPolicy), "b"); !apierrors.IsForbidden(err) {
		t.Errorf("updating another ConfigMap: %v, want Forbidden", err)
	}
	if _, err := agentClient.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "new"}}, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("creating a ConfigMap: %v, want Forbidden", err)
	}
	if _, err := agentClient.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing Secrets: %v, want Forbidden", err)
	}
}
