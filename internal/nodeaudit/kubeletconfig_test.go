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

// TestComponentConfigType: a --config file or kubelet drop-in of another
// kind or an apiVersion the component does not read is an error naming the
// file, and is not audited as the component's settings (the component
// would not start with it). Before, a Deployment at
// /var/lib/kubelet/config.yaml was read as a KubeletConfiguration and its
// absent keys passed as v1beta1's defaults.
func TestComponentConfigType(t *testing.T) {
	const cfg = "/var/lib/kubelet/config.yaml"
	const dropDir = "/etc/kubernetes/kubelet.conf.d"
	cmdline := "/usr/bin/kubelet\x00--kubeconfig=/etc/kubernetes/kubelet.conf\x00--config=" + cfg + "\x00--config-dir=" + dropDir + "\x00"
	tests := []struct {
		name    string
		file    string // written under the root, beside the running kubelet
		data    string
		wantErr string // "" : no problem about the file
	}{
		{name: "kubelet config of the right type", file: cfg, data: "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: 0\n"},
		{name: "kubelet config naming neither", file: cfg, data: "readOnlyPort: 0\n"},
		{name: "a Deployment as kubelet config", file: cfg, data: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n", wantErr: "kind is Deployment, want KubeletConfiguration"},
		{name: "unknown kubelet config version", file: cfg, data: "apiVersion: kubelet.config.k8s.io/v2alpha9\nkind: KubeletConfiguration\n", wantErr: "apiVersion kubelet.config.k8s.io/v2alpha9 is not one"},
		{name: "another group's version", file: cfg, data: "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeletConfiguration\n", wantErr: "apiVersion kubeproxy.config.k8s.io/v1alpha1 is not one"},
		{name: "drop-in of another kind", file: dropDir + "/50-x.conf", data: "apiVersion: v1\nkind: ConfigMap\n", wantErr: "kind is ConfigMap, want KubeletConfiguration"},
		{name: "drop-in of the right type", file: dropDir + "/50-x.conf", data: "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: 0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _ := copyTree(t, filepath.Join("testdata", "hosts", "kubeadm", "good"), true)
			writeFile(t, filepath.Join(root, "proc/4242/cmdline"), cmdline)
			writeFile(t, filepath.Join(root, tt.file), tt.data)
			n, err := Load(context.Background(), Options{Root: root})
			if err != nil {
				t.Fatal(err)
			}
			var got []string // each "level: message"
			for _, p := range n.Problems {
				if p.File == tt.file {
					got = append(got, p.Level+": "+p.Message)
				}
			}
			switch {
			case tt.wantErr == "" && len(got) > 0:
				t.Errorf("problems about %s: %q; want none", tt.file, got)
			case tt.wantErr != "" && (len(got) != 1 || !strings.HasPrefix(got[0], "error: ") || !strings.Contains(got[0], tt.wantErr)):
				t.Errorf("problems about %s: %q; want one naming %q", tt.file, got, tt.wantErr)
			}
			if tt.wantErr != "" && tt.file == cfg && n.Components[Kubelet].ConfigPath == cfg {
				t.Errorf("the refused file is still the kubelet's configuration")
			}
		})
	}
}

// TestUnreadConfigIsNotJudgedAsDefault: when the kubelet's --config file
// or a drop-in is not read (it does not parse, or is of another kind),
// the settings it may hold are unknown. No kubelet check may judge them
// as unset ("is not set and defaults to ...") or pass on them: each says
// it cannot verify the setting and names the file. A setting on the
// command line is still judged as before. The same host with the file
// readable is the control: nothing says "cannot be verified" there.
func TestUnreadConfigIsNotJudgedAsDefault(t *testing.T) {
	const cfg = "/var/lib/kubelet/config.yaml"
	const dropDir = "/etc/kubernetes/kubelet.conf.d"
	cmdline := "/usr/bin/kubelet\x00--kubeconfig=/etc/kubernetes/kubelet.conf\x00--config=" + cfg + "\x00--config-dir=" + dropDir +
		"\x00--anonymous-auth=false\x00"
	tests := []struct {
		name, file, data string
		unread           bool
	}{
		{name: "readable config (control)", file: dropDir + "/10-ok.conf", data: "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: 0\n"},
		{name: "config that does not parse", file: cfg, data: "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: [0\n", unread: true},
		{name: "config of another kind", file: cfg, data: "apiVersion: v1\nkind: ConfigMap\n", unread: true},
		{name: "drop-in that does not parse", file: dropDir + "/50-x.conf", data: "readOnlyPort: 10255\n  tlsMinVersion: [\n", unread: true},
		// Files that exist but cannot be read (audit14: judged as defaults).
		{name: "config too large to read", file: cfg, data: "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n#" + strings.Repeat("x", maxConfigFile) + "\n", unread: true},
		{name: "drop-in too large to read", file: dropDir + "/50-x.conf", data: "readOnlyPort: 0\n#" + strings.Repeat("x", maxConfigFile) + "\n", unread: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _ := copyTree(t, filepath.Join("testdata", "hosts", "kubeadm", "good"), true)
			writeFile(t, filepath.Join(root, "proc/4242/cmdline"), cmdline)
			writeFile(t, filepath.Join(root, tt.file), tt.data)
			n, err := Load(context.Background(), Options{Root: root})
			if err != nil {
				t.Fatal(err)
			}
			unverified := map[string]bool{}
			for _, o := range Evaluate(n, Checks()) {
				for _, r := range o.Results {
					if r.Status == NotApplicable {
						continue
					}
					if o.Check.Component == Kubelet && (strings.Contains(r.Message, "defaults to") || strings.Contains(r.Message, "is not set")) && tt.unread {
						t.Errorf("%s: %q judges a setting of the unread file as unset", o.Check.ID, r.Message)
					}
					if strings.Contains(r.Message, "cannot be verified") || strings.Contains(r.Message, "its value is unknown") {
						if !tt.unread {
							t.Errorf("%s: %q, but the file was read", o.Check.ID, r.Message)
						} else if !strings.Contains(r.Message, tt.file) {
							t.Errorf("%s: %q does not name %s", o.Check.ID, r.Message, tt.file)
						}
						unverified[o.Check.ID] = true
					}
				}
				if o.Check.ID == "node/kubelet-anonymous-auth" && o.Status != Pass {
					t.Errorf("node/kubelet-anonymous-auth: %s %v; --anonymous-auth=false is on the command line", o.Status, o.Results)
				}
			}
			if !tt.unread {
				return
			}
			// A check that fails on the default, one that passes on it,
			// and one that passes when the key is absent.
			for _, id := range []string{"node/kubelet-read-only-port", "node/kubelet-authorization-mode", "node/kubelet-streaming-connection-idle-timeout"} {
				if !unverified[id] {
					t.Errorf("%s does not say it cannot verify the setting", id)
				}
			}
		})
	}
}
