package nodeaudit

import (
	"fmt"
	"io/fs"

	"github.com/palisade-sec/palisade/internal/finding"
)

// modeAtMost fails every file of the roles whose mode has a bit beyond max
// ("600 or more restrictive").
func modeAtMost(max fs.FileMode, roles ...FileRole) func(n *Node) []Result {
	return func(n *Node) []Result {
		files := n.FilesWith(roles...)
		if len(files) == 0 {
			return notApplicable("no %v files on this node", roles)
		}
		var out []Result
		for _, f := range files {
			if f.Mode&^max != 0 {
				out = append(out, Result{Status: Fail, Object: fileRef(f.Path), File: f.Path,
					Message: fmt.Sprintf("mode %04o, want %04o or more restrictive", uint32(f.Mode), uint32(max))})
			}
		}
		return out
	}
}

// ownedBy fails every file of the roles not owned by user:group.
func ownedBy(want func(n *Node) (user, group string), roles ...FileRole) func(n *Node) []Result {
	return func(n *Node) []Result {
		files := n.FilesWith(roles...)
		if len(files) == 0 {
			return notApplicable("no %v files on this node", roles)
		}
		user, group := want(n)
		var out []Result
		for _, f := range files {
			if !f.OwnerKnown {
				continue
			}
			if f.User != user || f.Group != group {
				out = append(out, Result{Status: Fail, Object: fileRef(f.Path), File: f.Path,
					Message: fmt.Sprintf("owned by %s:%s, want %s:%s", f.User, f.Group, user, group)})
			}
		}
		return out
	}
}

func rootRoot(*Node) (string, string) { return "root", "root" }

// etcdOwner: kubeadm's and RKE2's etcd (RKE2's CIS profile runs it as the
// etcd user) are expected to run as the etcd user; K3s's
// embedded etcd and MicroK8s's dqlite run inside root-owned services.
func etcdOwner(n *Node) (string, string) {
	if n.Distribution == Kubeadm || n.Distribution == RKE2 || n.Distribution == Unknown {
		return "etcd", "etcd"
	}
	return "root", "root"
}

