package nodeaudit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"sigs.k8s.io/yaml"
)

// cisCase is one CIS item's failing and passing configuration: changes
// made to the secure fixture tree of each layout, after which the check
// must fail (bad) or pass (good).
type cisCase struct {
	cis   string
	check string
	// comp's flags: "name=value" sets a flag (replacing every earlier
	// occurrence), "-name" removes it, as an operator edits the
	// distribution's file (manifest, k3s's component command line, args
	// file).
	comp      ComponentName
	bad, good []string
	// kubelet configuration file keys: "a.b=value", "-a.b" (kubeadm's
	// /var/lib/kubelet/config.yaml).
	badCfg, goodCfg []string
	// file cases: the host path per layout whose mode (or owner) is made
	// insecure in the bad twin.
	files map[Distribution]string
	owner bool
	// goodMode and badMode, when set, are the modes of the file case's
	// twins (default: the secure tree's 0600 and 0644, 0755 for a
	// directory): certificates may be 0644 but not group-writable.
	goodMode, badMode os.FileMode
	// only restricts the layouts (nil: every layout where comp is found).
	only []Distribution
	// badFiles and goodFiles are host files written for the twin (a
	// configuration file a flag names).
	badFiles, goodFiles map[string]string
}

const (
	authnAnonymousEverywhere = "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\nanonymous:\n  enabled: true\n"
	authnAnonymousHealth     = "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\nanonymous:\n  enabled: true\n  conditions:\n  - path: /livez\n  - path: /readyz\n  - path: /healthz\n"
	authzAllowFirst          = "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\nauthorizers:\n- type: AlwaysAllow\n  name: allow\n- type: Node\n  name: node\n- type: RBAC\n  name: rbac\n"
	authzNodeRBAC            = "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\nauthorizers:\n- type: Node\n  name: node\n- type: RBAC\n  name: rbac\n"
	auditNothing             = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n"
	auditMetadata            = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  nonResourceURLs: [\"/healthz*\"]\n- level: Metadata\n"
)

var layouts = []Distribution{Kubeadm, K3s, RKE2, MicroK8s}

// cisCases: every automated CIS v1.12 item of the checks. TestCISCases
// fails when a check names a CIS item without a case here.
var cisCases = []cisCase{
	// 1.1 control-plane files
	{cis: "1.1.1", check: "node/file-config-permissions", files: map[Distribution]string{Kubeadm: kubeadmManifests + "/kube-apiserver.yaml", RKE2: rke2Manifests + "/kube-apiserver.yaml", MicroK8s: microk8sArgs + "/kube-apiserver", K3s: k3sConfig}},
	{cis: "1.1.2", check: "node/file-config-ownership", owner: true, files: map[Distribution]string{Kubeadm: kubeadmManifests + "/kube-apiserver.yaml", RKE2: rke2Manifests + "/kube-apiserver.yaml", MicroK8s: microk8sArgs + "/kube-apiserver", K3s: k3sConfig}},
	{cis: "1.1.3", check: "node/file-config-permissions", files: map[Distribution]string{Kubeadm: kubeadmManifests + "/kube-controller-manager.yaml", RKE2: rke2Manifests + "/kube-controller-manager.yaml", MicroK8s: microk8sArgs + "/kube-controller-manager"}},
	{cis: "1.1.4", check: "node/file-config-ownership", owner: true, files: map[Distribution]string{Kubeadm: kubeadmManifests + "/kube-controller-manager.yaml", RKE2: rke2Manifests + "/kube-controller-manager.yaml", MicroK8s: microk8sArgs + "/kube-controller-manager"}},
	{cis: "1.1.5", check: "node/file-config-permissions", files: map[Distribution]string{Kubeadm: kubeadmManifests + "/kube-scheduler.yaml", RKE2: rke2Manifests + "/kube-scheduler.yaml", MicroK8s: microk8sArgs + "/kube-scheduler"}},
	{cis: "1.1.6", check: "node/file-config-ownership", owner: true, files: map[Distribution]string{Kubeadm: kubeadmManifests + "/kube-scheduler.yaml", RKE2: rke2Manifests + "/kube-scheduler.yaml", MicroK8s: microk8sArgs + "/kube-scheduler"}},
	{cis: "1.1.7", check: "node/file-config-permissions", files: map[Distribution]string{Kubeadm: kubeadmManifests + "/etcd.yaml", RKE2: rke2Manifests + "/etcd.yaml", MicroK8s: microk8sArgs + "/k8s-dqlite"}},
	{cis: "1.1.8", check: "node/file-config-ownership", owner: true, files: map[Distribution]string{Kubeadm: kubeadmManifests + "/etcd.yaml", RKE2: rke2Manifests + "/etcd.yaml", MicroK8s: microk8sArgs + "/k8s-dqlite"}},
	{cis: "1.1.9", check: "node/file-cni-permissions", files: map[Distribution]string{Kubeadm: "/etc/cni/net.d/10-calico.conflist", RKE2: "/etc/cni/net.d/10-canal.conflist", K3s: "/var/lib/cni/networks/cbr0/10.42.0.5", MicroK8s: microk8sArgs + "/cni-network/10-calico.conflist"}},
	{cis: "1.1.10", check: "node/file-cni-ownership", owner: true, files: map[Distribution]string{Kubeadm: "/etc/cni/net.d/10-calico.conflist", RKE2: "/etc/cni/net.d/10-canal.conflist", K3s: k3sData + "/agent/etc/cni/net.d/10-flannel.conflist", MicroK8s: microk8sArgs + "/cni-network/10-calico.conflist"}},
	{cis: "1.1.11", check: "node/file-etcd-data-dir-permissions", files: map[Distribution]string{Kubeadm: "/var/lib/etcd", RKE2: rke2EtcdDir, K3s: k3sEtcdDir, MicroK8s: microk8sData + "/var/kubernetes/backend"}},
	{cis: "1.1.12", check: "node/file-etcd-data-dir-ownership", owner: true, files: map[Distribution]string{Kubeadm: "/var/lib/etcd", RKE2: rke2EtcdDir, K3s: k3sEtcdDir, MicroK8s: microk8sData + "/var/kubernetes/backend"}},
	{cis: "1.1.13", check: "node/file-kubeconfig-permissions", files: map[Distribution]string{Kubeadm: "/etc/kubernetes/admin.conf", RKE2: "/etc/rancher/rke2/rke2.yaml", K3s: "/etc/rancher/k3s/k3s.yaml", MicroK8s: microk8sData + "/credentials/client.config"}},
	{cis: "1.1.14", check: "node/file-kubeconfig-ownership", owner: true, files: map[Distribution]string{Kubeadm: "/etc/kubernetes/super-admin.conf", RKE2: "/etc/rancher/rke2/rke2.yaml", K3s: "/etc/rancher/k3s/k3s.yaml", MicroK8s: microk8sData + "/credentials/client.config"}},
	{cis: "1.1.15", check: "node/file-kubeconfig-permissions", files: map[Distribution]string{Kubeadm: "/etc/kubernetes/scheduler.conf", RKE2: rke2Data + "/server/cred/scheduler.kubeconfig", K3s: k3sData + "/server/cred/scheduler.kubeconfig", MicroK8s: microk8sData + "/credentials/scheduler.config"}},
	{cis: "1.1.16", check: "node/file-kubeconfig-ownership", owner: true, files: map[Distribution]string{Kubeadm: "/etc/kubernetes/scheduler.conf", RKE2: rke2Data + "/server/cred/scheduler.kubeconfig", K3s: k3sData + "/server/cred/scheduler.kubeconfig", MicroK8s: microk8sData + "/credentials/scheduler.config"}},
	{cis: "1.1.17", check: "node/file-kubeconfig-permissions", files: map[Distribution]string{Kubeadm: "/etc/kubernetes/controller-manager.conf", RKE2: rke2Data + "/server/cred/controller.kubeconfig", K3s: k3sData + "/server/cred/controller.kubeconfig", MicroK8s: microk8sData + "/credentials/controller.config"}},
	{cis: "1.1.18", check: "node/file-kubeconfig-ownership", owner: true, files: map[Distribution]string{Kubeadm: "/etc/kubernetes/controller-manager.conf", RKE2: rke2Data + "/server/cred/controller.kubeconfig", K3s: k3sData + "/server/cred/controller.kubeconfig", MicroK8s: microk8sData + "/credentials/controller.config"}},
	{cis: "1.1.19", check: "node/file-pki-ownership", owner: true, files: map[Distribution]string{Kubeadm: kubeadmPKI + "/ca.crt", RKE2: rke2TLS + "/server-ca.crt", K3s: k3sTLS + "/server-ca.crt", MicroK8s: microk8sData + "/certs/ca.crt"}},
	{cis: "1.1.20", check: "node/file-pki-cert-permissions", goodMode: 0o644, badMode: 0o664, files: map[Distribution]string{Kubeadm: kubeadmPKI + "/apiserver.crt", RKE2: rke2TLS + "/serving-kube-apiserver.crt", K3s: k3sTLS + "/serving-kube-apiserver.crt", MicroK8s: microk8sData + "/certs/server.crt"}},
	{cis: "1.1.21", check: "node/file-pki-key-permissions", files: map[Distribution]string{Kubeadm: kubeadmPKI + "/sa.key", RKE2: rke2TLS + "/service.key", K3s: k3sTLS + "/service.key", MicroK8s: microk8sData + "/certs/serviceaccount.key"}},

	// 1.2 API server
	{cis: "1.2.1", check: "node/apiserver-anonymous-auth", comp: APIServer, bad: []string{"anonymous-auth=true"}, good: []string{"anonymous-auth=false"}},
	{cis: "1.2.1", check: "node/apiserver-anonymous-auth", comp: APIServer, bad: []string{"-anonymous-auth"}, good: []string{"anonymous-auth=0"}, only: []Distribution{Kubeadm, RKE2, MicroK8s}},
	{cis: "1.2.1", check: "node/apiserver-anonymous-auth", comp: APIServer, only: []Distribution{Kubeadm},
		bad: []string{"-anonymous-auth", "authentication-config=/etc/kubernetes/authn.yaml"}, badFiles: map[string]string{"/etc/kubernetes/authn.yaml": authnAnonymousEverywhere},
		good: []string{"-anonymous-auth", "authentication-config=/etc/kubernetes/authn.yaml"}, goodFiles: map[string]string{"/etc/kubernetes/authn.yaml": authnAnonymousHealth}},
	{cis: "1.2.2", check: "node/apiserver-token-auth-file", comp: APIServer, bad: []string{"token-auth-file=/etc/kubernetes/tokens.csv"}, good: []string{"-token-auth-file"}},
	{cis: "1.2.4", check: "node/apiserver-kubelet-tls", comp: APIServer, bad: []string{"-kubelet-client-certificate"}, good: nil},
	{cis: "1.2.5", check: "node/apiserver-kubelet-tls", comp: APIServer, bad: []string{"-kubelet-certificate-authority"}, good: nil},
	{cis: "1.2.6", check: "node/apiserver-authorization-always-allow", comp: APIServer, bad: []string{"authorization-mode=AlwaysAllow"}, good: []string{"authorization-mode=Node,RBAC"}},
	{cis: "1.2.6", check: "node/apiserver-authorization-always-allow", comp: APIServer, bad: []string{"-authorization-mode"}, good: nil, only: []Distribution{Kubeadm, RKE2, MicroK8s}},
	{cis: "1.2.6", check: "node/apiserver-authorization-always-allow", comp: APIServer, only: []Distribution{Kubeadm},
		bad: []string{"-authorization-mode", "authorization-config=/etc/kubernetes/authz.yaml"}, badFiles: map[string]string{"/etc/kubernetes/authz.yaml": authzAllowFirst},
		good: []string{"-authorization-mode", "authorization-config=/etc/kubernetes/authz.yaml"}, goodFiles: map[string]string{"/etc/kubernetes/authz.yaml": authzNodeRBAC}},
	{cis: "1.2.6", check: "node/apiserver-authorization-always-allow", comp: APIServer, only: []Distribution{Kubeadm},
		bad: []string{"authorization-config=/etc/kubernetes/authz.yaml"}, badFiles: map[string]string{"/etc/kubernetes/authz.yaml": authzNodeRBAC},
		good: []string{"-authorization-mode", "authorization-config=/etc/kubernetes/authz.yaml"}, goodFiles: map[string]string{"/etc/kubernetes/authz.yaml": authzNodeRBAC}},
	{cis: "1.2.7", check: "node/apiserver-authorization-node-rbac", comp: APIServer, only: []Distribution{Kubeadm},
		bad: []string{"-authorization-mode", "authorization-config=/etc/kubernetes/authz.yaml"}, badFiles: map[string]string{"/etc/kubernetes/authz.yaml": authzAllowFirst},
		good: []string{"-authorization-mode", "authorization-config=/etc/kubernetes/authz.yaml"}, goodFiles: map[string]string{"/etc/kubernetes/authz.yaml": authzNodeRBAC}},
	{cis: "1.2.7", check: "node/apiserver-authorization-node-rbac", comp: APIServer, bad: []string{"authorization-mode=RBAC"}, good: []string{"authorization-mode=Node", "authorization-mode=RBAC"}},
	{cis: "1.2.8", check: "node/apiserver-authorization-node-rbac", comp: APIServer, bad: []string{"authorization-mode=AlwaysAllow,Node,RBAC"}, good: []string{"authorization-mode=Node,RBAC,Webhook"}},
	{cis: "1.2.10", check: "node/apiserver-admission-always-admit", comp: APIServer, bad: []string{"enable-admission-plugins=NodeRestriction,AlwaysAdmit"}, good: []string{"enable-admission-plugins=NodeRestriction"}},
	{cis: "1.2.12", check: "node/apiserver-admission-defaults-disabled", comp: APIServer, bad: []string{"disable-admission-plugins=ServiceAccount"}, good: []string{"disable-admission-plugins=DefaultStorageClass"}},
	{cis: "1.2.13", check: "node/apiserver-admission-defaults-disabled", comp: APIServer, bad: []string{"-enable-admission-plugins", "admission-control=NodeRestriction,ServiceAccount"}, good: []string{"-enable-admission-plugins", "admission-control=NamespaceLifecycle,ServiceAccount,NodeRestriction"}},
	{cis: "1.2.14", check: "node/apiserver-admission-node-restriction", comp: APIServer, bad: []string{"enable-admission-plugins=EventRateLimit"}, good: []string{"enable-admission-plugins=EventRateLimit", "enable-admission-plugins=NodeRestriction"}},
	{cis: "1.2.15", check: "node/apiserver-profiling", comp: APIServer, bad: []string{"profiling=true"}, good: []string{"profiling=f"}},
	{cis: "1.2.15", check: "node/apiserver-profiling", comp: APIServer, bad: []string{"-profiling"}, good: nil, only: []Distribution{Kubeadm, RKE2, MicroK8s}},
	{cis: "1.2.16", check: "node/apiserver-audit-log-path", comp: APIServer, bad: []string{"-audit-log-path"}, good: nil},
	{cis: "1.2.17", check: "node/apiserver-audit-log-retention", comp: APIServer, bad: []string{"audit-log-maxage=7"}, good: []string{"audit-log-maxage=30"}},
	{cis: "1.2.18", check: "node/apiserver-audit-log-retention", comp: APIServer, bad: []string{"-audit-log-maxbackup"}, good: []string{"audit-log-maxbackup=12"}},
	{cis: "1.2.19", check: "node/apiserver-audit-log-retention", comp: APIServer, bad: []string{"audit-log-maxsize=10"}, good: []string{"audit-log-maxsize=200"}},
	{cis: "1.2.21", check: "node/apiserver-service-account", comp: APIServer, bad: []string{"service-account-lookup=false"}, good: []string{"service-account-lookup=true"}},
	{cis: "1.2.22", check: "node/apiserver-service-account", comp: APIServer, bad: []string{"-service-account-key-file"}, good: nil},
	{cis: "1.2.23", check: "node/apiserver-etcd-tls", comp: APIServer, bad: []string{"-etcd-certfile"}, good: nil, only: []Distribution{Kubeadm, K3s, RKE2}},
	{cis: "1.2.24", check: "node/apiserver-tls", comp: APIServer, bad: []string{"-tls-cert-file"}, good: nil},
	{cis: "1.2.25", check: "node/apiserver-tls", comp: APIServer, bad: []string{"-client-ca-file"}, good: nil},
	{cis: "1.2.26", check: "node/apiserver-etcd-tls", comp: APIServer, bad: []string{"-etcd-cafile"}, good: nil, only: []Distribution{Kubeadm, K3s, RKE2}},
	{cis: "1.2.27", check: "node/apiserver-encryption-provider-config", comp: APIServer, bad: []string{"-encryption-provider-config"}, good: nil},
	{cis: "1.2.28", check: "node/apiserver-encryption-providers", files: map[Distribution]string{Kubeadm: "/etc/kubernetes/enc/encryption.yaml", K3s: k3sData + "/server/cred/encryption-config.json", RKE2: rke2Data + "/server/cred/encryption-config.json", MicroK8s: microk8sArgs + "/encryption.yaml"}},
	{cis: "1.2.29", check: "node/apiserver-tls-ciphers", comp: APIServer, bad: []string{"tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_3DES_EDE_CBC_SHA"}, good: []string{"tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}},
	{cis: "1.2.30", check: "node/apiserver-service-account-extend-token-expiration", comp: APIServer, bad: []string{"service-account-extend-token-expiration=true"}, good: []string{"service-account-extend-token-expiration=false"}},
	{cis: "1.2.30", check: "node/apiserver-service-account-extend-token-expiration", comp: APIServer, bad: []string{"-service-account-extend-token-expiration"}, good: nil},

	// 1.3 controller manager, 1.4 scheduler
	{cis: "1.3.2", check: "node/controller-manager-profiling", comp: ControllerManager, bad: []string{"profiling=true"}, good: []string{"profiling=false"}},
	{cis: "1.3.3", check: "node/controller-manager-service-account-credentials", comp: ControllerManager, bad: []string{"use-service-account-credentials=false"}, good: []string{"use-service-account-credentials=true"}},
	{cis: "1.3.4", check: "node/controller-manager-service-account-keys", comp: ControllerManager, bad: []string{"-service-account-private-key-file"}, good: nil},
	{cis: "1.3.5", check: "node/controller-manager-service-account-keys", comp: ControllerManager, bad: []string{"-root-ca-file"}, good: nil},
	{cis: "1.3.6", check: "node/controller-manager-rotate-kubelet-server-cert", comp: ControllerManager, bad: []string{"feature-gates=RotateKubeletServerCertificate=false"}, good: []string{"feature-gates=RotateKubeletServerCertificate=false", "feature-gates=RotateKubeletServerCertificate=true"}},
	{cis: "1.3.6", check: "node/controller-manager-rotate-kubelet-server-cert", comp: ControllerManager, bad: []string{"feature-gates=kube:RotateKubeletServerCertificate=false"}, good: []string{"feature-gates=kube:RotateKubeletServerCertificate=true"}},
	{cis: "1.3.7", check: "node/controller-manager-bind-address", comp: ControllerManager, bad: []string{"bind-address=0.0.0.0"}, good: []string{"bind-address=127.0.0.1"}},
	{cis: "1.4.1", check: "node/scheduler-profiling", comp: Scheduler, bad: []string{"profiling=true"}, good: []string{"profiling=false"}},
	// With --config the scheduler ignores --profiling: the file decides.
	{cis: "1.4.1", check: "node/scheduler-profiling", comp: Scheduler, only: []Distribution{Kubeadm},
		bad: []string{"config=/etc/kubernetes/scheduler-config.yaml", "profiling=false"}, badFiles: map[string]string{"/etc/kubernetes/scheduler-config.yaml": schedulerConfig("")},
		good: []string{"config=/etc/kubernetes/scheduler-config.yaml", "profiling=true"}, goodFiles: map[string]string{"/etc/kubernetes/scheduler-config.yaml": schedulerConfig("enableProfiling: false\n")}},
	{cis: "1.4.2", check: "node/scheduler-bind-address", comp: Scheduler, bad: []string{"bind-address=0.0.0.0"}, good: []string{"bind-address=::1"}},

	// 2 etcd
	{cis: "2.1", check: "node/etcd-client-tls", comp: Etcd, bad: []string{"listen-client-urls=http://127.0.0.1:2379"}, good: []string{"listen-client-urls=https://127.0.0.1:2379"}},
	{cis: "2.2", check: "node/etcd-client-cert-auth", comp: Etcd, bad: []string{"client-cert-auth=false"}, good: []string{"client-cert-auth=true"}},
	{cis: "2.3", check: "node/etcd-auto-tls", comp: Etcd, bad: []string{"auto-tls=true"}, good: []string{"auto-tls=false"}},
	{cis: "2.4", check: "node/etcd-peer-tls", comp: Etcd, bad: []string{"-peer-cert-file"}, good: nil},
	{cis: "2.5", check: "node/etcd-peer-client-cert-auth", comp: Etcd, bad: []string{"peer-client-cert-auth=false"}, good: []string{"peer-client-cert-auth=true"}},
	{cis: "2.6", check: "node/etcd-peer-auto-tls", comp: Etcd, bad: []string{"peer-auto-tls=true"}, good: nil},
	{cis: "2.7", check: "node/etcd-unique-ca", comp: Etcd, bad: []string{"trusted-ca-file=/etc/kubernetes/pki/ca.crt"}, good: nil, only: []Distribution{Kubeadm}},

	{cis: "1.2.27", check: "node/file-security-config", files: map[Distribution]string{Kubeadm: "/etc/kubernetes/enc/encryption.yaml", K3s: k3sData + "/server/cred/encryption-config.json", RKE2: rke2Data + "/server/cred/encryption-config.json", MicroK8s: microk8sArgs + "/encryption.yaml"}},
	{cis: "3.2.1", check: "node/file-security-config", owner: true, files: map[Distribution]string{Kubeadm: "/etc/kubernetes/audit-policy.yaml", K3s: k3sData + "/server/audit.yaml", RKE2: "/etc/rancher/rke2/audit-policy.yaml", MicroK8s: microk8sArgs + "/audit-policy.yaml"}},

	// 3 control-plane configuration
	{cis: "3.2.1", check: "node/apiserver-audit-policy", comp: APIServer, bad: []string{"-audit-policy-file"}, good: nil},
	{cis: "3.2.1", check: "node/apiserver-audit-policy", comp: APIServer, bad: []string{"audit-policy-file=/etc/kubernetes/missing-policy.yaml"}, good: nil, only: []Distribution{Kubeadm}},
	{cis: "3.2.1", check: "node/apiserver-audit-policy", comp: APIServer, only: []Distribution{Kubeadm},
		bad: []string{"audit-policy-file=/etc/kubernetes/policy.yaml"}, badFiles: map[string]string{"/etc/kubernetes/policy.yaml": auditNothing},
		good: []string{"audit-policy-file=/etc/kubernetes/policy.yaml"}, goodFiles: map[string]string{"/etc/kubernetes/policy.yaml": auditMetadata}},

	// 4.1 worker files
	{cis: "4.1.1", check: "node/file-config-permissions", files: map[Distribution]string{Kubeadm: "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", MicroK8s: microk8sArgs + "/kubelet"}},
	{cis: "4.1.2", check: "node/file-config-ownership", owner: true, files: map[Distribution]string{Kubeadm: "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", MicroK8s: microk8sArgs + "/kubelet"}},
	{cis: "4.1.3", check: "node/file-kubeconfig-permissions", files: map[Distribution]string{K3s: k3sData + "/agent/kubeproxy.kubeconfig", RKE2: rke2Data + "/agent/kubeproxy.kubeconfig", MicroK8s: microk8sData + "/credentials/proxy.config"}},
	{cis: "4.1.4", check: "node/file-kubeconfig-ownership", owner: true, files: map[Distribution]string{K3s: k3sData + "/agent/kubeproxy.kubeconfig", RKE2: rke2Data + "/agent/kubeproxy.kubeconfig", MicroK8s: microk8sData + "/credentials/proxy.config"}},
	{cis: "4.1.5", check: "node/file-kubeconfig-permissions", files: map[Distribution]string{Kubeadm: "/etc/kubernetes/kubelet.conf", K3s: k3sData + "/agent/kubelet.kubeconfig", RKE2: rke2Data + "/agent/kubelet.kubeconfig", MicroK8s: microk8sData + "/credentials/kubelet.config"}},
	{cis: "4.1.6", check: "node/file-kubeconfig-ownership", owner: true, files: map[Distribution]string{Kubeadm: "/etc/kubernetes/kubelet.conf", K3s: k3sData + "/agent/kubelet.kubeconfig", RKE2: rke2Data + "/agent/kubelet.kubeconfig", MicroK8s: microk8sData + "/credentials/kubelet.config"}},
	{cis: "4.1.7", check: "node/file-pki-cert-permissions", goodMode: 0o644, badMode: 0o664, files: map[Distribution]string{Kubeadm: kubeadmPKI + "/ca.crt", K3s: k3sData + "/agent/client-ca.crt", RKE2: rke2Data + "/agent/client-ca.crt", MicroK8s: microk8sData + "/certs/ca.crt"}},
	{cis: "4.1.8", check: "node/file-pki-ownership", owner: true, files: map[Distribution]string{Kubeadm: kubeadmPKI + "/ca.crt", K3s: k3sData + "/agent/client-ca.crt", RKE2: rke2Data + "/agent/client-ca.crt", MicroK8s: microk8sData + "/certs/ca.crt"}},
	{cis: "4.1.9", check: "node/file-config-permissions", files: map[Distribution]string{Kubeadm: "/var/lib/kubelet/config.yaml"}},
	{cis: "4.1.10", check: "node/file-config-ownership", owner: true, files: map[Distribution]string{Kubeadm: "/var/lib/kubelet/config.yaml"}},

	// 4.2 kubelet: flags, config file keys, and the flag overriding the file
	{cis: "4.2.1", check: "node/kubelet-anonymous-auth", comp: Kubelet, bad: []string{"anonymous-auth=true"}, good: []string{"anonymous-auth=false"}},
	{cis: "4.2.1", check: "node/kubelet-anonymous-auth", badCfg: []string{"authentication.anonymous.enabled=true"}, goodCfg: []string{"-authentication.anonymous"}, only: []Distribution{Kubeadm}},
	{cis: "4.2.1", check: "node/kubelet-anonymous-auth", comp: Kubelet, bad: []string{"anonymous-auth=true"}, badCfg: []string{"authentication.anonymous.enabled=false"},
		good: []string{"anonymous-auth=false"}, goodCfg: []string{"authentication.anonymous.enabled=true"}, only: []Distribution{Kubeadm}},
	{cis: "4.2.2", check: "node/kubelet-authorization-mode", comp: Kubelet, bad: []string{"authorization-mode=AlwaysAllow"}, good: []string{"authorization-mode=Webhook"}},
	{cis: "4.2.2", check: "node/kubelet-authorization-mode", badCfg: []string{"authorization.mode=AlwaysAllow"}, goodCfg: []string{"-authorization"}, only: []Distribution{Kubeadm}},
	{cis: "4.2.3", check: "node/kubelet-client-ca", badCfg: []string{"-authentication.x509"}, goodCfg: nil, only: []Distribution{Kubeadm}},
	{cis: "4.2.3", check: "node/kubelet-client-ca", comp: Kubelet, bad: []string{"-client-ca-file"}, good: nil, only: []Distribution{MicroK8s, K3s}},
	{cis: "4.2.4", check: "node/kubelet-read-only-port", comp: Kubelet, bad: []string{"read-only-port=10255"}, good: []string{"read-only-port=0"}},
	{cis: "4.2.4", check: "node/kubelet-read-only-port", comp: Kubelet, bad: []string{"-read-only-port"}, good: nil, only: []Distribution{MicroK8s}},
	{cis: "4.2.5", check: "node/kubelet-streaming-connection-idle-timeout", comp: Kubelet, bad: []string{"streaming-connection-idle-timeout=0"}, good: []string{"streaming-connection-idle-timeout=4h0m0s"}},
	{cis: "4.2.5", check: "node/kubelet-streaming-connection-idle-timeout", badCfg: []string{"streamingConnectionIdleTimeout=0s"}, goodCfg: []string{"-streamingConnectionIdleTimeout"}, only: []Distribution{Kubeadm}},
	{cis: "4.2.6", check: "node/kubelet-make-iptables-util-chains", comp: Kubelet, bad: []string{"make-iptables-util-chains=false"}, good: []string{"make-iptables-util-chains=true"}},
	{cis: "4.2.7", check: "node/kubelet-hostname-override", comp: Kubelet, bad: []string{"hostname-override=node-7"}, good: []string{"-hostname-override"}, only: []Distribution{Kubeadm, MicroK8s}},
	{cis: "4.2.6", check: "node/kubelet-make-iptables-util-chains", badCfg: []string{"makeIPTablesUtilChains=false"}, goodCfg: nil, only: []Distribution{Kubeadm}},
	{cis: "4.2.9", check: "node/kubelet-serving-certificate", comp: Kubelet, bad: []string{"-tls-cert-file"}, good: nil, only: []Distribution{MicroK8s, K3s}},
	{cis: "4.2.9", check: "node/kubelet-serving-certificate", badCfg: []string{"serverTLSBootstrap=false"}, goodCfg: []string{"serverTLSBootstrap=false", "tlsCertFile=/var/lib/kubelet/pki/kubelet.crt", "tlsPrivateKeyFile=/var/lib/kubelet/pki/kubelet.key"}, only: []Distribution{Kubeadm}},
	{cis: "4.2.10", check: "node/kubelet-rotate-certificates", comp: Kubelet, bad: []string{"rotate-certificates=false"}, good: []string{"rotate-certificates=true"}},
	{cis: "4.2.10", check: "node/kubelet-rotate-certificates", badCfg: []string{"rotateCertificates=false"}, goodCfg: []string{"-rotateCertificates"}, only: []Distribution{Kubeadm}},
	{cis: "4.2.11", check: "node/kubelet-serving-certificate", comp: Kubelet, bad: []string{"feature-gates=RotateKubeletServerCertificate=false"}, good: []string{"feature-gates=RotateKubeletServerCertificate=true"}},
	{cis: "4.2.12", check: "node/kubelet-tls-ciphers", comp: Kubelet, bad: []string{"tls-cipher-suites=TLS_RSA_WITH_AES_128_GCM_SHA256"}, good: []string{"tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}},
	{cis: "4.2.12", check: "node/kubelet-tls-ciphers", badCfg: []string{"-tlsCipherSuites"}, goodCfg: nil, only: []Distribution{Kubeadm}},
	{cis: "4.2.14", check: "node/kubelet-seccomp-default", comp: Kubelet, bad: []string{"seccomp-default=false"}, good: []string{"seccomp-default=true"}},
	{cis: "4.2.14", check: "node/kubelet-seccomp-default", badCfg: []string{"-seccompDefault"}, goodCfg: nil, only: []Distribution{Kubeadm}},

	// 4.3 kube-proxy
	{cis: "4.3.1", check: "node/kube-proxy-metrics-bind-address", comp: KubeProxy, bad: []string{"metrics-bind-address=0.0.0.0:10249"}, good: []string{"metrics-bind-address=127.0.0.1:10249"}},
	// With --config kube-proxy ignores --metrics-bind-address: the file decides.
	{cis: "4.3.1", check: "node/kube-proxy-metrics-bind-address", comp: KubeProxy, only: []Distribution{MicroK8s, RKE2},
		bad: []string{"config=/etc/kube-proxy.yaml", "metrics-bind-address=127.0.0.1:10249"}, badFiles: map[string]string{"/etc/kube-proxy.yaml": proxyConfig("0.0.0.0:10249")},
		good: []string{"config=/etc/kube-proxy.yaml", "metrics-bind-address=0.0.0.0:10249"}, goodFiles: map[string]string{"/etc/kube-proxy.yaml": proxyConfig("127.0.0.1:10249")}},

	// 5.2.1 (on the node: the PodSecurity admission plugin)
	{cis: "5.2.1", check: "node/apiserver-admission-pod-security", comp: APIServer, bad: []string{"disable-admission-plugins=PodSecurity"}, good: []string{"-disable-admission-plugins"}},
}

func schedulerConfig(extra string) string {
	return "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nclientConnection:\n  kubeconfig: /etc/kubernetes/scheduler.conf\n" + extra
}

func proxyConfig(metrics string) string {
	return "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\nmetricsBindAddress: " + metrics + "\n"
}

// TestCISCases: for every automated CIS item, a configuration that fails
// the check and its twin that passes, on every layout (kubeadm, K3s, RKE2,
// MicroK8s) where the item applies. Each layout's secure tree is copied
// once; each twin edits it, is audited, and the tree is restored.
func TestCISCases(t *testing.T) {
	covered := map[string]bool{}
	filtered := false
	for _, d := range layouts {
		base := newBaseTree(t, d)
		for _, tc := range cisCases {
			if tc.only != nil && !slices.Contains(tc.only, d) || tc.files != nil && tc.files[d] == "" || !layoutHas(d, tc.comp) {
				continue
			}
			if tc.owner && !base.asRoot {
				continue
			}
			name := fmt.Sprintf("%s/%s/%s", d, tc.cis, strings.TrimPrefix(tc.check, "node/"))
			invoked := false
			t.Run(name, func(t *testing.T) {
				invoked = true
				for _, twin := range []string{"good", "bad"} {
					ok := applyCase(t, base.root, d, tc, twin == "bad")
					if !ok {
						base.restore(t)
						return
					}
					n, err := Load(context.Background(), Options{Root: base.root})
					base.restore(t)
					if err != nil {
						t.Fatal(err)
					}
					if n.Distribution != d {
						t.Fatalf("detected %s", n.Distribution)
					}
					o := outcomeOf(t, Evaluate(n, Checks()), tc.check)
					switch {
					case twin == "bad" && o.Status != Fail:
						t.Errorf("bad twin: %s is %s, want fail (%+v)", tc.check, o.Status, o.Results)
					case twin == "good" && o.Status != Pass:
						t.Errorf("good twin: %s is %s, want pass (%+v)", tc.check, o.Status, o.Results)
					}
					if twin == "bad" && o.Status == Fail && tc.comp != "" && len(tc.bad) > 0 {
						// The finding names where the offending value is.
						if r := o.Results[0]; r.File == "" || r.Field == "" {
							t.Errorf("bad twin: finding without file or field: %+v", r)
						}
					}
					if twin == "bad" {
						covered[tc.check+" "+tc.cis] = true
					}
				}
			})
			filtered = filtered || !invoked
		}
	}
	if filtered {
		t.Log("some cases were not run (-run): the coverage of CIS items is not checked")
		return
	}
	checkCovered(t, covered)
}

// baseTree is a layout's secure tree and a snapshot to restore it from.
type baseTree struct {
	root   string
	asRoot bool
	files  map[string]snapshot
}

type snapshot struct {
	data     []byte
	mode     os.FileMode
	uid, gid int
	dir      bool
}

func newBaseTree(t *testing.T, d Distribution) *baseTree {
	t.Helper()
	root, asRoot := copyTree(t, filepath.Join("testdata", "hosts", string(d), "good"), true)
	prepareLayout(t, root, d)
	b := &baseTree{root: root, asRoot: asRoot, files: map[string]snapshot{}}
	err := filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		s := snapshot{mode: st.Mode().Perm(), dir: e.IsDir()}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			s.uid, s.gid = int(sys.Uid), int(sys.Gid)
		}
		if !e.IsDir() {
			if s.data, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		b.files[p] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// restore puts back every file's content, mode and owner, and removes
// files a case added.
func (b *baseTree) restore(t *testing.T) {
	t.Helper()
	var added []string
	err := filepath.WalkDir(b.root, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		s, ok := b.files[p]
		if !ok {
			added = append(added, p)
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if !s.dir {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if string(data) != string(s.data) {
				if err := os.WriteFile(p, s.data, s.mode); err != nil {
					return err
				}
			}
		}
		if st.Mode().Perm() != s.mode {
			if err := os.Chmod(p, s.mode); err != nil {
				return err
			}
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && (int(sys.Uid) != s.uid || int(sys.Gid) != s.gid) {
			if err := os.Chown(p, s.uid, s.gid); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range added {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
}

func checkCovered(t *testing.T, covered map[string]bool) {
	for _, c := range Checks() {
		if c.Manual {
			continue
		}
		for _, cis := range c.CIS {
			if !covered[c.ID+" "+cis] {
				t.Errorf("%s names CIS %s but has no failing and passing case in cisCases", c.ID, cis)
			}
		}
	}
}

// layoutHas reports whether a layout runs the component at all (etcd is
// dqlite under MicroK8s; kubeadm's kube-proxy is a DaemonSet).
func layoutHas(d Distribution, c ComponentName) bool {
	return !(d == MicroK8s && c == Etcd || d == Kubeadm && c == KubeProxy)
}

// prepareLayout makes each layout's files, not a live process or a log
// line written before the edit, decide: kubeadm's kubelet process is
// removed (the unit's files then decide).
func prepareLayout(t *testing.T, root string, d Distribution) {
	t.Helper()
	if d == Kubeadm {
		if err := os.RemoveAll(filepath.Join(root, "proc")); err != nil {
			t.Fatal(err)
		}
	}
}

// applyCase edits the tree for the case's good or bad twin; false when the
// layout cannot express the edit (a K3s or RKE2 built-in default cannot be
// removed from its configuration).
func applyCase(t *testing.T, root string, d Distribution, tc cisCase, bad bool) bool {
	t.Helper()
	if tc.files != nil {
		p := filepath.Join(root, tc.files[d])
		if !bad {
			if tc.goodMode != 0 {
				if err := os.Chmod(p, tc.goodMode); err != nil {
					t.Fatal(err)
				}
			}
			return true
		}
		if tc.check == "node/apiserver-encryption-providers" {
			// A configuration that writes Secrets in clear text first.
			writeFile(t, p, "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - identity: {}\n  - aescbc:\n      keys:\n      - name: key1\n        secret: c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=\n")
			return true
		}
		if tc.owner {
			if err := os.Chown(p, 1000, 1000); err != nil {
				t.Fatal(err)
			}
			return true
		}
		mode := os.FileMode(0o644)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			mode = 0o755
		}
		if tc.badMode != 0 {
			mode = tc.badMode
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return true
	}
	ops, cfg, files := tc.good, tc.goodCfg, tc.goodFiles
	if bad {
		ops, cfg, files = tc.bad, tc.badCfg, tc.badFiles
	}
	for p, data := range files {
		writeFile(t, filepath.Join(root, p), data)
	}
	if len(cfg) > 0 {
		editYAML(t, filepath.Join(root, "var/lib/kubelet/config.yaml"), func(m map[string]any) {
			for _, op := range cfg {
				setKey(m, op)
			}
		})
	}
	if len(ops) == 0 {
		return true
	}
	return editFlags(t, root, d, tc.comp, ops)
}

// editFlags applies flag edits where the layout keeps the component's
// command line.
func editFlags(t *testing.T, root string, d Distribution, c ComponentName, ops []string) bool {
	t.Helper()
	switch {
	case c == Etcd && d == K3s:
		return editEtcdConfig(t, filepath.Join(root, k3sEtcdDir, "config"), ops)
	case c == Etcd && d == RKE2:
		return editEtcdConfig(t, filepath.Join(root, rke2EtcdDir, "config"), ops)
	case c == Etcd && d == MicroK8s:
		return false
	case d == Kubeadm && c == Kubelet:
		p := filepath.Join(root, "etc/default/kubelet")
		var words []string
		for _, op := range ops {
			if !strings.HasPrefix(op, "-") {
				words = append(words, "--"+op)
			}
		}
		writeFile(t, p, "KUBELET_EXTRA_ARGS="+strconv.Quote(strings.Join(words, " "))+"\n")
		return !slices.ContainsFunc(ops, func(op string) bool { return strings.HasPrefix(op, "-") })
	case d == Kubeadm && c == KubeProxy:
		return false
	case d == Kubeadm:
		return editStaticPod(t, filepath.Join(root, kubeadmManifests, string(c)+".yaml"), "command", ops)
	case d == RKE2 && c == Kubelet:
		if slices.ContainsFunc(ops, func(op string) bool { return strings.HasPrefix(op, "-") }) {
			return false
		}
		var items []string
		for _, op := range ops {
			items = append(items, "  - "+strconv.Quote(op))
		}
		writeFile(t, filepath.Join(root, rke2ConfigDir, "99-test.yaml"), "kubelet-arg+:\n"+strings.Join(items, "\n")+"\n")
		return true
	case d == RKE2:
		return editStaticPod(t, filepath.Join(root, rke2Manifests, string(c)+".yaml"), "args", ops)
	case d == K3s:
		return editRunningLine(t, filepath.Join(root, "var/log/k3s.log"), c, ops)
	case d == MicroK8s:
		p := filepath.Join(root, microk8sArgs, string(c))
		data, err := os.ReadFile(p)
		if err != nil {
			return false
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		for _, op := range ops {
			name, _, _ := strings.Cut(strings.TrimPrefix(op, "-"), "=")
			lines = slices.DeleteFunc(lines, func(l string) bool {
				return strings.HasPrefix(l, "--"+name+"=") || strings.HasPrefix(l, "--"+name+" ") || l == "--"+name
			})
		}
		for _, op := range ops {
			if !strings.HasPrefix(op, "-") {
				lines = append(lines, "--"+op)
			}
		}
		writeFile(t, p, strings.Join(lines, "\n")+"\n")
		return true
	}
	return false
}

// editArgs removes every occurrence of the flags named by ops, then
// appends the flags ops set, in order (so a repeated flag stays repeated).
func editArgs(args []string, ops []string) []string {
	for _, op := range ops {
		name, _, _ := strings.Cut(strings.TrimPrefix(op, "-"), "=")
		args = slices.DeleteFunc(args, func(a string) bool { return a == "--"+name || strings.HasPrefix(a, "--"+name+"=") })
	}
	for _, op := range ops {
		if !strings.HasPrefix(op, "-") {
			args = append(args, "--"+op)
		}
	}
	return args
}

func editStaticPod(t *testing.T, p, list string, ops []string) bool {
	t.Helper()
	if _, err := os.Stat(p); err != nil {
		return false
	}
	editYAML(t, p, func(m map[string]any) {
		c := m["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
		var args []string
		for _, a := range asList(c[list]) {
			args = append(args, a.(string))
		}
		if list == "command" {
			args = append(args[:1], editArgs(args[1:], ops)...)
		} else {
			args = editArgs(args, ops)
		}
		c[list] = args
	})
	return true
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func editRunningLine(t *testing.T, p string, c ComponentName, ops []string) bool {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		return false
	}
	lines := strings.Split(string(data), "\n")
	marker := "Running " + string(c) + " "
	for i, l := range lines {
		j := strings.Index(l, marker)
		if j < 0 {
			continue
		}
		body := strings.TrimSuffix(l[j+len(marker):], `"`)
		args := editArgs(strings.Fields(body), ops)
		lines[i] = l[:j+len(marker)] + strings.Join(args, " ") + `"`
		writeFile(t, p, strings.Join(lines, "\n"))
		return true
	}
	return false
}

// etcdKeys maps etcd flags to their place in its --config-file.
var etcdKeys = map[string]string{
	"cert-file": "client-transport-security.cert-file", "key-file": "client-transport-security.key-file",
	"client-cert-auth": "client-transport-security.client-cert-auth", "auto-tls": "client-transport-security.auto-tls",
	"trusted-ca-file": "client-transport-security.trusted-ca-file",
	"peer-cert-file":  "peer-transport-security.cert-file", "peer-key-file": "peer-transport-security.key-file",
	"peer-client-cert-auth": "peer-transport-security.client-cert-auth", "peer-auto-tls": "peer-transport-security.auto-tls",
}

func editEtcdConfig(t *testing.T, p string, ops []string) bool {
	t.Helper()
	editYAML(t, p, func(m map[string]any) {
		for _, op := range ops {
			del := strings.HasPrefix(op, "-")
			name, value, _ := strings.Cut(strings.TrimPrefix(op, "-"), "=")
			key := name
			if k, ok := etcdKeys[name]; ok {
				key = k
			}
			if del {
				setKey(m, "-"+key)
			} else {
				setKey(m, key+"="+value)
			}
		}
	})
	return true
}

// setKey applies "a.b=value" or "-a.b" to a YAML document.
func setKey(m map[string]any, op string) {
	del := strings.HasPrefix(op, "-")
	path, value, _ := strings.Cut(strings.TrimPrefix(op, "-"), "=")
	keys := strings.Split(path, ".")
	cur := m
	for _, k := range keys[:len(keys)-1] {
		next, ok := cur[k].(map[string]any)
		if !ok {
			if del {
				return
			}
			next = map[string]any{}
			cur[k] = next
		}
		cur = next
	}
	last := keys[len(keys)-1]
	if del {
		delete(cur, last)
		return
	}
	var v any = value
	if b, err := strconv.ParseBool(value); err == nil {
		v = b
	} else if i, err := strconv.Atoi(value); err == nil {
		v = i
	}
	cur[last] = v
}

func editYAML(t *testing.T, p string, edit func(map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, p, string(out))
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
