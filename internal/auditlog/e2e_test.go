package auditlog_test

import (
	"context"
	"encoding/pem"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/palisade-sec/palisade/internal/auditlog"
	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/testenv"
)

func ptr[T any](v T) *T { return &v }

// audited is a real API server writing its audit log to a file and
// sending it, through the webhook backend, to an auditlog.Server.
type audited struct {
	env    *testenv.Env
	server *auditlog.Server
	mu     sync.Mutex
	live   []finding.Finding
}

// startAudited starts the API server with the audit policy.
func startAudited(t *testing.T, policy string) *audited {
	t.Helper()
	engine, err := auditlog.NewEngine(auditlog.EngineOptions{BurstThreshold: 5})
	if err != nil {
		t.Fatal(err)
	}
	au := &audited{}
	au.server = &auditlog.Server{Engine: engine, Sink: func(fs []finding.Finding) {
		au.mu.Lock()
		au.live = append(au.live, fs...)
		au.mu.Unlock()
	}}
	webhook := httptest.NewTLSServer(au.server)
	t.Cleanup(webhook.Close)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: webhook.Certificate().Raw})
	au.env = testenv.Start(t, testenv.Options{Audit: &testenv.AuditOptions{Policy: policy, WebhookKubeconfig: testenv.AuditWebhookKubeconfig(webhook.URL, caPEM)}})
	return au
}

// findings judges the requests still waiting for their last stage and
// returns what the webhook found.
func (a *audited) findings() []finding.Finding {
	a.server.Flush()
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]finding.Finding(nil), a.live...)
}

