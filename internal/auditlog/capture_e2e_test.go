package auditlog_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

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

var writeCapture = flag.Bool("capture", false, "rewrite testdata/capture/apiserver-v1.jsonl from the real API server")

// captureStages is an audit policy that logs every stage of every request
// with its bodies: what a cluster that keeps RequestReceived and
// ResponseStarted writes.
const captureStages = `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version", "/openapi*"]
- level: None
  resources:
  - group: "coordination.k8s.io"
    resources: ["leases"]
- level: RequestResponse
`

// fakeKubelet answers the API server's exec, attach and port-forward
// upgrades with 101 Switching Protocols and hangs up: enough for the API
// server to start the response (and log ResponseStarted) as it does for
// a real kubelet.
func fakeKubelet(t *testing.T) (*httptest.Server, int) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Connection"), "upgrade") {
			http.Error(w, "upgrade required", http.StatusBadRequest)
			return
		}
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		proto := r.Header.Get("X-Stream-Protocol-Version")
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\nX-Stream-Protocol-Version: %s\r\n\r\n", r.Header.Get("Upgrade"), proto)
		rw.Flush()
		time.Sleep(200 * time.Millisecond) // a short session
	}))
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return srv, p
}

// upgrade opens a streaming subresource (exec, attach, portforward) as
// kubectl does, over SPDY, and returns the status the API server answered.
func upgrade(ctx context.Context, t *testing.T, cfg *rest.Config, path string) int {
	t.Helper()
	cfg = rest.CopyConfig(cfg)
	cfg.NextProtos = []string{"http/1.1"} // upgrades are HTTP/1.1 only
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.Host+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "SPDY/3.1")
	req.Header.Set("X-Stream-Protocol-Version", "v4.channel.k8s.io")
	req.Header.Add("X-Stream-Protocol-Version", "portforward.k8s.io")
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer resp.Body.Close()
	_, _ = bufio.NewReader(resp.Body).ReadString('\n') // until the kubelet hangs up
	return resp.StatusCode
}

