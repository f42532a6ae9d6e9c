package nodeaudit

import (
	"path"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
)

// maxWalk bounds the entries listed under a PKI or credentials directory.
const maxWalk = 10000

// collectFiles stats the files whose permissions and ownership the checks
// look at, by distribution and from the components' flags.
func collectFiles(h *Host, n *Node) {
	seen := map[string]bool{}
	add := func(p string, role FileRole) {
		if p == "" || seen[p] {
			return
		}
		seen[p] = true
		n.Files = append(n.Files, h.Stat(p, role))
	}
	addPKI := func(dir string) {
		for _, p := range h.Walk(dir, maxWalk) {
			f := h.Stat(p, RolePKIDir)
			switch {
			case f.IsDir:
			case strings.HasSuffix(p, ".key"):
				f.Role = RolePKIKey
			case strings.HasSuffix(p, ".crt"), strings.HasSuffix(p, ".pem"), strings.HasSuffix(p, ".pub"):
				f.Role = RolePKICert
			default:
				continue
			}
			if !seen[p] {
				seen[p] = true
				n.Files = append(n.Files, f)
			}
		}
	}
	addMatching := func(dir, suffix string, role FileRole) {
		for _, name := range h.ReadDir(dir) {
			if strings.HasSuffix(name, suffix) {
				add(dir+"/"+name, role)
			}
		}
	}

	// The files the API server's flags name first, so that one kept among
	// a distribution's configuration (MicroK8s's args/encryption.yaml) is
	// checked as the security configuration it is.
	api := n.Component(APIServer)
	for _, flag := range []string{"encryption-provider-config", "audit-policy-file", "admission-control-config-file",
		"authentication-config", "authorization-config", "token-auth-file", "audit-webhook-config-file"} {
		if p, ok := api.Flags.Get(flag); ok && strings.HasPrefix(p, "/") {
			add(path.Clean(p), RoleSecurityConfig)
		}
	}
	switch n.Distribution {
	case Kubeadm:
		for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"} {
			add(kubeadmManifests+"/"+c+".yaml", RoleComponentConfig)
		}
		for _, k := range []string{"admin.conf", "super-admin.conf", "scheduler.conf", "controller-manager.conf", "kubelet.conf"} {
			add("/etc/kubernetes/"+k, RoleKubeconfig)
		}
		addPKI(kubeadmPKI)
		for _, dir := range []string{"/usr/lib/systemd/system/kubelet.service.d", "/lib/systemd/system/kubelet.service.d", "/etc/systemd/system/kubelet.service.d"} {
			addMatching(dir, ".conf", RoleKubeletConfig)
		}
	case K3s:
		add(k3sConfig, RoleComponentConfig)
		addMatching(k3sConfigDir, ".yaml", RoleComponentConfig)
		add("/etc/rancher/k3s/k3s.yaml", RoleKubeconfig)
		addMatching(k3sData+"/server/cred", ".kubeconfig", RoleKubeconfig)
		addMatching(k3sData+"/agent", ".kubeconfig", RoleKubeconfig)
		addPKI(k3sTLS)
		for _, name := range h.ReadDir(k3sData + "/agent") {
			if strings.HasSuffix(name, ".crt") || strings.HasSuffix(name, ".key") {
				addPKI(k3sData + "/agent/" + name)
			}
		}
		add(k3sData+"/server/cred/encryption-config.json", RoleSecurityConfig)
		addMatching(k3sData+"/agent/etc/kubelet.conf.d", ".conf", RoleKubeletConfig)
	case RKE2:
		add(rke2Config, RoleComponentConfig)
		addMatching(rke2ConfigDir, ".yaml", RoleComponentConfig)
		for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kube-proxy"} {
			add(rke2Manifests+"/"+c+".yaml", RoleComponentConfig)
		}
		add("/etc/rancher/rke2/rke2.yaml", RoleKubeconfig)
		addMatching(rke2Data+"/server/cred", ".kubeconfig", RoleKubeconfig)
		addMatching(rke2Data+"/agent", ".kubeconfig", RoleKubeconfig)
		addPKI(rke2TLS)
		for _, name := range h.ReadDir(rke2Data + "/agent") {
			if strings.HasSuffix(name, ".crt") || strings.HasSuffix(name, ".key") {
				addPKI(rke2Data + "/agent/" + name)
			}
		}
		addMatching(rke2Data+"/agent/etc/kubelet.conf.d", ".conf", RoleKubeletConfig)
		add(rke2EtcdDir, RoleEtcdDataDir)
	case MicroK8s:
		for _, name := range h.ReadDir(microk8sArgs) {
			// args/ also holds directories (cni-network): their files
			// are judged by their own role, not as 0600 files.
			if f := h.Stat(microk8sArgs+"/"+name, RoleComponentConfig); !f.IsDir {
				add(microk8sArgs+"/"+name, RoleComponentConfig)
			}
		}
		addMatching(microk8sData+"/credentials", ".config", RoleKubeconfig)
		addPKI(microk8sData + "/certs")
		add(microk8sData+"/var/kubernetes/backend", RoleEtcdDataDir)
	}

	// CNI configuration (CIS 1.1.9, 1.1.10), and the host-local IPAM
	// files of /var/lib/cni/networks/<network>/ that the K3s CIS 1.12
	// self-assessment audits (lock files are expected to be 0750).
	for _, dir := range []string{"/etc/cni/net.d", k3sData + "/agent/etc/cni/net.d", microk8sArgs + "/cni-network"} {
		for _, name := range h.ReadDir(dir) {
			if strings.HasSuffix(name, ".conf") || strings.HasSuffix(name, ".conflist") || strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".yaml") {
				add(dir+"/"+name, RoleCNIConfig)
			}
		}
	}
	const cniNetworks = "/var/lib/cni/networks"
	ipam := 0
	for _, network := range h.ReadDir(cniNetworks) {
		for _, name := range h.ReadDir(cniNetworks + "/" + network) {
			if name == "lock" {
				continue
			}
			if ipam++; ipam > maxWalk {
				n.problem(finding.LevelWarning, cniNetworks, "more than %d IPAM files; the rest are not checked", maxWalk)
				break
			}
			add(cniNetworks+"/"+network+"/"+name, RoleCNIConfig)
		}
	}
	// kube-proxy's kubeconfig (CIS 4.1.3, 4.1.4): its --kubeconfig, and
	// with --config the file's clientConnection.kubeconfig, which is where
	// a kube-proxy run from a configuration file finds it.
	proxy := n.Component(KubeProxy)
	if p, ok := proxy.Flags.Get("kubeconfig"); ok && strings.HasPrefix(p, "/") {
		add(path.Clean(p), RoleKubeconfig)
	}
	if p, _, _, ok := componentSetting(proxy, "", "clientConnection", "kubeconfig"); ok && strings.HasPrefix(p, "/") {
		add(path.Clean(p), RoleKubeconfig)
	}
	if etcd := n.Component(Etcd); etcd.Found {
		if d, ok := etcd.Flags.Get("data-dir"); ok {
			add(path.Clean(d), RoleEtcdDataDir)
		}
	}
	k := n.Component(Kubelet)
	// The kubelet's --config file and the drop-ins of its --config-dir
	// (CIS 4.1.9, 4.1.10). With --config-dir alone, ConfigPath is that
	// directory: its files are judged, not the directory as a 0600 file.
	if p, ok := k.Flags.Get("config"); ok && p != "" && k.ConfigPath == p {
		add(k.ConfigPath, RoleKubeletConfig)
	}
	if dir, ok := k.Flags.Get("config-dir"); ok && strings.HasPrefix(dir, "/") {
		addMatching(path.Clean(dir), ".conf", RoleKubeletConfig)
	}
	if p, ok := k.Flags.Get("kubeconfig"); ok && strings.HasPrefix(p, "/") {
		add(path.Clean(p), RoleKubeconfig)
	}
	if p, _, ok := kubeletSetting(k, "client-ca-file", "authentication", "x509", "clientCAFile"); ok && strings.HasPrefix(p, "/") {
		add(path.Clean(p), RolePKICert)
	}
	for _, f := range n.Files {
		if f.Err != "" {
			n.problem("warning", f.Path, "cannot stat: %s", f.Err)
		}
	}
}
