package cluster_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/rules"
	"github.com/palisade-sec/palisade/internal/scan"
	"github.com/palisade-sec/palisade/internal/testenv"
	"github.com/palisade-sec/palisade/internal/workload"
)

// These tests run against a real etcd + kube-apiserver (internal/testenv);
// there is no controller-manager, so the tests create the pods, service
// accounts and owner references that controllers would.

func TestMain(m *testing.M) { testenv.Main(m) }

func ptr[T any](v T) *T { return &v }

func pod(ns, name string, mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1"}}}}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func create(t *testing.T, ctx context.Context, c kubernetes.Interface, objs ...any) {
	t.Helper()
	for _, o := range objs {
		var err error
		switch v := o.(type) {
		case *corev1.Pod:
			_, err = c.CoreV1().Pods(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *corev1.ServiceAccount:
			_, err = c.CoreV1().ServiceAccounts(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *corev1.Service:
			_, err = c.CoreV1().Services(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *appsv1.Deployment:
			_, err = c.AppsV1().Deployments(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *appsv1.ReplicaSet:
			_, err = c.AppsV1().ReplicaSets(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *rbacv1.ClusterRole:
			_, err = c.RbacV1().ClusterRoles().Create(ctx, v, metav1.CreateOptions{})
		case *rbacv1.ClusterRoleBinding:
			_, err = c.RbacV1().ClusterRoleBindings().Create(ctx, v, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			_, err = c.RbacV1().RoleBindings(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *corev1.Namespace:
			_, err = c.CoreV1().Namespaces().Create(ctx, v, metav1.CreateOptions{})
		case *corev1.Secret:
			_, err = c.CoreV1().Secrets(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *corev1.ConfigMap:
			_, err = c.CoreV1().ConfigMaps(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *policyv1.PodDisruptionBudget:
			_, err = c.PolicyV1().PodDisruptionBudgets(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *autoscalingv2.HorizontalPodAutoscaler:
			_, err = c.AutoscalingV2().HorizontalPodAutoscalers(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		case *networkingv1.Ingress:
			_, err = c.NetworkingV1().Ingresses(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		default:
			t.Fatalf("create: unsupported %T", o)
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create %T: %v", o, err)
		}
	}
}

func scanAll(t *testing.T, ctx context.Context, c kubernetes.Interface, read cluster.ReadOptions) *finding.Report {
	t.Helper()
	set, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := scan.Cluster(ctx, c, read, scan.Options{Rules: set})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ids(r *finding.Report, ns string) []string {
	var out []string
	for _, f := range r.Findings {
		if f.Object.Namespace == ns || (f.Object.Kind == "Namespace" && f.Object.Name == ns) {
			out = append(out, f.Object.Kind+"/"+f.Object.Name+" "+f.RuleID)
		}
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestScanFindsKnownProblems(t *testing.T) {
	env := testenv.Shared(t)
	ctx := context.Background()
	c := env.AdminClient(t)
	enforced := env.CreateNamespace(ctx, t, "scan-enforced-", map[string]string{"pod-security.kubernetes.io/enforce": "baseline"}).Name
	open := env.CreateNamespace(ctx, t, "scan-open-", nil).Name

	privileged := pod(enforced, "priv", func(p *corev1.Pod) {
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr(true)}
	})
	// Baseline enforcement would reject the privileged pod; create it as a
	// Deployment, which the admission controller only warns about.
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: enforced},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "priv"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: privileged.ObjectMeta, Spec: privileged.Spec}}}
	dep.Spec.Template.Namespace, dep.Spec.Template.Name = "", ""
	created, err := c.AppsV1().Deployments(enforced).Create(ctx, dep, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// What the controllers would create: a ReplicaSet of its template and
	// (of a second Deployment, as baseline enforcement rejects a
	// privileged Pod) a ReplicaSet and its Pod, each controlled by a
	// scanned owner with the same template, so they must not be reported
	// again.
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: enforced,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: created.UID, Controller: ptr(true)}}},
		Spec: appsv1.ReplicaSetSpec{Selector: dep.Spec.Selector, Template: dep.Spec.Template}}
	create(t, ctx, c, rs)
	plain := pod(enforced, "plain", nil)
	plainDep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: enforced},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: plain.Labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: plain.Labels}, Spec: plain.Spec}}}
	createdPlain, err := c.AppsV1().Deployments(enforced).Create(ctx, plainDep, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plainRS, err := c.AppsV1().ReplicaSets(enforced).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "plain-1", Namespace: enforced,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "plain", UID: createdPlain.UID, Controller: ptr(true)}}},
		Spec: appsv1.ReplicaSetSpec{Selector: plainDep.Spec.Selector, Template: plainDep.Spec.Template}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owned := pod(enforced, "plain-1-abcde", func(p *corev1.Pod) {
		p.Labels = plain.Labels
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "plain-1", UID: plainRS.UID, Controller: ptr(true)}}
	})
	create(t, ctx, c,
		owned,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: open}},
		pod(open, "latest", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:latest" }),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "exposed", Namespace: open},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}}},
	)

	r := scanAll(t, ctx, c, cluster.ReadOptions{})
	if r.Summary.Partial || r.Summary.Errors > 0 {
		t.Fatalf("admin scan is partial: %v", r.Problems)
	}
	got := append(ids(r, enforced), ids(r, open)...)
	for _, want := range []string{
		"Deployment/web pss/privileged",
		"Deployment/web hardening/read-only-root-fs",
		"Deployment/web cluster/namespace-no-network-policy",
		"Pod/latest hardening/latest-tag",
		"Pod/latest pss/run-as-non-root", // no enforce label: default level restricted
		"Service/exposed hardening/service-exposed",
		"ServiceAccount/default cluster/default-sa-automount",
		"Namespace/" + open + " cluster/namespace-no-pss-enforce",
	} {
		if !contains(got, want) {
			t.Errorf("missing finding %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
	for _, unwanted := range []string{"Namespace/" + enforced + " cluster/namespace-no-pss-enforce"} {
		if contains(got, unwanted) {
			t.Errorf("unexpected finding %q", unwanted)
		}
	}
	for _, f := range r.Findings {
		if f.Object.Name == "web-1" || f.Object.Name == "plain-1" || f.Object.Name == "plain-1-abcde" {
			t.Errorf("object controlled by a scanned owner reported: %v", f.Object)
		}
		if f.File != "" {
			t.Errorf("cluster finding has a file: %+v", f)
		}
	}
	// -n limits namespaced resources.
	only := scanAll(t, ctx, c, cluster.ReadOptions{Namespace: open})
	for _, f := range only.Findings {
		if f.Object.Namespace != "" && f.Object.Namespace != open {
			t.Errorf("-n %s reported %v", open, f.Object)
		}
	}
}

func TestReadPaginates(t *testing.T) {
	env := testenv.Shared(t)
	ctx := context.Background()
	c := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "scan-pages-", nil).Name
	for i := range 7 {
		create(t, ctx, c, pod(ns, fmt.Sprintf("p%d", i), nil))
	}
	snap, err := cluster.Read(ctx, c, cluster.ReadOptions{Namespace: ns, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	pods := 0
	for _, o := range snap.Inventory.Objects {
		if o.Ref.Kind == "Pod" && o.Ref.Namespace == ns {
			pods++
		}
	}
	if pods != 7 {
		t.Errorf("read %d pods, want 7", pods)
	}
	// 16 resource types at one page each at least, 4 pages for 7 pods.
	if snap.Stats.Requests < 19 {
		t.Errorf("requests = %d: pagination not used", snap.Stats.Requests)
	}
}

// scanInputs creates, in ns, the objects the rules read besides workloads
// (a ConfigMap with a credential, a clean one, a PodDisruptionBudget that
// allows no eviction, an autoscaler and an Ingress whose targets are
// missing) and returns the findings a scan must report on them.
func scanInputs(t *testing.T, ctx context.Context, c kubernetes.Interface, ns string) []string {
	t.Helper()
	labels := map[string]string{"app": "api"}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(2)), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1"}}}}}}
	create(t, ctx, c, dep,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app-config", Namespace: ns},
			Data: map[string]string{"LOG_LEVEL": "debug", "DB_PASSWORD": "hunter2-prod-7731", "app.properties": strings.Repeat("cache.size=64\n", 5000)}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "clean", Namespace: ns}, Data: map[string]string{"LOG_LEVEL": "info"}},
		&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns},
			Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr(intstr.FromInt32(0)), Selector: &metav1.LabelSelector{MatchLabels: labels}}},
		&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "gone", Namespace: ns},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "gone"},
				MinReplicas: ptr(int32(2)), MaxReplicas: 4}},
		&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
			Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "missing", Port: networkingv1.ServiceBackendPort{Number: 80}}}}},
	)
	return []string{
		"ConfigMap/app-config hardening/configmap-secret",
		"PodDisruptionBudget/api reliability/pdb-blocks-eviction",
		"HorizontalPodAutoscaler/gone reliability/hpa-target-missing",
		"Ingress/web reliability/ingress-missing-service",
	}
}

