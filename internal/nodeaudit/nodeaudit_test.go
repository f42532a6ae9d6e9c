package nodeaudit

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

// copyTree copies a fixture host tree to a temporary directory and sets
// modes and owners, which git does not keep: secure (files 0600, dirs
// 0700, root-owned; kubeadm's etcd data dir owned by etcd) or insecure
// (0664/0755, owned by uid 1000: group-writable, so that even checks that
// accept 0644, such as certificates', fail). It reports whether owners
// could be set.
func copyTree(t *testing.T, src string, secure bool) (string, bool) {
	t.Helper()
	dst := t.TempDir()
	asRoot := os.Geteuid() == 0
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dst {
			return err
		}
		mode, uid := fs.FileMode(0o664), 1000
		if d.IsDir() {
			mode = 0o755
		}
		if secure {
			mode, uid = 0o600, 0
			if d.IsDir() {
				mode = 0o700
			}
			if strings.HasSuffix(filepath.ToSlash(p), "/var/lib/etcd") || strings.HasSuffix(filepath.ToSlash(p), "/rke2/server/db/etcd") {
				uid = 998
			}
		}
		if asRoot {
			if err := os.Chown(p, uid, uid); err != nil {
				return err
			}
		}
		return os.Chmod(p, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst, asRoot
}

func isOwnershipCheck(id string) bool {
	return strings.HasSuffix(id, "-ownership") || id == "node/file-security-config"
}

// TestFixtureTrees runs every check over a secure and an insecure host tree
// of each distribution: nothing may fail on a secure tree, and every check
// must pass on some secure tree and fail on some insecure tree, so a check
// added without fixtures fails this test.
func TestFixtureTrees(t *testing.T) {
	passed, failed, manual := map[string]bool{}, map[string]bool{}, map[string]bool{}
	owners := true
	for _, dist := range []Distribution{Kubeadm, K3s, RKE2, MicroK8s} {
		for _, secure := range []bool{true, false} {
			name := string(dist) + "/bad"
			if secure {
				name = string(dist) + "/good"
			}
			t.Run(name, func(t *testing.T) {
				root, asRoot := copyTree(t, filepath.Join("testdata", "hosts", name), secure)
				owners = owners && asRoot
				n, err := Load(context.Background(), Options{Root: root})
				if err != nil {
					t.Fatal(err)
				}
				if n.Distribution != dist {
					t.Fatalf("detected %s (%v), want %s", n.Distribution, n.DetectedBy, dist)
				}
				for _, p := range n.Problems {
					t.Errorf("problem: %s", p)
				}
				for _, o := range Evaluate(n, Checks()) {
					if !asRoot && isOwnershipCheck(o.Check.ID) {
						continue
					}
					switch o.Status {
					case Manual:
						manual[o.Check.ID] = true
					case Pass:
						passed[o.Check.ID] = true
					case Fail:
						failed[o.Check.ID] = true
						if secure {
							for _, r := range o.Results {
								t.Errorf("%s failed on a secure tree: %s: %s (%s)", o.Check.ID, r.Object, r.Message, r.File)
							}
						}
					}
				}
			})
		}
	}
	for _, c := range Checks() {
		if !owners && isOwnershipCheck(c.ID) {
			continue
		}
		if c.Manual {
			if !manual[c.ID] || passed[c.ID] || failed[c.ID] {
				t.Errorf("manual item %s: manual on some tree %v, never passed %v or failed %v", c.ID, manual[c.ID], !passed[c.ID], !failed[c.ID])
			}
			continue
		}
		if !passed[c.ID] {
			t.Errorf("%s passes on no secure fixture tree", c.ID)
		}
		if !failed[c.ID] {
			t.Errorf("%s fails on no insecure fixture tree", c.ID)
		}
	}
}

func outcomeOf(t *testing.T, outcomes []Outcome, id string) Outcome {
	t.Helper()
	for _, o := range outcomes {
		if o.Check.ID == id {
			return o
		}
	}
	t.Fatalf("no outcome for %s", id)
	return Outcome{}
}

func TestDistributionSpecifics(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		tree  string
		check func(t *testing.T, n *Node, out []Outcome)
	}{
		{"microk8s/good", func(t *testing.T, n *Node, out []Outcome) {
			// dqlite, not etcd: etcd checks do not apply, and say why.
			o := outcomeOf(t, out, "node/etcd-client-tls")
			if o.Status != NotApplicable || !strings.Contains(o.Results[0].Message, "dqlite") {
				t.Errorf("etcd under MicroK8s: %+v", o)
			}
			if o := outcomeOf(t, out, "node/apiserver-etcd-tls"); o.Status != NotApplicable {
				t.Errorf("kine socket: %+v", o)
			}
			// ${SNAP_DATA} expanded, quotes removed.
			if v, _ := n.Component(APIServer).Flags.Get("etcd-servers"); v != "unix:///var/snap/microk8s/current/var/kubernetes/backend/kine.sock:12379" {
				t.Errorf("etcd-servers = %q", v)
			}
			if v, _ := n.Component(Scheduler).Flags.Get("bind-address"); v != "127.0.0.1" {
				t.Errorf("'--bind-address 127.0.0.1' read as %q", v)
			}
		}},
		{"k3s/good", func(t *testing.T, n *Node, out []Outcome) {
			api := n.Component(APIServer)
			if s, _ := api.Flags.Lookup("anonymous-auth"); s.Source != "k3s log (/var/log/k3s.log)" {
				t.Errorf("anonymous-auth from %q, want the k3s log", s.Source)
			}
			if !api.Running {
				t.Error("k3s server process not seen")
			}
			if v, _ := n.Component(Kubelet).Flags.Get("protect-kernel-defaults"); v != "true" {
				t.Errorf("protect-kernel-defaults key not mapped: %q", v)
			}
			if n.EncryptionConfig == nil || n.EncryptionConfig.Entries[0].Providers[0].Type != "secretbox" {
				t.Errorf("encryption config: %+v (%s)", n.EncryptionConfig, n.EncryptionConfigErr)
			}
			if v, _ := n.Component(Etcd).Flags.Get("peer-client-cert-auth"); v != "true" {
				t.Errorf("etcd config file peer-transport-security not mapped: %q", v)
			}
		}},
		{"kubeadm/bad", func(t *testing.T, n *Node, out []Outcome) {
			// The live command line overrides the kubelet config file.
			k := n.Component(Kubelet)
			if s, _ := k.Flags.Lookup("anonymous-auth"); s.Source != "/proc/4242/cmdline" || !k.Running {
				t.Errorf("kubelet anonymous-auth from %+v, running %v", s, k.Running)
			}
			o := outcomeOf(t, out, "node/kubelet-authorization-mode")
			if o.Status != Fail || o.Results[0].Field != "authorization.mode" || o.Results[0].File != "/var/lib/kubelet/config.yaml" {
				t.Errorf("kubelet authorization from the config file: %+v", o.Results)
			}
			if o := outcomeOf(t, out, "node/etcd-unique-ca"); o.Status != NotApplicable {
				t.Errorf("unique CA without both CA flags: %+v", o)
			}
		}},
		{"kubeadm/good", func(t *testing.T, n *Node, out []Outcome) {
			if !slices.Contains(n.DetectedBy, "/etc/kubernetes/manifests/kube-apiserver.yaml") {
				t.Errorf("evidence %v", n.DetectedBy)
			}
			if v, _ := n.Component(Kubelet).Flags.Get("container-runtime-endpoint"); v != "unix:///var/run/containerd/containerd.sock" {
				t.Errorf("'--flag value' on /proc cmdline: %q", v)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.tree, func(t *testing.T) {
			root, _ := copyTree(t, filepath.Join("testdata", "hosts", tt.tree), true)
			n, err := Load(ctx, Options{Root: root})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, n, Evaluate(n, Checks()))
		})
	}
}

// TestWorkerNode: a kubeadm worker has a kubelet only; control-plane checks
// are not applicable, and the report says so in notes, not findings.
func TestWorkerNode(t *testing.T) {
	root, _ := copyTree(t, filepath.Join("testdata", "hosts", "kubeadm", "good"), true)
	if err := os.RemoveAll(filepath.Join(root, "etc/kubernetes/manifests")); err != nil {
		t.Fatal(err)
	}
	n, err := Load(context.Background(), Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	out := Evaluate(n, Checks())
	r := Report(n, out)
	if len(r.Findings) != 0 {
		t.Errorf("findings on a secure worker: %+v", r.Findings)
	}
	na := 0
	for _, p := range r.Problems {
		if strings.Contains(p.Message, "node/apiserver-profiling (CIS 1.2.15): not applicable: kube-apiserver is not configured") {
			na++
		}
	}
	if na != 1 {
		t.Errorf("no not-applicable note for the API server: %+v", r.Problems)
	}
	if o := outcomeOf(t, out, "node/kubelet-anonymous-auth"); o.Status != Pass {
		t.Errorf("kubelet check on a worker: %+v", o)
	}
}

func TestForcedDistributionAndBadRoot(t *testing.T) {
	if _, err := Load(context.Background(), Options{Root: "/nonexistent/palisade"}); err == nil || !strings.Contains(err.Error(), "--root") {
		t.Errorf("bad root: %v", err)
	}
	root, _ := copyTree(t, filepath.Join("testdata", "hosts", "kubeadm", "good"), true)
	n, err := Load(context.Background(), Options{Root: root, Distribution: MicroK8s})
	if err != nil {
		t.Fatal(err)
	}
	if n.Component(APIServer).Found {
		t.Error("forced microk8s read kubeadm manifests")
	}
	if _, err := ParseDistribution("openshift"); err == nil {
		t.Error("unknown distribution accepted")
	}
}

// TestK3sLogBound: only the end of the log is read, so a "Running" line
// beyond the bound is never seen, and the last one wins.
func TestK3sLogBound(t *testing.T) {
	root, _ := copyTree(t, filepath.Join("testdata", "hosts", "k3s", "bad"), true)
	var b strings.Builder
	b.WriteString(`msg="Running kube-apiserver --anonymous-auth=true --old=1"` + "\n")
	pad := strings.Repeat("x", 1023) + "\n"
	for b.Len() < MaxLogTail+1<<20 {
		b.WriteString(pad)
	}
	b.WriteString(`msg="Running kube-apiserver --anonymous-auth=false --first=1"` + "\n")
	b.WriteString(`msg="Running kube-apiserver --anonymous-auth=false --profiling=false"` + "\n")
	if err := os.MkdirAll(filepath.Join(root, "var/log"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "var/log/k3s.log"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := Load(context.Background(), Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	f := n.Component(APIServer).Flags
	if _, ok := f.Get("old"); ok {
		t.Error("read a line beyond the tail bound")
	}
	if _, ok := f.Get("first"); ok {
		t.Error("used an earlier Running line, not the last")
	}
	if v, _ := f.Get("profiling"); v != "false" {
		t.Errorf("profiling = %q from the log", v)
	}
}

// TestNothingToAudit: a root where no Kubernetes component is found (an
// empty or unmounted host mount) is an error naming what was looked for,
// not 49 checks "not applicable".
func TestNothingToAudit(t *testing.T) {
	withProc := t.TempDir()
	if err := os.MkdirAll(filepath.Join(withProc, "proc", "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(withProc, "proc", "1", "cmdline"), []byte("/sbin/init\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		root string
		dist Distribution
		want []string
	}{
		{"empty root", t.TempDir(), "", []string{"nothing to audit", "kubeadm (/etc/kubernetes/manifests", "K3s (/etc/rancher/k3s/config.yaml", "MicroK8s (/var/snap/microk8s/current/args)", "/proc"}},
		{"no Kubernetes process", withProc, "", []string{"nothing to audit", withProc}},
		{"forced k3s", t.TempDir(), K3s, []string{"nothing to audit", "K3s's /etc/rancher/k3s/config.yaml"}},
		{"forced kubeadm", t.TempDir(), Kubeadm, []string{"nothing to audit", "kubeadm's static Pod manifests"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Load(context.Background(), Options{Root: tt.root, Distribution: tt.dist})
			if err != nil {
				t.Fatal(err)
			}
			r := Report(n, Evaluate(n, Checks()))
			if r.Summary.Errors != 1 {
				t.Fatalf("%d errors, want 1: %+v", r.Summary.Errors, r.Problems)
			}
			var msg string
			for _, p := range r.Problems {
				if p.Level == "error" {
					msg = p.Message
				}
				if strings.Contains(p.Message, "not applicable:") {
					t.Errorf("not-applicable note on an empty root: %s", p.Message)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
	if _, err := Load(context.Background(), Options{Root: filepath.Join(t.TempDir(), "unmounted")}); err == nil || !strings.Contains(err.Error(), "does not exist: nothing to audit") {
		t.Errorf("missing root: %v", err)
	}
	// A worker (kubelet only) is not empty.
	root, _ := copyTree(t, filepath.Join("testdata", "hosts", "kubeadm", "good"), true)
	if err := os.RemoveAll(filepath.Join(root, "etc/kubernetes/manifests")); err != nil {
		t.Fatal(err)
	}
	if n, err := Load(context.Background(), Options{Root: root}); err != nil || n.NothingFound() {
		t.Errorf("worker node: nothing found (%v)", err)
	}
}

// TestStaticPodEnvReference: a kubeadm API server whose authorization
// mode comes from the container's env ("--authorization-mode=$(AUTHZ)",
// AUTHZ=AlwaysAllow) passed CIS 1.2.6: the audit read "$(AUTHZ)", not
// AlwaysAllow. The reference is now expanded as the kubelet expands it;
// one to a valueFrom variable is an error naming the manifest (exit 2).
func TestStaticPodEnvReference(t *testing.T) {
	const manifest = "etc/kubernetes/manifests/kube-apiserver.yaml"
	for _, tc := range []struct {
		name, env string
		fails     bool   // node/apiserver-authorization-always-allow
		wantErr   string // an error problem on the manifest
	}{
		{name: "env value", env: "    env:\n    - {name: AUTHZ, value: AlwaysAllow}\n", fails: true},
		{name: "env value built from another", env: "    env:\n    - {name: A, value: Always}\n    - {name: AUTHZ, value: \"$(A)Allow\"}\n", fails: true},
		{name: "valueFrom", env: "    env:\n    - name: AUTHZ\n      valueFrom: {fieldRef: {fieldPath: metadata.name}}\n", wantErr: "uses $(AUTHZ), set from valueFrom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, _ := copyTree(t, filepath.Join("testdata", "hosts", "kubeadm", "good"), true)
			p := filepath.Join(root, manifest)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			s := regexp.MustCompile(`--authorization-mode=[^\s"]*`).ReplaceAllString(string(data), `--authorization-mode=$$(AUTHZ)`)
			s = strings.Replace(s, "  - command:\n", "  - "+strings.TrimPrefix(tc.env, "    ")+"    command:\n", 1)
			if s == string(data) || !strings.Contains(s, "$(AUTHZ)") || !strings.Contains(s, "AUTHZ,") && !strings.Contains(s, "name: AUTHZ") {
				t.Fatalf("fixture not edited:\n%s", s)
			}
			if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
			n, err := Load(context.Background(), Options{Root: root})
			if err != nil {
				t.Fatal(err)
			}
			r := Report(n, Evaluate(n, Checks()))
			failed := false
			for _, f := range r.Findings {
				failed = failed || f.RuleID == "node/apiserver-authorization-always-allow"
			}
			if failed != tc.fails {
				t.Errorf("always-allow failed %v, want %v", failed, tc.fails)
			}
			gotErr := false
			for _, pr := range r.Problems {
				if pr.Level == finding.LevelError && strings.Contains(pr.Message, tc.wantErr) && strings.HasSuffix(pr.File, manifest) {
					gotErr = true
				}
			}
			if tc.wantErr != "" && (!gotErr || r.Summary.Errors == 0) {
				t.Errorf("no error %q on %s: %+v", tc.wantErr, manifest, r.Problems)
			}
		})
	}
}