// noErr fails the test on an error, ignoring the value.
func noErr(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestDetectionsAgainstRealAPIServer: a real kube-apiserver with the
// recommended audit policy writes its audit log and sends every event to
// 'auditlog serve' (the webhook backend) while the test performs risky and
// benign actions. Each detection must fire on its action, by the right
// identity, and nothing else may fire; the log file and the webhook must
// agree.
func TestDetectionsAgainstRealAPIServer(t *testing.T) {
	testenv.Require(t)
	au := startAudited(t, auditlog.RecommendedPolicy)
	env := au.env
	ctx := context.Background()
	admin := env.AdminClient(t)
	mustNoErr := noErr(t)
	// Benign setup by the admin.
	env.CreateNamespace(ctx, t, "shop", nil)
	mustNoErr(admin.CoreV1().Secrets("shop").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"}, StringData: map[string]string{"password": "x"}}, metav1.CreateOptions{}))
	mustNoErr(admin.CoreV1().ServiceAccounts("shop").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "api"}}, metav1.CreateOptions{}))
	mustNoErr(admin.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "nginx"}}}}, metav1.CreateOptions{}))
	mustNoErr(admin.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{}))
	mustNoErr(admin.RbacV1().Roles("shop").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "anon-pods"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}}, metav1.CreateOptions{}))
	mustNoErr(admin.RbacV1().RoleBindings("shop").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "anon-pods"},
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "anon-pods"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "system:anonymous"},
			{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "bob"}}}, metav1.CreateOptions{}))

	// Risky: the admin makes alice cluster-admin.
	mustNoErr(admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-admin"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "alice"}}}, metav1.CreateOptions{}))
	alice := testenv.NewClient(t, env.UserConfig(t, "alice"))
	if err := testenv.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		_, err := alice.CoreV1().Secrets("shop").Get(ctx, "db", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		t.Fatalf("alice never got access: %v", err)
	}
	mustNoErr(alice.CoreV1().Secrets("").List(ctx, metav1.ListOptions{}))
	mustNoErr(alice.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "priv"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "a", Image: "x", SecurityContext: &corev1.SecurityContext{Privileged: ptr(true)}}}}}, metav1.CreateOptions{}))
	mustNoErr(alice.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hostnet"}, Spec: corev1.PodSpec{
		HostNetwork: true, Containers: []corev1.Container{{Name: "a", Image: "x"}}}}, metav1.CreateOptions{}))
	mustNoErr(alice.CoreV1().Services("shop").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "np"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}))
	mustNoErr(alice.CoreV1().ConfigMaps("shop").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"},
		Data: map[string]string{"DB_PASSWORD": "Pr0d-s3cret-pa55"}}, metav1.CreateOptions{}))
	mustNoErr(alice.CoreV1().ServiceAccounts("shop").CreateToken(ctx, "api", &authenticationv1.TokenRequest{}, metav1.CreateOptions{}))
	mustNoErr(alice.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "decoy"}}, metav1.CreateOptions{}))
	// exec fails (no kubelet) but the attempt is audited.
	_ = alice.CoreV1().RESTClient().Post().Namespace("shop").Resource("pods").Name("web").SubResource("exec").
		Param("command", "sh").Param("stdout", "true").Do(ctx).Error()
	// alice impersonates bob.
	asBob := rest.CopyConfig(env.UserConfig(t, "alice"))
	asBob.Impersonate = rest.ImpersonationConfig{UserName: "bob"}
	_, _ = kubernetes.NewForConfigOrDie(asBob).CoreV1().Pods("shop").List(ctx, metav1.ListOptions{})
	// mallory, with no rights, probes.
	mallory := testenv.NewClient(t, env.UserConfig(t, "mallory"))
	for range 6 {
		_, _ = mallory.CoreV1().Secrets("shop").List(ctx, metav1.ListOptions{})
	}
	// anonymous reads pods (allowed by the role above).
	anon := rest.AnonymousClientConfig(env.Config)
	mustNoErr(kubernetes.NewForConfigOrDie(anon).CoreV1().Pods("shop").List(ctx, metav1.ListOptions{}))

	want := map[string]string{
		"audit/cluster-admin-granted":      "palisade-admin",
		"audit/secret-read":                "alice",
		"audit/secret-list-all-namespaces": "alice",
		"audit/privileged-pod":             "alice",
		"audit/hostnetwork-pod":            "alice",
		"audit/nodeport-service":           "alice",
		"audit/configmap-credentials":      "alice",
		"audit/token-for-other-sa":         "alice",
		"audit/admission-webhook-changed":  "alice",
		"audit/pod-exec":                   "alice",
		"audit/impersonation":              "alice",
		"audit/forbidden-burst":            "mallory",
		"audit/anonymous-allowed":          "anonymous",
		"audit/rbac-anonymous-binding":     "palisade-admin", // the setup's binding to system:anonymous
	}
	check := func(name string, fs []finding.Finding) {
		t.Helper()
		got := map[string][]string{}
		for _, f := range fs {
			got[f.RuleID] = append(got[f.RuleID], f.Message)
			if strings.Contains(f.Message, "Pr0d-s3cret-pa55") {
				t.Errorf("%s: message shows a secret: %s", name, f.Message)
			}
		}
		for id, who := range want {
			msgs, ok := got[id]
			if !ok {
				t.Errorf("%s: %s did not fire", name, id)
				continue
			}
			if !strings.Contains(strings.Join(msgs, "\n"), who) {
				t.Errorf("%s: %s fired but not for %s: %v", name, id, who, msgs)
			}
		}
		var extra []string
		for id, msgs := range got {
			if _, ok := want[id]; !ok {
				extra = append(extra, id+": "+strings.Join(msgs, " | "))
			}
		}
		sort.Strings(extra)
		if len(extra) > 0 {
			t.Errorf("%s: unexpected detections on benign traffic:\n%s", name, strings.Join(extra, "\n"))
		}
	}
	check("webhook", au.findings())

	fileEngine, _ := auditlog.NewEngine(auditlog.EngineOptions{BurstThreshold: 5})
	a, err := auditlog.Analyze(ctx, fileEngine, auditlog.Reader{}, []string{env.AuditLogPath}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Stats.Skipped > 0 {
		t.Errorf("the API server's own log had %d skipped lines: %+v", a.Stats.Skipped, a.Stats.Details)
	}
	check("log file", a.Report.Findings)
	found := false
	for _, id := range a.Access.Identities {
		for _, acc := range id.Accesses {
			if id.Identity == "alice" && acc.Action == "secret get" && acc.Target == "shop/db" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("access summary lacks alice's read of shop/db: %+v", a.Access)
	}
}