// TestScanReadsRuleInputs: scan cluster reads ConfigMaps, disruption
// budgets, autoscalers and Ingresses from a real API server, so the rules
// about them report live objects as they report manifests; the finding
// masks the credential, and the clean ConfigMap has none.
func TestScanReadsRuleInputs(t *testing.T) {
	env := testenv.Shared(t)
	ctx := context.Background()
	c := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "scan-inputs-", nil).Name
	want := scanInputs(t, ctx, c, ns)
	r := scanAll(t, ctx, c, cluster.ReadOptions{Namespace: ns, PageSize: 1})
	if r.Summary.Partial || r.Summary.Errors > 0 {
		t.Fatalf("scan is partial: %v", r.Problems)
	}
	got := ids(r, ns)
	for _, w := range want {
		if !contains(got, w) {
			t.Errorf("missing finding %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	for _, f := range r.Findings {
		if f.Object.Kind == "ConfigMap" && f.Object.Name == "clean" {
			t.Errorf("clean ConfigMap reported: %+v", f)
		}
		if strings.Contains(f.Message, "hunter2-prod-7731") {
			t.Errorf("finding shows the credential: %s", f.Message)
		}
	}
}

// TestScannerRoleIsLeastPrivilege binds exactly deploy/rbac/scanner.yaml to
// a service account: the whole scan must succeed, and Secrets must stay out
// of reach.
func TestScannerRoleIsLeastPrivilege(t *testing.T) {
	env := testenv.Shared(t)
	ctx := context.Background()
	admin := env.AdminClient(t)
	set, err := manifest.Load(ctx, []string{"../../deploy/rbac/scanner.yaml"}, manifest.Options{})
	if err != nil || len(set.Problems) > 0 {
		t.Fatalf("load scanner.yaml: %v %v", err, set.Problems)
	}
	inv, probs := workload.FromManifests(set, "")
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	for _, o := range inv.Objects {
		switch v := o.Typed.(type) {
		case *corev1.Namespace, *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding:
			create(t, ctx, admin, v)
		case *corev1.ServiceAccount:
			// created with its token below
		default:
			t.Fatalf("unexpected object in scanner.yaml: %v", o.Ref)
		}
	}
	secretNS := env.CreateNamespace(ctx, t, "scan-secrets-", nil).Name
	create(t, ctx, admin, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: secretNS}, StringData: map[string]string{"password": "x"}})

	inputsNS := env.CreateNamespace(ctx, t, "scan-role-inputs-", nil).Name
	want := scanInputs(t, ctx, admin, inputsNS)

	cfg := env.ServiceAccountConfig(ctx, t, "palisade-system", "palisade-scanner")
	scanner := testenv.NewClient(t, cfg)
	r := scanAll(t, ctx, scanner, cluster.ReadOptions{})
	if r.Summary.Partial || r.Summary.Errors != 0 {
		t.Errorf("scan as palisade-scanner is partial: %v", r.Problems)
	}
	for _, w := range want {
		if got := ids(r, inputsNS); !contains(got, w) {
			t.Errorf("scan as palisade-scanner: missing finding %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if r.Summary.Objects == 0 {
		t.Error("scan as palisade-scanner read nothing")
	}
	if _, err := scanner.CoreV1().Secrets(secretNS).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing Secrets as palisade-scanner: err = %v, want Forbidden", err)
	}
	if _, err := scanner.CoreV1().Secrets(secretNS).Get(ctx, "db", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("reading a Secret as palisade-scanner: err = %v, want Forbidden", err)
	}
}

