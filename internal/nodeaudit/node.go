// Package nodeaudit audits the control-plane and node configuration of a
// Kubernetes host against the CIS Kubernetes Benchmark and the K3s CIS
// self-assessment: it detects the distribution (kubeadm, K3s, MicroK8s),
// reads each component's effective flags the way that distribution builds
// them (static Pod manifests, k3s config files and log, MicroK8s args
// files, live command lines under /proc), stats the files that must be
// protected, and evaluates checks over that normalised view.
//
// Everything is read under a root directory, so a host mounted elsewhere,
// or a fixture tree, is audited exactly like the running host. Loading does
// all the I/O; checks are pure functions of the loaded Node.
package nodeaudit

import (
	"io/fs"

	"github.com/palisade-sec/palisade/internal/encryption"
	"github.com/palisade-sec/palisade/internal/finding"
)

// Distribution is how Kubernetes was installed on the host.
type Distribution string

// Distributions recognised.
const (
	Kubeadm  Distribution = "kubeadm"
	K3s      Distribution = "k3s"
	RKE2     Distribution = "rke2"
	MicroK8s Distribution = "microk8s"
	// Unknown: no known layout; only live processes are audited.
	Unknown Distribution = "unknown"
)

// ComponentName names a Kubernetes component.
type ComponentName string

// Components audited.
const (
	APIServer         ComponentName = "kube-apiserver"
	Etcd              ComponentName = "etcd"
	Kubelet           ComponentName = "kubelet"
	ControllerManager ComponentName = "kube-controller-manager"
	Scheduler         ComponentName = "kube-scheduler"
	KubeProxy         ComponentName = "kube-proxy"
)

// AllComponents lists the components in audit order.
func AllComponents() []ComponentName {
	return []ComponentName{APIServer, Etcd, ControllerManager, Scheduler, Kubelet, KubeProxy}
}

// Component is one component's effective configuration on the host.
type Component struct {
	Name ComponentName
	// Found is true when the component is configured or runs on the host.
	Found bool
	// Running is true when a process of it was seen under /proc.
	Running bool
	// Source is where its flags mainly came from.
	Source string
	Flags  Flags
	// Config is the component's configuration file (the kubelet's
	// KubeletConfiguration, k3s's embedded etcd config), parsed, and
	// ConfigPath its host path.
	Config     map[string]any
	ConfigPath string
	// ConfigPos maps a dotted key path of Config to the file and line
	// that set it (a kubelet drop-in overrides the main file).
	ConfigPos map[string]Setting
	// Absent explains why a component that is normally there is not
	// (for example "MicroK8s stores cluster state in dqlite, not etcd").
	Absent string
	// ConfigErr says why its --config file, or a kubelet drop-in, was
	// not read (it does not parse, or is of another kind): the settings
	// it may hold are unknown, so checks that need one say they cannot
	// verify it instead of judging the default (see componentSetting).
	ConfigErr string
	// unreadConsulted records, during one check's evaluation, that the
	// check looked up a setting the unread file may hold (Evaluate).
	unreadConsulted bool
}

// FileRole says what a file is for, which decides the checks on it.
type FileRole string

// File roles.
const (
	RoleComponentConfig FileRole = "component-config"
	RoleKubeletConfig   FileRole = "kubelet-config"
	RoleKubeconfig      FileRole = "kubeconfig"
	RolePKIDir          FileRole = "pki-dir"
	RolePKICert         FileRole = "pki-cert"
	RolePKIKey          FileRole = "pki-key"
	RoleEtcdDataDir     FileRole = "etcd-data-dir"
	RoleSecurityConfig  FileRole = "security-config"
	RoleCNIConfig       FileRole = "cni-config"
)

// File is the mode and owner of one host file.
type File struct {
	Path   string
	Role   FileRole
	Exists bool
	IsDir  bool
	Mode   fs.FileMode
	// OwnerKnown is false where the platform gives no owner.
	OwnerKnown  bool
	UID, GID    uint32
	User, Group string
	// Err is set when the file exists but could not be inspected.
	Err string
}

// Node is the normalised view of a host the checks evaluate.
type Node struct {
	Root         string
	Distribution Distribution
	// DetectedBy lists the evidence for the distribution.
	DetectedBy []string
	Components map[ComponentName]*Component
	Files      []File
	// EncryptionConfig is the API server's EncryptionConfiguration when it
	// could be read, else EncryptionConfigErr says why not.
	EncryptionConfig    *encryption.Config
	EncryptionConfigErr string
	// APIServerFiles is what the API server's other configuration files
	// (authorization, authentication, audit policy) say.
	APIServerFiles APIServerFiles
	// Problems are inputs that could not be read.
	Problems []finding.Problem
	// nothingFound is set by Load when the host showed no file of any
	// distribution and no Kubernetes process (see NothingFound).
	nothingFound bool
}

// Component returns a component, never nil.
func (n *Node) Component(name ComponentName) *Component {
	if c, ok := n.Components[name]; ok {
		return c
	}
	return &Component{Name: name, Flags: NewFlags(name)}
}

// FilesWith returns the existing files with one of the roles.
func (n *Node) FilesWith(roles ...FileRole) []File {
	var out []File
	for _, f := range n.Files {
		if !f.Exists {
			continue
		}
		for _, r := range roles {
			if f.Role == r {
				out = append(out, f)
				break
			}
		}
	}
	return out
}
