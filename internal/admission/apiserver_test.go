package admission

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/palisade-sec/palisade/internal/testenv"
	"github.com/palisade-sec/palisade/internal/testregistry"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// warnings collects the Warning headers the API server returns (kubectl
// prints them).
type warnings struct {
	mu  sync.Mutex
	all []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all = append(w.all, msg)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.all
	w.all = nil
	return out
}

// TestWebhookOnRealAPIServer registers the webhooks by URL with the
// testenv CA on a real kube-apiserver and applies workloads through it.
func TestWebhookOnRealAPIServer(t *testing.T) {
	env := testenv.Shared(t)
	reg := testregistry.Start(t, testregistry.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	digest := pushImage(t, reg.Host+"/team/app:1.0")
	good := reg.Host + "/team/app:1.0"

	certPEM, keyPEM, err := env.CA.IssueServing("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := dir+"/tls.crt", dir+"/tls.key"
	writeFile(t, certFile, certPEM)
	writeFile(t, keyFile, keyPEM)

	label := fmt.Sprintf("palisade-webhook-test-%d", time.Now().UnixNano())
	prod := env.CreateNamespace(ctx, t, "prod-", map[string]string{label: "on"}).Name
	exemptNS := env.CreateNamespace(ctx, t, "exempt-", map[string]string{label: "on"}).Name
	outside := env.CreateNamespace(ctx, t, "outside-", nil).Name // not selected by the webhooks

	ts := newTestServer(t, policyHeader+fmt.Sprintf(`spec:
  mode: enforce
  podSecurity: {level: baseline}
  rules: [pss-restricted, hardening/read-only-root-fs]
  overrides:
  - rules: [hardening/read-only-root-fs]
    mode: warn
  images:
    allowedRegistries: ["%s"]
    resolveDigests: true
    requireDigest: true
    registry: {timeout: 2s, insecure: ["%s"]}
  exemptions:
    namespaces: [kube-system, %s]
    breakGlass: true
    breakGlassGroups: ["system:masters"]
`, reg.Host, reg.Host, exemptNS), Options{CertFile: certFile, KeyFile: keyFile})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srvCtx, stopServer := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ts.Serve(srvCtx, ln) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopServer()
			<-served
		}
	}
	t.Cleanup(stop)

	admin := env.AdminClient(t)
	base := "https://" + ln.Addr().String()
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	timeout := int32(5)
	rules := []admissionregistrationv1.RuleWithOperations{
		{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
			Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}},
		{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
			Rule: admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}}},
	}
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{label: "on"}}
	url := func(p string) *string { s := base + p; return &s }
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: label},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "mutate.admission.palisade.io", AdmissionReviewVersions: []string{"v1"}, SideEffects: &none,
			FailurePolicy: &fail, TimeoutSeconds: &timeout, NamespaceSelector: selector, Rules: rules,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: url("/mutate"), CABundle: env.CA.CertPEM},
		}},
	}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: label},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "validate.admission.palisade.io", AdmissionReviewVersions: []string{"v1"}, SideEffects: &none,
			FailurePolicy: &fail, TimeoutSeconds: &timeout, NamespaceSelector: selector, Rules: rules,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: url("/validate"), CABundle: env.CA.CertPEM},
		}},
	}
	if _, err := admin.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, mwc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, vwc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = admin.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, label, metav1.DeleteOptions{})
		_ = admin.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, label, metav1.DeleteOptions{})
	})

	warns := &warnings{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = warns
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The API server picks up webhook configurations asynchronously.
	if err := testenv.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().Pods(prod).Create(ctx, pod("probe", privileged(container("a", good))), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil && strings.Contains(err.Error(), "pss/privileged"), nil
	}); err != nil {
		t.Fatalf("webhook never became active: %v", err)
	}
	warns.take()

	readOnly := func(c corev1.Container) corev1.Container {
		t := true
		if c.SecurityContext == nil {
			c.SecurityContext = &corev1.SecurityContext{}
		}
		c.SecurityContext.ReadOnlyRootFilesystem = &t
		return c
	}

	t.Run("good deployment is mutated to a digest", func(t *testing.T) {
		d, err := client.AppsV1().Deployments(prod).Create(ctx, deployment("web", nil, readOnly(container("a", good))), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := d.Spec.Template.Spec.Containers[0].Image, good+"@"+digest; got != want {
			t.Errorf("image %q, want %q", got, want)
		}
		if w := warns.take(); len(w) > 0 {
			t.Errorf("unexpected warnings %q", w)
		}
	})
	t.Run("bad deployment is denied with the rule's message", func(t *testing.T) {
		_, err := client.AppsV1().Deployments(prod).Create(ctx, deployment("priv", nil, readOnly(privileged(container("a", good)))), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), `[pss/privileged] violates Pod Security "baseline"`) || !strings.Contains(err.Error(), `container "a"`) {
			t.Fatalf("error %v, want a pss/privileged denial", err)
		}
	})
	t.Run("registry outside the allow-list is denied", func(t *testing.T) {
		_, err := client.CoreV1().Pods(prod).Create(ctx, pod("ext", readOnly(container("a", "docker.io/library/nginx:1.27"))), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "[hardening/registry-not-allowed]") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("missing image tag is denied by the mutating webhook", func(t *testing.T) {
		_, err := client.CoreV1().Pods(prod).Create(ctx, pod("missing", readOnly(container("a", reg.Host+"/team/missing:1"))), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "["+RuleDigestResolution+"]") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("warn mode returns warnings to the client", func(t *testing.T) {
		p, err := client.CoreV1().Pods(prod).Create(ctx, pod("writable", container("a", good)), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w := warns.take()
		if len(w) == 0 || !strings.Contains(strings.Join(w, "\n"), "[hardening/read-only-root-fs]") {
			t.Errorf("warnings %q", w)
		}
		if !strings.Contains(p.Spec.Containers[0].Image, "@"+digest) {
			t.Errorf("pod image %q not pinned", p.Spec.Containers[0].Image)
		}
	})
	t.Run("exempt namespace and unselected namespace pass", func(t *testing.T) {
		for _, ns := range []string{exemptNS, outside} {
			if _, err := client.CoreV1().Pods(ns).Create(ctx, pod("priv", privileged(container("a", "docker.io/library/nginx"))), metav1.CreateOptions{}); err != nil {
				t.Errorf("namespace %s: %v", ns, err)
			}
		}
	})
	t.Run("break-glass admits and is reported", func(t *testing.T) {
		before := len(ts.events.all())
		d := deployment("bg", map[string]string{BreakGlassAnnotation: "INC-7 restore service"}, readOnly(privileged(container("a", good))))
		if _, err := client.AppsV1().Deployments(prod).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if w := strings.Join(warns.take(), "\n"); !strings.Contains(w, "break-glass") {
			t.Errorf("warnings %q", w)
		}
		found := false
		for _, e := range ts.events.all()[before:] {
			found = found || (e.Type == EventBreakGlass && e.BreakGlassReason == "INC-7 restore service" && e.Endpoint == EndpointValidate)
		}
		if !found {
			t.Errorf("no break-glass event: %+v", ts.events.all()[before:])
		}
	})

	t.Run("stopped webhook with failurePolicy Ignore does not block", func(t *testing.T) {
		stop()
		ignore := admissionregistrationv1.Ignore
		m, err := admin.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, label, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m.Webhooks[0].FailurePolicy = &ignore
		if _, err := admin.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(ctx, m, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		v, err := admin.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, label, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v.Webhooks[0].FailurePolicy = &ignore
		if _, err := admin.AdmissionregistrationV1().ValidatingWebhookConfigurations().Update(ctx, v, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		var last error
		err = testenv.WaitFor(ctx, func(ctx context.Context) (bool, error) {
			start := time.Now()
			_, last = client.CoreV1().Pods(prod).Create(ctx, pod("after-stop", privileged(container("a", good))), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return last == nil && time.Since(start) < time.Duration(timeout)*time.Second, nil
		})
		if err != nil {
			t.Fatalf("a stopped webhook with failurePolicy Ignore still blocks: %v (last error %v)", err, last)
		}
	})
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := osWriteFile(path, data); err != nil {
		t.Fatal(err)
	}
}