// TestForbiddenResourceMakesPartialReport gives a user a role that cannot
// list NetworkPolicies: the scan still runs, and says what is missing.
func TestForbiddenResourceMakesPartialReport(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // WaitFor's bound
	defer cancel()
	admin := env.AdminClient(t)
	create(t, ctx, admin,
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "scan-partial"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"", "apps", "batch", "rbac.authorization.k8s.io", "policy", "autoscaling"}, Resources: []string{"*"}, Verbs: []string{"list"}},
			{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: []string{"list"}},
		}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "scan-partial"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "scan-partial"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "partial-user", APIGroup: "rbac.authorization.k8s.io"}}},
	)
	c := testenv.NewClient(t, env.UserConfig(t, "partial-user"))
	var snap *cluster.Snapshot
	err := testenv.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		var err error
		snap, err = cluster.Read(ctx, c, cluster.ReadOptions{})
		return err == nil && len(snap.Problems) == 1, err
	})
	if err != nil {
		t.Fatalf("read: %v (problems %v)", err, snap.Problems)
	}
	if !snap.Partial || !strings.Contains(snap.Problems[0].Message, "networkpolicies.networking.k8s.io: forbidden") {
		t.Errorf("partial=%v problems=%v", snap.Partial, snap.Problems)
	}
}