func fileChecks() []Check {
	return []Check{
		{ID: "node/file-config-permissions", Title: "Component configuration files writable or readable by others", Severity: finding.SeverityMedium,
			CIS: []string{"1.1.1", "1.1.3", "1.1.5", "1.1.7", "4.1.1", "4.1.9"}, NSA: []string{"network.control-plane"}, MITRE: []string{"T1611"},
			Description: "Static Pod manifests, MicroK8s args files, the k3s config and the kubelet's unit and config files decide how components run; whoever can write them controls the node.",
			Remediation: "chmod 600 the files named.", Evaluate: modeAtMost(0o600, RoleComponentConfig, RoleKubeletConfig)},
		{ID: "node/file-config-ownership", Title: "Component configuration files not owned by root", Severity: finding.SeverityMedium,
			CIS: []string{"1.1.2", "1.1.4", "1.1.6", "1.1.8", "4.1.2", "4.1.10"}, NSA: []string{"network.control-plane"},
			Description: "The owner of a component's configuration can change how it runs.",
			Remediation: "chown root:root the files named.", Evaluate: ownedBy(rootRoot, RoleComponentConfig, RoleKubeletConfig)},
		{ID: "node/file-etcd-data-dir-permissions", Title: "Datastore directory open to other users", Severity: finding.SeverityHigh, CIS: []string{"1.1.11"}, NSA: []string{"network.etcd"}, MITRE: []string{"T1552"},
			Description: "The etcd (or dqlite) data directory holds every Secret of the cluster.",
			Remediation: "chmod 700 the data directory.", Evaluate: modeAtMost(0o700, RoleEtcdDataDir)},
		{ID: "node/file-etcd-data-dir-ownership", Title: "Datastore directory has the wrong owner", Severity: finding.SeverityMedium, CIS: []string{"1.1.12"}, NSA: []string{"network.etcd"},
			Description: "The data directory must belong to the account the datastore runs as (etcd:etcd for kubeadm; root for K3s's embedded etcd and MicroK8s's dqlite).",
			Remediation: "chown etcd:etcd (kubeadm) or root:root (K3s, MicroK8s) the data directory.", Evaluate: ownedBy(etcdOwner, RoleEtcdDataDir)},
		{ID: "node/file-kubeconfig-permissions", Title: "Kubeconfig files readable by others", Severity: finding.SeverityHigh,
			CIS: []string{"1.1.13", "1.1.15", "1.1.17", "4.1.3", "4.1.5"}, NSA: []string{"network.kubeconfig"}, MITRE: []string{"T1552.001"},
			Description: "Kubeconfig files hold credentials: admin.conf (or k3s.yaml) grants cluster-admin to whoever reads it.",
			Remediation: "chmod 600 the files named (K3s: write-kubeconfig-mode: \"0600\").", Evaluate: modeAtMost(0o600, RoleKubeconfig)},
		{ID: "node/file-kubeconfig-ownership", Title: "Kubeconfig files not owned by root", Severity: finding.SeverityMedium,
			CIS: []string{"1.1.14", "1.1.16", "1.1.18", "4.1.4", "4.1.6"}, NSA: []string{"network.kubeconfig"}, MITRE: []string{"T1552.001"},
			Description: "The owner of a kubeconfig file can read its credentials.",
			Remediation: "chown root:root the files named.", Evaluate: ownedBy(rootRoot, RoleKubeconfig)},
		{ID: "node/file-pki-ownership", Title: "PKI files not owned by root", Severity: finding.SeverityMedium, CIS: []string{"1.1.19", "4.1.8"}, NSA: []string{"authz.authentication"}, MITRE: []string{"T1552.001"},
			Description: "Whoever owns the PKI directory can replace certificate authorities and keys.",
			Remediation: "chown -R root:root the PKI directory.", Evaluate: ownedBy(rootRoot, RolePKIDir, RolePKICert, RolePKIKey)},
		{ID: "node/file-pki-cert-permissions", Title: "Certificates writable or readable by others", Severity: finding.SeverityLow, CIS: []string{"1.1.20", "4.1.7"}, NSA: []string{"authz.authentication"},
			// CIS v1.12 asks for 0644 or more restrictive (certificates are
			// public; kubeadm writes them 0644): what matters is that no
			// one but the owner can write them.
			Description: "A writable CA certificate lets an attacker add trust in their own CA.",
			Remediation: "chmod 644 (or 600) the certificate files named.", Evaluate: modeAtMost(0o644, RolePKICert)},
		{ID: "node/file-pki-key-permissions", Title: "Private keys readable by others", Severity: finding.SeverityHigh, CIS: []string{"1.1.21"}, NSA: []string{"authz.authentication"}, MITRE: []string{"T1552.001"},
			Description: "A readable CA or service-account key lets anyone mint credentials for any identity.",
			Remediation: "chmod 600 the key files named.", Evaluate: modeAtMost(0o600, RolePKIKey)},
		// CIS 1.12 marks 1.1.9 and 1.1.10 manual ("based on the file
		// location on your system"); the files are found here, so they are
		// automated. The K3s CIS 1.12 self-assessment audits the host-local
		// IPAM files of /var/lib/cni/networks, lock files excepted.
		{ID: "node/file-cni-permissions", Title: "CNI files readable or writable by others", Severity: finding.SeverityLow, CIS: []string{"1.1.9"}, NSA: []string{"network.policies"}, MITRE: []string{"T1557"},
			Description: "The CNI configuration decides how pods are networked, and the IPAM state which pod holds which address; a user who can change them can reroute or impersonate pod traffic.",
			Remediation: "chmod 600 the CNI configuration and IPAM files named (lock files excepted).", Evaluate: modeAtMost(0o600, RoleCNIConfig)},
		{ID: "node/file-cni-ownership", Title: "CNI files not owned by root", Severity: finding.SeverityLow, CIS: []string{"1.1.10"}, NSA: []string{"network.policies"}, MITRE: []string{"T1557"},
			Description: "The CNI configuration and IPAM files must be owned by root:root, so only root can change how pods are networked.",
			Remediation: "chown root:root the CNI configuration and IPAM files named.", Evaluate: ownedBy(rootRoot, RoleCNIConfig)},
		{ID: "node/file-security-config", Title: "Security configuration files exposed", Severity: finding.SeverityHigh, CIS: []string{"1.2.27", "3.2.1"}, NSA: []string{"network.secrets", "logging.audit"}, MITRE: []string{"T1552.001"},
			Description: "The EncryptionConfiguration holds the keys that protect Secrets; audit policies, admission and authentication configuration and token files decide who is let in and what is recorded.",
			Remediation: "chmod 600 and chown root:root the files named.",
			Evaluate:    all(modeAtMost(0o600, RoleSecurityConfig), ownedBy(rootRoot, RoleSecurityConfig))},
	}
}

// Checks returns every node check, in report order.
func Checks() []Check {
	var out []Check
	out = append(out, apiServerChecks()...)
	out = append(out, etcdChecks()...)
	out = append(out, controlPlaneChecks()...)
	out = append(out, kubeletChecks()...)
	out = append(out, kubeProxyChecks()...)
	out = append(out, fileChecks()...)
	out = append(out, manualChecks()...)
	return out
}
