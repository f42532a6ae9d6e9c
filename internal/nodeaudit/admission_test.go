package nodeaudit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

// TestAdmissionConfigFile: the AdmissionConfiguration that
// --admission-control-config-file names is read with the plugin
// configurations it embeds or names by path (relative to its directory),
// as CIS 1.2.9 (EventRateLimit's limits) and 5.2.1 (PodSecurity) ask. A
// file that is missing, unreadable or not understood, and a plugin
// configuration the API server refuses, are errors of the audit (exit 2):
// the API server would not start, and what it enforces cannot be known.
func TestAdmissionConfigFile(t *testing.T) {
	const admission, erl = "etc/kubernetes/admission.yaml", "etc/kubernetes/event-rate-limit.yaml"
	const manifest = "etc/kubernetes/manifests/kube-apiserver.yaml"
	inline := func(plugins string) string {
		return "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n" + plugins
	}
	psa := func(body string) string {
		return inline("- name: PodSecurity\n  configuration:\n    apiVersion: pod-security.admission.config.k8s.io/v1\n    kind: PodSecurityConfiguration\n" + body +
			"- name: EventRateLimit\n  path: event-rate-limit.yaml\n")
	}
	tests := []struct {
		name    string
		tree    string
		edit    func(t *testing.T, root string)
		errWant string // an error problem containing this; "" for none
		manual  string // the 1.2.9 MANUAL note contains this
		podFail string // node/apiserver-admission-pod-security fails with this
	}{
		{name: "kubeadm: path to the EventRateLimit configuration", tree: "kubeadm", manual: "limits Namespace qps=50 burst=100, User qps=10 burst=50"},
		{name: "microk8s: relative path, as the cis-hardening addon writes it", tree: "microk8s", manual: "limits Server qps=5000 burst=20000 (/var/snap/microk8s/current/args/admission-control-config-file.yaml)"},
		{name: "rke2: inline configurations", tree: "rke2", manual: "limits Server qps=5000 burst=20000 (/etc/rancher/rke2/rke2-pss.yaml)"},
		{name: "k3s: inline configurations", tree: "k3s", manual: "limits Server qps=5000 burst=20000 (/var/lib/rancher/k3s/server/psa.yaml)"},
		{name: "admission configuration missing", tree: "kubeadm",
			edit:    func(t *testing.T, root string) { remove(t, root, admission) },
			errWant: "/etc/kubernetes/admission.yaml, which does not exist on this host", manual: "its configuration cannot be read"},
		{name: "admission configuration not understood", tree: "kubeadm",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, admission), "kind: Configuration\nlimits: []\n")
			},
			errWant: `kind "Configuration", want AdmissionConfiguration`},
		{name: "admission configuration not YAML", tree: "kubeadm",
			edit:    func(t *testing.T, root string) { writeFile(t, filepath.Join(root, admission), "plugins: [\n") },
			errWant: "not valid YAML"},
		{name: "plugin file missing", tree: "kubeadm",
			edit:    func(t *testing.T, root string) { remove(t, root, erl) },
			errWant: "plugin EventRateLimit: its configuration /etc/kubernetes/event-rate-limit.yaml does not exist"},
		{name: "EventRateLimit without limits", tree: "kubeadm",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, erl), "apiVersion: eventratelimit.admission.k8s.io/v1alpha1\nkind: Configuration\nlimits: []\n")
			},
			errWant: "EventRateLimit has no limits"},
		{name: "EventRateLimit with a zero qps", tree: "kubeadm",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, erl), "apiVersion: eventratelimit.admission.k8s.io/v1alpha1\nkind: Configuration\nlimits:\n- type: Namespace\n  qps: 0\n  burst: 10\n")
			},
			errWant: "qps and burst must be positive"},
		{name: "EventRateLimit with an unknown limit type", tree: "kubeadm",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, erl), "apiVersion: eventratelimit.admission.k8s.io/v1alpha1\nkind: Configuration\nlimits:\n- type: Pod\n  qps: 1\n  burst: 10\n")
			},
			errWant: `type "Pod"`},
		{name: "EventRateLimit enabled, not configured", tree: "kubeadm",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, admission), inline("- name: PodSecurity\n  configuration: {kind: PodSecurityConfiguration}\n"))
			},
			errWant: "does not configure it", manual: "does not configure it"},
		{name: "EventRateLimit enabled without the flag", tree: "kubeadm",
			edit: func(t *testing.T, root string) {
				edit(t, filepath.Join(root, manifest), "    - --admission-control-config-file=/etc/kubernetes/admission.yaml\n", "")
			},
			errWant: "--admission-control-config-file is not set"},
		{name: "microk8s: eventconfig.yaml missing", tree: "microk8s",
			edit:    func(t *testing.T, root string) { remove(t, root, "var/snap/microk8s/current/args/eventconfig.yaml") },
			errWant: "its configuration /var/snap/microk8s/current/args/eventconfig.yaml does not exist"},
		{name: "PodSecurity default level refused", tree: "kubeadm",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, admission), psa("    defaults: {enforce: strict}\n"))
			},
			errWant: `defaults.enforce is "strict"`},
		{name: "PodSecurity exempts the ReplicaSet controller", tree: "kubeadm",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, admission), psa("    defaults: {enforce: restricted}\n    exemptions:\n      usernames: [system:serviceaccount:kube-system:replicaset-controller]\n"))
			},
			podFail: "exempts system:serviceaccount:kube-system:replicaset-controller"},
		{name: "PodSecurity exempts a namespace and a user", tree: "kubeadm",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, admission), psa("    defaults: {enforce: baseline}\n    exemptions:\n      usernames: [ops-admin]\n      namespaces: [kube-system]\n"))
			},
			manual: "limits Namespace qps=50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _ := copyTree(t, filepath.Join("testdata", "hosts", tt.tree, "good"), true)
			if tt.edit != nil {
				tt.edit(t, root)
			}
			n, err := Load(context.Background(), Options{Root: root})
			if err != nil {
				t.Fatal(err)
			}
			var errs []string
			for _, p := range n.Problems {
				if p.Level == finding.LevelError {
					errs = append(errs, p.File+": "+p.Message)
				}
			}
			switch {
			case tt.errWant == "" && len(errs) > 0:
				t.Errorf("errors on a valid configuration: %q", errs)
			case tt.errWant != "" && !strings.Contains(strings.Join(errs, "\n"), tt.errWant):
				t.Errorf("errors %q, want one containing %q", errs, tt.errWant)
			}
			for _, o := range Evaluate(n, Checks()) {
				switch o.Check.ID {
				case "node/apiserver-event-rate-limit":
					if o.Status != Manual || (tt.manual != "" && !strings.Contains(o.Results[0].Message, tt.manual)) {
						t.Errorf("1.2.9: %s %+v, want MANUAL containing %q", o.Status, o.Results, tt.manual)
					}
				case "node/apiserver-admission-pod-security":
					got := ""
					if o.Status == Fail {
						got = o.Results[0].Message
					}
					if (tt.podFail == "") != (got == "") || !strings.Contains(got, tt.podFail) {
						t.Errorf("5.2.1: %s %q, want a failure containing %q", o.Status, got, tt.podFail)
					}
				}
			}
		})
	}
}

func remove(t *testing.T, root, p string) {
	t.Helper()
	if err := os.Remove(filepath.Join(root, p)); err != nil {
		t.Fatal(err)
	}
}

func edit(t *testing.T, p, old, new string) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s: no %q", p, old)
	}
	writeFile(t, p, strings.Replace(string(data), old, new, 1))
}
