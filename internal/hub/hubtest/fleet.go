package hubtest

import (
	"context"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/fleetapi"
)

// Users of a seeded fleet (passwords are test-only).
const (
	AdminUser      = "alice"
	AdminPassword  = "correct-horse-battery"
	ViewerUser     = "victor"
	ViewerPassword = "viewer-password-123"
)

// Images and vulnerabilities of the seeded fleet.
const (
	NginxRef     = "registry.example/nginx:1.25"
	NginxDigest  = "sha256:1f1a4f0d7e5c2b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081920a1b"
	SensorRef    = "registry.example/sensor-reader:2.1"
	SensorDigest = "sha256:5e5e0d1c2b3a495867708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d"
	CVE          = "CVE-2026-10001"
	GHSA         = "GHSA-wxyz-2345-abcd"
)

// Fleet is what SeedFleet created.
type Fleet struct {
	// Agents by cluster name: edge-arm-01 (online, arm64, sensor node,
	// encryption verified, namespace "sensors" enforcing restricted),
	// edge-amd-02 (online, amd64, one critical finding, encryption not
	// reported), edge-stale-03 (stale), edge-offline-04 (offline) and
	// never-seen-05 (registered, no agent).
	Agents map[string]*Agent
	// IDs by cluster name.
	IDs map[string]string
}

func node(name, arch string, labels map[string]string, cpu, mem, reqCPU, reqMem string) fleetapi.Node {
	n := fleetapi.Node{Name: name, Architecture: arch, OS: "linux", OSImage: "Debian GNU/Linux 12 (bookworm)", KernelVersion: "6.1.0-28-" + arch,
		KubeletVersion: "v1.31.4", ContainerRuntime: "containerd://1.7.24",
		Labels:      map[string]string{"kubernetes.io/arch": arch, "kubernetes.io/os": "linux", "kubernetes.io/hostname": name},
		Capacity:    map[string]string{"cpu": cpu, "memory": mem, "pods": "110"},
		Allocatable: map[string]string{"cpu": cpu, "memory": mem, "pods": "110"},
		Conditions:  map[string]string{"Ready": "True", "MemoryPressure": "False", "DiskPressure": "False", "PIDPressure": "False"},
		Requested:   map[string]string{"cpu": reqCPU, "memory": reqMem}}
	for k, v := range labels {
		n.Labels[k] = v
	}
	return n
}

func podFinding(ns, name, rule string, sev finding.Severity, msg string) finding.Finding {
	return finding.Finding{RuleID: rule, Severity: sev, Title: ruleTitles[rule], Message: msg, Container: "app",
		Object: finding.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: name}}
}

var ruleTitles = map[string]string{
	"pss/privileged":                   "Privileged container",
	"pss/run-as-non-root":              "Container may run as root",
	"hardening/read-only-root-fs":      "Writable root filesystem",
	"hardening/no-resource-limits":     "No resource limits",
	"cluster/namespace-no-pss-enforce": "Namespace without an enforced Pod Security level",
}

var rules = []string{"pss/privileged", "pss/run-as-non-root", "hardening/read-only-root-fs", "hardening/no-resource-limits", "cluster/namespace-no-pss-enforce"}

func objects(fs ...finding.Finding) *fleetapi.FindingsDelta {
	d := &fleetapi.FindingsDelta{Full: true}
	idx := map[finding.ObjectRef]int{}
	for _, f := range fs {
		i, ok := idx[f.Object]
		if !ok {
			i = len(d.Objects)
			idx[f.Object] = i
			d.Objects = append(d.Objects, fleetapi.ObjectFindings{Object: f.Object})
		}
		d.Objects[i].Findings = append(d.Objects[i].Findings, f)
	}
	return d
}

func vuln(id string, sev finding.Severity, pkg, installed, fixed string, aliases ...string) finding.Finding {
	return finding.Finding{RuleID: "vuln/" + id, Severity: sev, Title: id, Vulnerability: &finding.Vulnerability{ID: id, Aliases: aliases,
		Package: finding.VulnerablePackage{Name: pkg, Ecosystem: "deb"}, Installed: installed, Fixed: fixed}}
}