// TestRealCaptureEveryStage drives a real kube-apiserver that logs every
// stage (RequestReceived, ResponseStarted, ResponseComplete) with a fake
// kubelet behind exec, attach and port-forward, and checks on its genuine
// log file and its genuine webhook batches that each request gives one
// finding, long-running ones included. With -capture it rewrites the
// committed capture the fast unit tests convert to other shapes.
func TestRealCaptureEveryStage(t *testing.T) {
	testenv.Require(t)
	kubelet, kubeletPort := fakeKubelet(t)
	defer kubelet.Close()
	au := startAudited(t, captureStages)
	env := au.env
	ctx := context.Background()
	admin := env.AdminClient(t)
	must := noErr(t)
	env.CreateNamespace(ctx, t, "shop", nil)
	node, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status = corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(kubeletPort)}}}
	must(admin.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}))
	must(admin.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.PodSpec{NodeName: "node1", Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}, metav1.CreateOptions{}))
	must(admin.CoreV1().Secrets("shop").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"}, StringData: map[string]string{"password": "x"}}, metav1.CreateOptions{}))
	must(admin.CoreV1().ServiceAccounts("shop").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "api"}}, metav1.CreateOptions{}))
	must(admin.RbacV1().Roles("shop").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "anon-pods"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}}}}, metav1.CreateOptions{}))
	must(admin.RbacV1().RoleBindings("shop").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "anon-pods"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "anon-pods"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "system:anonymous"}}}, metav1.CreateOptions{}))
	must(admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-admin"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "alice"}}}, metav1.CreateOptions{}))
	aliceCfg := env.UserConfig(t, "alice")
	alice := testenv.NewClient(t, aliceCfg)
	if err := testenv.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		_, err := alice.CoreV1().Secrets("shop").Get(ctx, "db", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		t.Fatalf("alice never got access: %v", err)
	}
	// Long-running requests through the fake kubelet.
	for _, sub := range []string{"exec?command=sh&stdin=true&stdout=true&tty=true&container=app", "attach?stdout=true&container=app", "portforward?ports=80"} {
		if code := upgrade(ctx, t, aliceCfg, "/api/v1/namespaces/shop/pods/web/"+sub); code != http.StatusSwitchingProtocols {
			t.Errorf("%s: status %d, want 101 from the fake kubelet", sub, code)
		}
	}
	// A watch of all secrets, closed by its timeout.
	w, err := alice.CoreV1().Secrets("").Watch(ctx, metav1.ListOptions{TimeoutSeconds: ptr(int64(1))})
	if err != nil {
		t.Fatal(err)
	}
	for range w.ResultChan() {
	}
	must(alice.CoreV1().Secrets("shop").List(ctx, metav1.ListOptions{}))
	must(alice.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "priv"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "a", Image: "x", SecurityContext: &corev1.SecurityContext{Privileged: ptr(true)}}}}}, metav1.CreateOptions{}))
	must(alice.CoreV1().ServiceAccounts("shop").CreateToken(ctx, "api", &authenticationv1.TokenRequest{}, metav1.CreateOptions{}))
	anon := kubernetes.NewForConfigOrDie(rest.AnonymousClientConfig(env.Config))
	if err := testenv.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		_, err := anon.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{})
		return err == nil, nil
	}); err != nil {
		t.Fatalf("anonymous never got access: %v", err)
	}
	mallory := testenv.NewClient(t, env.UserConfig(t, "mallory"))
	for range 6 {
		_, _ = mallory.CoreV1().Secrets("shop").List(ctx, metav1.ListOptions{})
	}
	// mallory's exec is denied before any upgrade: one complete stage.
	if code := upgrade(ctx, t, env.UserConfig(t, "mallory"), "/api/v1/namespaces/shop/pods/web/exec?command=id&stdout=true"); code != http.StatusForbidden {
		t.Errorf("mallory's exec: status %d, want 403", code)
	}

	// What the API server logged: every stage of each request.
	raw, err := os.ReadFile(env.AuditLogPath)
	if err != nil {
		t.Fatal(err)
	}
	stages := map[string]map[string]bool{} // "verb resource/sub" → stages
	for _, l := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var e struct {
			Stage, Verb string
			User        struct{ Username string }
			ObjectRef   *struct{ Resource, Subresource string }
		}
		if err := json.Unmarshal(l, &e); err != nil || e.ObjectRef == nil || e.User.Username != "alice" {
			continue
		}
		k := e.Verb + " " + e.ObjectRef.Resource + "/" + e.ObjectRef.Subresource
		if stages[k] == nil {
			stages[k] = map[string]bool{}
		}
		stages[k][e.Stage] = true
	}
	for _, k := range []string{"create pods/exec", "create pods/attach", "create pods/portforward", "watch secrets/"} {
		if !stages[k]["ResponseStarted"] {
			t.Errorf("%s: the API server logged stages %v, expected ResponseStarted among them", k, stages[k])
		}
	}

	fileEngine, _ := auditlog.NewEngine(auditlog.EngineOptions{BurstThreshold: 5})
	a, err := auditlog.Analyze(ctx, fileEngine, auditlog.Reader{}, []string{env.AuditLogPath}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Stats.Skipped > 0 || a.Report.Summary.Errors > 0 {
		t.Errorf("the API server's own log was not fully read: %+v", a.Report.Problems)
	}
	live := au.findings()
	want := map[string]int{ // rule → findings by alice or mallory: one per request
		"audit/pod-exec":                   2, // alice's session, mallory's denied attempt
		"audit/pod-attach":                 1,
		"audit/pod-portforward":            1,
		"audit/secret-list-all-namespaces": 1, // the watch
		"audit/secret-read":                2, // the get while waiting for access, the list
		"audit/privileged-pod":             1,
		"audit/token-for-other-sa":         1,
		"audit/forbidden-burst":            1,
		"audit/anonymous-allowed":          1,
	}
	for name, fs := range map[string][]finding.Finding{"log file": a.Report.Findings, "webhook": live} {
		got := map[string]int{}
		for _, f := range fs {
			if strings.Contains(f.Message, "alice") || strings.Contains(f.Message, "mallory") || strings.Contains(f.Message, "anonymous") {
				got[f.RuleID]++
			}
		}
		for id, n := range want {
			if got[id] < n || (id != "audit/secret-read" && got[id] != n) {
				t.Errorf("%s: %s fired %d times, want %d (one per request)", name, id, got[id], n)
			}
		}
	}
	if *writeCapture {
		saveCapture(t, raw)
	}
}

// saveCapture keeps the events of the test's people (not the control
// plane's own traffic), so the committed capture stays small.
func saveCapture(t *testing.T, raw []byte) {
	var out bytes.Buffer
	for _, l := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var e struct{ User struct{ Username string } }
		if json.Unmarshal(l, &e) != nil {
			continue
		}
		switch e.User.Username {
		case "alice", "mallory", "system:anonymous":
			out.Write(l)
			out.WriteByte('\n')
		}
	}
	p := filepath.Join("testdata", "capture", "apiserver-v1.jsonl")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		ids[l[:min(len(l), 10)]] = true
	}
	keys := make([]string, 0, len(ids))
	for k := range ids {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Logf("wrote %s (%d bytes)", p, out.Len())
}
