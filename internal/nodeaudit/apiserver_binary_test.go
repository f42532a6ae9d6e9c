package nodeaudit

import (
	"context"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

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