// SeedFleet registers five clusters and two users, and reports
// inventories, findings, images, scans and admission events through the
// agent API, moving the hub's clock so that the clusters end up online,
// stale, offline and never seen at the clock's original time.
func SeedFleet(t testing.TB, h *Hub) Fleet {
	t.Helper()
	ctx := context.Background()
	for _, u := range []struct{ name, pw, role string }{{AdminUser, AdminPassword, "admin"}, {ViewerUser, ViewerPassword, "viewer"}} {
		if err := h.CreateUser(ctx, u.name, u.pw, u.role); err != nil {
			t.Fatal(err)
		}
	}
	now := h.Clock.Now()
	f := Fleet{Agents: map[string]*Agent{}, IDs: map[string]string{}}
	type spec struct {
		name    string
		at      time.Duration // last contact before now
		inv     fleetapi.Inventory
		finds   []finding.Finding
		images  []fleetapi.ImageUse
		scans   map[string][]finding.Finding
		admit   []fleetapi.AdmissionEvent
		runtime []*fleetapi.RuntimeReport
		noAgent bool
	}
	specs := []spec{
		{name: "edge-offline-04", at: 3 * time.Hour, inv: fleetapi.Inventory{KubernetesVersion: "v1.29.8+k3s1", Distribution: "k3s", Namespaces: 4, Pods: 9, Rules: rules,
			Nodes: []fleetapi.Node{node("pi-offline", "arm64", nil, "4", "4Gi", "500m", "1Gi")}},
			finds: []finding.Finding{podFinding("default", "legacy", "pss/privileged", finding.SeverityHigh, "container app is privileged")}},
		{name: "edge-stale-03", at: 4 * time.Minute, inv: fleetapi.Inventory{KubernetesVersion: "v1.31.4+k3s1", Distribution: "k3s", Namespaces: 5, Pods: 14, Rules: rules,
			PodSecurity: map[string]string{"sensors": "restricted", "default": ""},
			Nodes:       []fleetapi.Node{node("pi-stale-1", "arm64", map[string]string{"palisade.dev/sensor": "lidar"}, "4", "8Gi", "1", "2Gi")}},
			images: []fleetapi.ImageUse{{Ref: SensorRef, Digest: SensorDigest, Workloads: 1, Namespaces: []string{"sensors"}}}},
		{name: "edge-amd-02", inv: fleetapi.Inventory{KubernetesVersion: "v1.31.4", Distribution: "kubeadm", Namespaces: 7, Pods: 42, Rules: rules, AgentVersion: "v0.9.0",
			PodSecurity: map[string]string{"sensors": "baseline", "default": "", "web": "restricted"},
			Nodes: []fleetapi.Node{node("x86-1", "amd64", nil, "8", "32Gi", "2", "8Gi"), node("x86-2", "amd64", nil, "8", "32Gi", "7500m", "30Gi"),
				node("x86-3", "amd64", nil, "8", "32Gi", "0", "0")}},
			finds: []finding.Finding{
				podFinding("web", "frontend", "pss/privileged", finding.SeverityCritical, "container app is privileged and mounts the host's root"),
				podFinding("web", "frontend", "hardening/read-only-root-fs", finding.SeverityMedium, "container app has a writable root filesystem"),
				podFinding("web", "api", "pss/run-as-non-root", finding.SeverityHigh, "container app may run as root"),
				podFinding("batch", "report", "hardening/no-resource-limits", finding.SeverityLow, "container app sets no memory limit"),
			},
			images: []fleetapi.ImageUse{{Ref: NginxRef, Digest: NginxDigest, Workloads: 3, Namespaces: []string{"web"}}, {Ref: "registry.example/api:4.2", Workloads: 1, Namespaces: []string{"web"}}},
			scans: map[string][]finding.Finding{NginxDigest: {vuln(CVE, finding.SeverityCritical, "openssl", "3.0.11-1~deb12u1", "3.0.15-1~deb12u1", GHSA),
				vuln("CVE-2026-20002", finding.SeverityMedium, "zlib", "1:1.2.13.dfsg-1", "")}},
			admit: []fleetapi.AdmissionEvent{
				{Time: now.Add(-20 * time.Minute), UID: "amd-1", Operation: "CREATE", Decision: "denied", User: "dev@example.com", Rules: []string{"pss/privileged"},
					Object: finding.ObjectRef{Kind: "Pod", Namespace: "web", Name: "debug-shell"}, Message: "privileged container refused"},
				{Time: now.Add(-10 * time.Minute), UID: "amd-2", Operation: "CREATE", Decision: "allowed", BreakGlass: true, User: "oncall@example.com", Rules: []string{"pss/privileged"},
					Object: finding.ObjectRef{Kind: "Pod", Namespace: "web", Name: "incident-debug"}, Message: "break-glass annotation by on-call"},
			}},
		{name: "edge-arm-01", inv: fleetapi.Inventory{KubernetesVersion: "v1.31.4+k3s1", Distribution: "k3s", Namespaces: 6, Pods: 23, Rules: rules, AgentVersion: "v0.9.0",
			PodSecurity:      map[string]string{"sensors": "restricted", "default": "baseline", "kube-system": "privileged"},
			EncryptionAtRest: &fleetapi.EncryptionAtRest{Status: fleetapi.EncryptionVerified, Verification: fleetapi.VerificationEtcd, Provider: "aescbc", CheckedAt: now.Add(-time.Hour)},
			Nodes: []fleetapi.Node{node("pi-1", "arm64", map[string]string{"palisade.dev/sensor": "lidar"}, "4", "8Gi", "1500m", "3Gi"),
				node("pi-2", "arm64", nil, "4", "8Gi", "500m", "1Gi")}},
			finds: []finding.Finding{
				podFinding("sensors", "lidar-reader", "hardening/read-only-root-fs", finding.SeverityMedium, "container app has a writable root filesystem"),
				podFinding("default", "mqtt", "pss/run-as-non-root", finding.SeverityHigh, "container app may run as root"),
			},
			images: []fleetapi.ImageUse{{Ref: NginxRef, Digest: NginxDigest, Workloads: 1, Namespaces: []string{"default"}}, {Ref: SensorRef, Digest: SensorDigest, Workloads: 1, Namespaces: []string{"sensors"}}},
			scans: map[string][]finding.Finding{NginxDigest: {vuln(CVE, finding.SeverityCritical, "openssl", "3.0.11-1~deb12u1", "3.0.15-1~deb12u1", GHSA)},
				SensorDigest: {}},
			admit: []fleetapi.AdmissionEvent{
				{Time: now.Add(-5 * time.Minute), UID: "arm-1", Operation: "CREATE", Decision: "denied", User: "ci@example.com", Rules: []string{"image/unsigned"},
					Object: finding.ObjectRef{Kind: "Deployment", Namespace: "sensors", Name: "camera"}, Message: "image signature not verified"},
			},
			runtime: []*fleetapi.RuntimeReport{
				{Node: "pi-1", Sensor: &fleetapi.RuntimeSensorState{Mode: "ok", Events: 18234, UpdatedAt: now.Add(-time.Minute)},
					Findings: []fleetapi.RuntimeFinding{{ID: "rt-arm-1", Time: now.Add(-3 * time.Minute), F: finding.Finding{RuleID: "PAL-RT-001", Severity: finding.SeverityHigh,
						Title: "Shell started in a container", Object: finding.ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: "sensors", Name: "lidar-reader-7d9f"}, Container: "reader",
						Message: "process with parent pid 4121 (pid 4188, uid 0) started /bin/sh in container 3f2a9c1d0b7e"}}}},
				{Node: "pi-2", Sensor: &fleetapi.RuntimeSensorState{Mode: "degraded", Reason: "load kernel BTF /sys/kernel/btf/vmlinux: no such file or directory", UpdatedAt: now.Add(-2 * time.Minute)}},
			}},
		{name: "never-seen-05", noAgent: true},
	}
	for _, s := range specs {
		if s.noAgent {
			c, err := h.Store.EnsureCluster(ctx, s.name, now)
			if err != nil {
				t.Fatal(err)
			}
			f.IDs[s.name] = c.ID
			continue
		}
		h.Clock.Set(now.Add(-s.at))
		a := h.Enrol(t, s.name)
		f.Agents[s.name], f.IDs[s.name] = a, a.ClusterID
		inv := s.inv
		a.Report(t, fleetapi.KindInventory, &inv)
		a.Report(t, fleetapi.KindFindings, objects(s.finds...))
		if len(s.images) > 0 {
			a.Report(t, fleetapi.KindImages, &fleetapi.ImageSet{Images: s.images})
		}
		for d, vs := range s.scans {
			a.Report(t, fleetapi.KindImageScan, &fleetapi.ImageScan{Digest: d, DBStamp: "2026-03-01T00:00:00Z", ScannedAt: now.Add(-s.at), Vulnerabilities: append([]finding.Finding{}, vs...)})
		}
		if len(s.admit) > 0 {
			a.Report(t, fleetapi.KindAdmission, s.admit)
		}
		for _, r := range s.runtime {
			a.Report(t, fleetapi.KindRuntime, r)
		}
		a.Heartbeat(t)
	}
	h.Clock.Set(now)
	if len(f.IDs) != len(specs) {
		t.Fatalf("seeded %d clusters, want %d", len(f.IDs), len(specs))
	}
	return f
}