func TestUnreachableAndBadCredentials(t *testing.T) {
	env := testenv.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tests := []struct {
		name string
		cfg  *rest.Config
		want string
	}{
		{"unreachable", &rest.Config{Host: "https://127.0.0.1:1", Timeout: 2 * time.Second}, "cannot reach the Kubernetes API"},
		{"bad token", env.TokenConfig("not-a-valid-token"), "401 Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := cluster.NewClient(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = cluster.Read(ctx, c, cluster.ReadOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
			// A bound far above the client's 2 s timeout (a loaded machine
			// is slow), far below the context's: a read that waits for
			// the context fails here.
			if time.Since(start) > time.Minute {
				t.Errorf("took %v: should fail fast", time.Since(start))
			}
		})
	}
}

func TestKubeconfigLoading(t *testing.T) {
	env := testenv.Shared(t)
	path := env.KubeconfigFor(t, env.Config)
	cfg, err := cluster.RESTConfig(cluster.ClientOptions{Kubeconfig: path})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != env.Config.Host || cfg.Timeout != 30*time.Second {
		t.Errorf("host %s timeout %v", cfg.Host, cfg.Timeout)
	}
	if _, err := cluster.RESTConfig(cluster.ClientOptions{Kubeconfig: path, Context: "nope"}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown context: err = %v", err)
	}
	if _, err := cluster.RESTConfig(cluster.ClientOptions{Kubeconfig: "/does/not/exist"}); err == nil {
		t.Error("missing kubeconfig: no error")
	}
}

