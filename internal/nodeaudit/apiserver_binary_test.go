package nodeaudit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/palisade-sec/palisade/internal/testenv"
)

// apiServerFlagsRead are the API server flags the checks and loaders read;
// each must exist in the real kube-apiserver.
var apiServerFlagsRead = []string{
	"anonymous-auth", "token-auth-file", "kubelet-client-certificate", "kubelet-client-key", "kubelet-certificate-authority",
	"authorization-mode", "authorization-config", "authentication-config", "enable-admission-plugins", "disable-admission-plugins",
	"admission-control", "admission-control-config-file", "profiling", "audit-log-path", "audit-log-maxage", "audit-log-maxbackup",
	"audit-log-maxsize", "audit-policy-file", "audit-webhook-config-file", "encryption-provider-config", "tls-cert-file",
	"tls-private-key-file", "client-ca-file", "tls-cipher-suites", "tls-min-version", "etcd-certfile", "etcd-keyfile", "etcd-cafile",
	"etcd-servers", "service-account-lookup", "service-account-key-file", "service-account-signing-key-file", "service-account-issuer",
	"service-account-extend-token-expiration", "request-timeout", "enable-bootstrap-token-auth", "oidc-issuer-url", "feature-gates",
}

// helpFlag is one flag of a component's --help: its type ("" for a
// boolean) and description.
type helpFlag struct{ typ, desc string }

var helpLine = regexp.MustCompile(`^\s+(?:-\w, )?--([a-z0-9-]+)(?: ([a-zA-Z]+))?\s{2,}(.*)$`)

func componentHelp(t *testing.T, bin string) map[string]helpFlag {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, "--help").CombinedOutput()
	flags := map[string]helpFlag{}
	for _, l := range strings.Split(string(out), "\n") {
		if m := helpLine.FindStringSubmatch(l); m != nil {
			flags[m[1]] = helpFlag{m[2], m[3]}
		}
	}
	if len(flags) < 100 {
		t.Fatalf("%s --help: %d flags read: %s", bin, len(flags), out)
	}
	return flags
}

// TestRealAPIServerFlags holds the flag semantics of this package to the
// real kube-apiserver of the Kubernetes version the project targets: the
// flags read exist, booleans are booleans, list flags are lists (so
// repeating them accumulates), removed flags are gone, the defaults the
// checks assume are the binary's, and the default admission plugins are
// the binary's.
func TestRealAPIServerFlags(t *testing.T) {
	bins := testenv.Require(t)
	help := componentHelp(t, bins.APIServer)
	for _, f := range apiServerFlagsRead {
		if _, ok := help[f]; !ok {
			t.Errorf("--%s: not a flag of kube-apiserver", f)
		}
	}
	for f := range boolFlags {
		if h, ok := help[f]; ok && h.typ != "" {
			t.Errorf("--%s is %s in kube-apiserver, not a boolean", f, h.typ)
		}
	}
	for f := range listFlags {
		if h, ok := help[f]; ok && h.typ != "strings" && h.typ != "stringArray" {
			t.Errorf("--%s is %s in kube-apiserver, not a list", f, h.typ)
		}
	}
	for f := range removedFlags[APIServer] {
		if _, ok := help[f]; ok {
			t.Errorf("--%s is listed as removed but kube-apiserver still has it", f)
		}
	}
	defaults := map[string]string{"anonymous-auth": "true", "profiling": "true", "service-account-lookup": "true", "request-timeout": "1m0s"}
	for f, want := range defaults {
		if h := help[f]; !strings.Contains(h.desc, "(default "+want+")") {
			t.Errorf("--%s: the checks assume the default %s: %q", f, want, h.desc)
		}
	}
	// A boolean whose help gives no default defaults to false, except
	// where the checks assume true; the binary says so in its text.
	if h := help["service-account-extend-token-expiration"]; !strings.Contains(h.desc, "default true") && !strings.Contains(h.desc, "(default true)") {
		t.Errorf("--service-account-extend-token-expiration: the check assumes the default true: %q", h.desc)
	}
	m := regexp.MustCompile(`default enabled ones \(([^)]*)\)`).FindStringSubmatch(help["enable-admission-plugins"].desc)
	if m == nil {
		t.Fatalf("no default admission plugins in %q", help["enable-admission-plugins"].desc)
	}
	var got, want []string
	for _, p := range strings.Split(m[1], ",") {
		got = append(got, strings.TrimSpace(p))
	}
	for p := range defaultAdmission {
		want = append(want, p)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("default admission plugins of kube-apiserver %v, the package assumes %v", got, want)
	}
}

// TestRealAPIServerCommandLine audits the command line of a real running
// kube-apiserver (internal/testenv) as found under /proc, and holds what the
// audit concludes to what the server does: --enable-admission-plugins given
// twice enables both lists (AlwaysPullImages rewrites a pod's pull
// policy), and the absent --anonymous-auth defaults to true (an
// unauthenticated request is forbidden as system:anonymous, not refused
// as unauthenticated).
func TestRealAPIServerCommandLine(t *testing.T) {
	env := testenv.Start(t, testenv.Options{
		EnableAdmissionPlugins: []string{"NodeRestriction"},
		ExtraAPIServerFlags:    []string{"--enable-admission-plugins=AlwaysPullImages"},
	})
	pid, cmdline := findAPIServer(t, env.Dir)
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "proc", pid, "cmdline"), string(cmdline))
	n, err := Load(context.Background(), Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	api := n.Component(APIServer)
	if !api.Running || api.Source != "/proc/"+pid+"/cmdline" {
		t.Fatalf("API server not read from its process: %+v", api)
	}
	for _, p := range []string{"NodeRestriction", "AlwaysPullImages"} {
		if on, _ := admissionEnabled(api, p); !on {
			t.Errorf("the audit reads %s as off", p)
		}
	}
	out := Evaluate(n, Checks())
	if o := outcomeOf(t, out, "node/apiserver-admission-node-restriction"); o.Status != Pass {
		t.Errorf("NodeRestriction: %+v", o.Results)
	}
	if o := outcomeOf(t, out, "node/apiserver-anonymous-auth"); o.Status != Fail {
		t.Errorf("anonymous auth: %+v", o.Results)
	}
	if o := outcomeOf(t, out, "node/apiserver-token-auth-file"); o.Status != Fail {
		t.Errorf("token auth file: %+v", o.Results)
	}

	// What the server does.
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example/app:1", ImagePullPolicy: corev1.PullIfNotPresent}}}}
	got, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	if p := got.Spec.Containers[0].ImagePullPolicy; p != corev1.PullAlways {
		t.Errorf("the server did not run AlwaysPullImages: pull policy %s", p)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(env.Config.CAData)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}
	resp, err := hc.Get(env.APIServerURL + "/api/v1/namespaces/default/secrets")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "system:anonymous") {
		t.Errorf("anonymous request: %d %s; the audit says anonymous requests are allowed in", resp.StatusCode, body)
	}
}

// findAPIServer finds the kube-apiserver process of a testenv instance by
// its --cert-dir under dir.
func findAPIServer(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		argv := strings.Split(string(data), "\x00")
		if filepath.Base(argv[0]) == "kube-apiserver" && slices.Contains(argv, "--cert-dir="+filepath.Join(dir, "cert-dir")) {
			return e.Name(), data
		}
	}
	t.Fatalf("no kube-apiserver process with --cert-dir under %s", dir)
	return "", nil
}
