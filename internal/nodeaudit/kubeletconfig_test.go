package nodeaudit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKubeletConfigLayouts: each layout's kubelet KubeletConfiguration and
// drop-ins are found where the distribution keeps them, and decide the
// kubelet checks unless a flag overrides them:
//   - kubeadm: --config (/var/lib/kubelet/config.yaml) and --config-dir;
//   - K3s and RKE2 v1.32+: their defaults in
//     agent/etc/kubelet.conf.d/00-{k3s,rke2}-defaults.conf, a drop-in
//     beside it (the documented way to change them), or kubelet-arg
//     config=FILE (K3s and RKE2 docs, "kubelet configuration files"); the
//     kubelet is then started with --config-dir and few flags, so the
//     defaults are not flags that would hide a weakened drop-in;
//   - MicroK8s: no configuration file by default (its CIS hardening page:
//     4.1.9/4.1.10 not applicable), flags in args/kubelet; a --config
//     added there (with ${SNAP_DATA}) is read.
func TestKubeletConfigLayouts(t *testing.T) {
	const secure = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  anonymous:\n    enabled: false\n  webhook:\n    enabled: true\n  x509:\n    clientCAFile: /var/lib/rancher/%s/agent/client-ca.crt\nauthorization:\n  mode: Webhook\nreadOnlyPort: 0\nshutdownGracePeriod: 0s\n"
	const anonymous = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  anonymous:\n    enabled: true\n"
	k3sConf := "var/lib/rancher/k3s/agent/etc/kubelet.conf.d"
	rke2Conf := "var/lib/rancher/rke2/agent/etc/kubelet.conf.d"
	tests := []struct {
		name  string
		tree  string
		files map[string]string
		check string // default node/kubelet-anonymous-auth
		fails bool   // the check fails
		file  string // ... naming this file
	}{
		{name: "k3s: secure defaults file", tree: "k3s", files: map[string]string{k3sConf + "/00-k3s-defaults.conf": strings.ReplaceAll(secure, "%s", "k3s")}},
		{name: "k3s: drop-in enables anonymous", tree: "k3s", files: map[string]string{
			k3sConf + "/00-k3s-defaults.conf": strings.ReplaceAll(secure, "%s", "k3s"), k3sConf + "/50-site.conf": anonymous},
			fails: true, file: "/" + k3sConf + "/50-site.conf"},
		{name: "k3s: kubelet-arg config=FILE under the defaults drop-in", tree: "k3s", files: map[string]string{
			"etc/rancher/k3s/config.yaml":     "kubelet-arg:\n  - config=/etc/rancher/k3s/kubelet.yaml\n",
			"etc/rancher/k3s/kubelet.yaml":    anonymous + "streamingConnectionIdleTimeout: 0s\n",
			k3sConf + "/00-k3s-defaults.conf": strings.ReplaceAll(secure, "%s", "k3s")},
			// The drop-ins override the file: anonymous stays off, and the
			// timeout the defaults do not set is the file's.
			check: "node/kubelet-streaming-connection-idle-timeout", fails: true, file: "/etc/rancher/k3s/kubelet.yaml"},
		{name: "k3s: kubelet-arg config=FILE, the drop-in keeps anonymous off", tree: "k3s", files: map[string]string{
			"etc/rancher/k3s/config.yaml":     "kubelet-arg:\n  - config=/etc/rancher/k3s/kubelet.yaml\n",
			"etc/rancher/k3s/kubelet.yaml":    anonymous,
			k3sConf + "/00-k3s-defaults.conf": strings.ReplaceAll(secure, "%s", "k3s")}},
		{name: "rke2: secure defaults file", tree: "rke2", files: map[string]string{rke2Conf + "/00-rke2-defaults.conf": strings.ReplaceAll(secure, "%s", "rke2")}},
		{name: "rke2: drop-in enables anonymous", tree: "rke2", files: map[string]string{
			rke2Conf + "/00-rke2-defaults.conf": strings.ReplaceAll(secure, "%s", "rke2"), rke2Conf + "/10-edge.conf": anonymous},
			fails: true, file: "/" + rke2Conf + "/10-edge.conf"},
		{name: "rke2: running kubelet with --config-dir", tree: "rke2", files: map[string]string{
			rke2Conf + "/00-rke2-defaults.conf": strings.ReplaceAll(secure, "%s", "rke2"), rke2Conf + "/10-edge.conf": anonymous,
			"proc/1938/cmdline": "kubelet\x00--config-dir=/" + rke2Conf + "\x00--kubeconfig=/var/lib/rancher/rke2/agent/kubelet.kubeconfig\x00--read-only-port=0\x00"},
			fails: true, file: "/" + rke2Conf + "/10-edge.conf"},
		{name: "microk8s: flags only", tree: "microk8s"},
		{name: "microk8s: --config added to args/kubelet", tree: "microk8s", files: map[string]string{
			"var/snap/microk8s/current/args/kubelet":             "--kubeconfig=${SNAP_DATA}/credentials/kubelet.config\n--config=${SNAP_DATA}/args/kubelet-config.yaml\n",
			"var/snap/microk8s/current/args/kubelet-config.yaml": anonymous},
			fails: true, file: "/var/snap/microk8s/current/args/kubelet-config.yaml"},
		{name: "kubeadm: --config-dir drop-in", tree: "kubeadm", files: map[string]string{
			"proc/4242/cmdline":                          "/usr/bin/kubelet\x00--kubeconfig=/etc/kubernetes/kubelet.conf\x00--config=/var/lib/kubelet/config.yaml\x00--config-dir=/etc/kubernetes/kubelet.conf.d\x00",
			"etc/kubernetes/kubelet.conf.d/90-anon.conf": anonymous},
			fails: true, file: "/etc/kubernetes/kubelet.conf.d/90-anon.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _ := copyTree(t, filepath.Join("testdata", "hosts", tt.tree, "good"), true)
			// Without k3s's log the kubelet's command line is assembled
			// from defaults and configuration, as on a host whose log is
			// in the journal.
			_ = os.Remove(filepath.Join(root, "var/log/k3s.log"))
			for p, data := range tt.files {
				writeFile(t, filepath.Join(root, p), data)
			}
			n, err := Load(context.Background(), Options{Root: root})
			if err != nil {
				t.Fatal(err)
			}
			check := tt.check
			if check == "" {
				check = "node/kubelet-anonymous-auth"
			}
			for _, o := range Evaluate(n, Checks()) {
				if o.Check.ID != check {
					continue
				}
				if (o.Status == Fail) != tt.fails {
					t.Fatalf("status %s, want fail %v: %+v", o.Status, tt.fails, o.Results)
				}
				if tt.fails && o.Results[0].File != tt.file {
					t.Errorf("file %q, want %q", o.Results[0].File, tt.file)
				}
			}
		})
	}
}