// An owner reference is written by whoever creates the object: a Pod
// that names a controller must be scanned unless the read saw that
// controller (by UID, of a kind that creates Pods) with the same
// template, and is reported under the owner's name only then, so that
// the owner's exemptions do not cover it. Before, a privileged Pod that
// named any Deployment, ReplicaSet, CronJob... as its controller, even
// one that does not exist, was never scanned.
func TestClaimedOwnerDoesNotHideAPod(t *testing.T) {
	env := testenv.Shared(t)
	ctx := context.Background()
	c := env.AdminClient(t)
	ns := env.CreateNamespace(ctx, t, "scan-owners-", nil).Name
	privileged := func(p *corev1.Pod) {
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr(true)}
	}
	benign := pod(ns, "benign", nil)
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: benign.Labels}, Spec: benign.Spec}
	cj, err := c.BatchV1().CronJobs(ns).Create(ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: ns},
		Spec: batchv1.CronJobSpec{Schedule: "0 1 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: func() corev1.PodTemplateSpec {
			t := tmpl
			t.Spec.RestartPolicy = corev1.RestartPolicyNever
			return t
		}()}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "rs-1", Namespace: ns},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: benign.Labels}, Template: tmpl}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	controlledBy := func(kind, name string, uid types.UID) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Labels = benign.Labels
			apiVersion := "apps/v1"
			if kind == "CronJob" {
				apiVersion = "batch/v1"
			}
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: ptr(true)}}
		}
	}
	both := func(fs ...func(*corev1.Pod)) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			for _, f := range fs {
				f(p)
			}
		}
	}
	create(t, ctx, c,
		// A CronJob creates Jobs, never Pods.
		pod(ns, "claims-cronjob", both(privileged, controlledBy("CronJob", cj.Name, cj.UID))),
		// No such ReplicaSet.
		pod(ns, "claims-missing-rs", both(privileged, controlledBy("ReplicaSet", "gone", "00000000-0000-0000-0000-000000000001"))),
		// The ReplicaSet's UID under another name.
		pod(ns, "claims-renamed-rs", both(privileged, controlledBy("ReplicaSet", "other", rs.UID))),
		// A real replica whose template says otherwise.
		pod(ns, "rs-1-privileged", both(controlledBy("ReplicaSet", rs.Name, rs.UID), privileged)),
		// A real replica, as the template says: reported through rs-1.
		pod(ns, "rs-1-same", controlledBy("ReplicaSet", rs.Name, rs.UID)),
		pod(ns, "rs-1-debugged", controlledBy("ReplicaSet", rs.Name, rs.UID)),
	)
	// `kubectl debug --profile=sysadmin` adds a privileged ephemeral container.
	dbg, err := c.CoreV1().Pods(ns).Get(ctx, "rs-1-debugged", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dbg.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger",
		Image: "registry.example.com/debug:1", SecurityContext: &corev1.SecurityContext{Privileged: ptr(true)}}}}
	if _, err := c.CoreV1().Pods(ns).UpdateEphemeralContainers(ctx, dbg.Name, dbg, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	snap, err := cluster.Read(ctx, c, cluster.ReadOptions{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	var read []string
	for _, o := range snap.Inventory.Objects {
		if o.Ref.Kind == "Pod" {
			read = append(read, o.Ref.Name)
		}
	}
	sort.Strings(read)
	if want := []string{"claims-cronjob", "claims-missing-rs", "claims-renamed-rs", "rs-1-debugged", "rs-1-privileged"}; strings.Join(read, " ") != strings.Join(want, " ") {
		t.Errorf("pods read %v, want %v", read, want)
	}

	got := ids(scanAll(t, ctx, c, cluster.ReadOptions{Namespace: ns}), ns)
	for _, want := range []string{
		"Pod/claims-cronjob pss/privileged",
		"Pod/claims-missing-rs pss/privileged",
		"Pod/claims-renamed-rs pss/privileged",
		// Replicas of a ReplicaSet that was read are named after it.
		"ReplicaSet/rs-1 pss/privileged",
	} {
		if !contains(got, want) {
			t.Errorf("missing finding %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
	for _, f := range got {
		if strings.HasPrefix(f, "CronJob/") && strings.HasSuffix(f, "pss/privileged") {
			t.Errorf("a Pod's finding is named after the CronJob it claims: %s", f)
		}
	}
}
