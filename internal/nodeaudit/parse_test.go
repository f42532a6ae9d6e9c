package nodeaudit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []Arg
	}{
		{"equals", []string{"--a=1", "-b=2"}, []Arg{{"a", "1"}}},
		{"verbosity shorthand", []string{"-v=2", "-v", "4"}, []Arg{{"v", "2"}, {"v", "4"}}},
		{"double dash ends flags", []string{"--a=1", "--", "--b=2"}, []Arg{{"a", "1"}}},
		{"bare bool before a word", []string{"--anonymous-auth", "false", "--x=1"}, []Arg{{"anonymous-auth", "true"}, {"x", "1"}}},
		{"separate value", []string{"--a", "1", "--b"}, []Arg{{"a", "1"}, {"b", "true"}}},
		{"bool flag never takes a word", []string{"--profiling", "server"}, []Arg{{"profiling", "true"}}},
		{"subcommand skipped", []string{"server", "--x=y"}, []Arg{{"x", "y"}}},
		{"value with equals", []string{"--feature-gates=A=true,B=false"}, []Arg{{"feature-gates", "A=true,B=false"}}},
		{"dashes only", []string{"--", "-", "--="}, []Arg{{"", ""}}[:0]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseArgs(tt.in)
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSplitWordsAndEnv(t *testing.T) {
	if got := SplitWords(`--a="x y" --b='z' c\ d`); !reflect.DeepEqual(got, []string{"--a=x y", "--b=z", "c d"}) {
		t.Errorf("SplitWords: %q", got)
	}
	env := ParseEnvFile([]byte("[Service]\nEnvironment=\"A=--x=1 --y=2\" \"B=3\"\n# c\nKUBELET_KUBEADM_ARGS=\"--k=v\"\n"))
	want := map[string]string{"A": "--x=1 --y=2", "B": "3", "KUBELET_KUBEADM_ARGS": "--k=v"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("ParseEnvFile: %v", env)
	}
}

func TestK3sConfigMerge(t *testing.T) {
	base, err := ParseK3sConfig([]byte("kube-apiserver-arg: [a=1]\nprotect-kernel-defaults: true\nnode-label: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	drop, err := ParseK3sConfig([]byte("kube-apiserver-arg+: [b=2]\nnode-label: zone-b\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := MergeK3sConfig(base, drop)
	if got := m.ComponentArgs("kube-apiserver-arg"); !reflect.DeepEqual(got, []Arg{{"a", "1"}, {"b", "2"}}) {
		t.Errorf("appended args: %v", got)
	}
	if v, _ := m.Get("node-label"); v != "zone-b" {
		t.Errorf("replaced key: %q", v)
	}
	if !m.Bool("protect-kernel-defaults") {
		t.Error("bool key")
	}
	if _, err := ParseK3sConfig([]byte("a: {b: c}\n")); err == nil {
		t.Error("a mapping value was accepted")
	}
	cli := K3sConfigFromArgs([]string{"server", "--kube-apiserver-arg=x=1", "--kube-apiserver-arg", "y=2"})
	if got := cli.ComponentArgs("kube-apiserver-arg"); !reflect.DeepEqual(got, []Arg{{"x", "1"}, {"y", "2"}}) {
		t.Errorf("from command line: %v", got)
	}
}

func TestParseStaticPod(t *testing.T) {
	argv, err := ParseStaticPod([]byte("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command: [kube-apiserver, --a=1]\n    args: [--b=2]\n"))
	if err != nil || !reflect.DeepEqual(argv, []string{"kube-apiserver", "--a=1", "--b=2"}) {
		t.Errorf("got %v, %v", argv, err)
	}
	for _, bad := range []string{"kind: Deployment\n", "kind: Pod\nspec: {containers: []}\n", "{{{"} {
		if _, err := ParseStaticPod([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestRunningLine(t *testing.T) {
	log := []byte("x\nk3s[1]: time=\"t\" level=info msg=\"Running kube-scheduler --profiling=false --bind-address=127.0.0.1\"\n")
	args, ok := RunningLine(log, "kube-scheduler")
	if !ok || !reflect.DeepEqual(args, []string{"--profiling=false", "--bind-address=127.0.0.1"}) {
		t.Errorf("got %v %v", args, ok)
	}
	if _, ok := RunningLine(log, "kube-apiserver"); ok {
		t.Error("found a component that is not there")
	}
}

// TestFlagSemantics: effective values as the components' flag parsers build
// them from one or more command lines.
func TestFlagSemantics(t *testing.T) {
	tests := []struct {
		name   string
		syntax Syntax
		lines  [][]string // command lines applied in order (defaults first)
		flag   string
		want   string
		warn   int
	}{
		{"scalar repeated: last wins", PFlag, [][]string{{"--profiling=false", "--profiling=true"}}, "profiling", "true", 0},
		{"separate value", PFlag, [][]string{{"--audit-log-path", "/var/log/a.log"}}, "audit-log-path", "/var/log/a.log", 0},
		{"list repeated: accumulates", PFlag, [][]string{{"--enable-admission-plugins=NodeRestriction", "--enable-admission-plugins=AlwaysPullImages"}}, "enable-admission-plugins", "NodeRestriction,AlwaysPullImages", 0},
		{"list in a later line replaces", PFlag, [][]string{{"--enable-admission-plugins=NodeRestriction"}, {"--enable-admission-plugins=EventRateLimit"}}, "enable-admission-plugins", "EventRateLimit", 0},
		{"authorization modes repeated", PFlag, [][]string{{"--authorization-mode=Node", "--authorization-mode=RBAC"}}, "authorization-mode", "Node,RBAC", 0},
		{"feature gates merge", PFlag, [][]string{{"--feature-gates=A=true,RotateKubeletServerCertificate=false", "--feature-gates=RotateKubeletServerCertificate=true"}}, "feature-gates", "A=true,RotateKubeletServerCertificate=true", 0},
		{"feature gates with a component", PFlag, [][]string{{"--feature-gates=kube:RotateKubeletServerCertificate=false"}}, "feature-gates", "kube:RotateKubeletServerCertificate=false", 0},
		{"underscores are dashes", PFlag, [][]string{{"--anonymous_auth=false"}}, "anonymous-auth", "false", 0},
		{"single-dash long flag refused by pflag", PFlag, [][]string{{"--anonymous-auth=true", "-anonymous-auth=false"}}, "anonymous-auth", "true", 1},
		{"single-dash long flag accepted by etcd", GoFlag, [][]string{{"-client-cert-auth=true"}}, "client-cert-auth", "true", 0},
		{"bool followed by false is true", PFlag, [][]string{{"--anonymous-auth", "false"}}, "anonymous-auth", "true", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Flags
			warns := 0
			for i, line := range tt.lines {
				args, w := ParseCommandLine(line, tt.syntax)
				warns += len(w)
				f.Merge(args, fmt.Sprint("line ", i))
			}
			if v, _ := f.Get(tt.flag); v != tt.want {
				t.Errorf("--%s = %q, want %q", tt.flag, v, tt.want)
			}
			if warns != tt.warn {
				t.Errorf("%d warnings, want %d", warns, tt.warn)
			}
		})
	}
}

func TestFlagBool(t *testing.T) {
	tests := []struct {
		value     string
		want, bad bool
	}{
		{"true", true, false}, {"1", true, false}, {"T", true, false}, {"False", false, false}, {"0", false, false}, {"f", false, false},
		{"yes", false, true}, {"", false, true},
	}
	for _, tt := range tests {
		var f Flags
		f.Set("anonymous-auth", tt.value, "x")
		v, set, err := f.Bool("anonymous-auth")
		if !set || v != tt.want || (err != nil) != tt.bad {
			t.Errorf("%q: got %v, %v, %v", tt.value, v, set, err)
		}
	}
}

func TestLocate(t *testing.T) {
	data := []byte("spec:\n  containers:\n  - command:\n    - kube-apiserver\n    - --profiling=true\n    - --profiling-x=1\n    - --client-ca-file=/ca\n    - --requestheader-client-ca-file=/fp\n")
	var f Flags
	f.Merge(ParseArgs([]string{"--profiling=true", "--profiling-x=1", "--client-ca-file=/ca", "--requestheader-client-ca-file=/fp"}), "m.yaml")
	f.Locate("m.yaml", data)
	for flag, want := range map[string]int{"profiling": 5, "profiling-x": 6, "client-ca-file": 7, "requestheader-client-ca-file": 8} {
		if s, _ := f.Lookup(flag); s.Line != want {
			t.Errorf("--%s: line %d, want %d", flag, s.Line, want)
		}
	}
}

func TestFeatureGates(t *testing.T) {
	g := FeatureGates("kube:RotateKubeletServerCertificate=false,etcd:InitialCorruptCheck=true,SeccompDefault=true")
	if g["RotateKubeletServerCertificate"] != "false" || g["SeccompDefault"] != "true" || len(g) != 2 {
		t.Errorf("gates %v", g)
	}
}

// TestRancherArgSyntax: the items of K3s's and RKE2's *-arg config keys
// resolve as k3s's util.GetArgs builds the command line (k3s-io/k3s
// pkg/util/args.go; K3s docs "Configuration File" and "Multiple config
// files"): a plain item replaces the distribution's own value, "name+=v"
// appends to it, "name-=v" prepends to it (it removes nothing), repeated
// items become repeated flags, and the component's flag parser then keeps
// the last value of a scalar flag and accumulates a list flag. The config
// files are the shapes the K3s documentation shows.
func TestRancherArgSyntax(t *testing.T) {
	const k3sCfg, k3sDrop = "etc/rancher/k3s/config.yaml", "etc/rancher/k3s/config.yaml.d/90-extra.yaml"
	const rke2Cfg = "etc/rancher/rke2/config.yaml"
	tests := []struct {
		name  string
		tree  string
		files map[string]string
		comp  ComponentName
		flag  string
		want  string
	}{
		{"plain item replaces k3s's plugins", "k3s", map[string]string{k3sCfg: "kube-apiserver-arg:\n  - enable-admission-plugins=AlwaysPullImages\n"},
			APIServer, "enable-admission-plugins", "AlwaysPullImages"},
		{"plain item naming NodeRestriction again", "k3s", map[string]string{k3sCfg: "kube-apiserver-arg:\n  - \"enable-admission-plugins=NodeRestriction,AlwaysPullImages\"\n"},
			APIServer, "enable-admission-plugins", "NodeRestriction,AlwaysPullImages"},
		{"+= appends to k3s's plugins", "k3s", map[string]string{k3sCfg: "kube-apiserver-arg:\n  - enable-admission-plugins+=AlwaysPullImages\n"},
			APIServer, "enable-admission-plugins", "NodeRestriction,AlwaysPullImages"},
		{"-= prepends to k3s's plugins, removing nothing", "k3s", map[string]string{k3sCfg: "kube-apiserver-arg:\n  - enable-admission-plugins-=AlwaysPullImages\n"},
			APIServer, "enable-admission-plugins", "AlwaysPullImages,NodeRestriction"},
		{"two plain items are two flags of a list", "k3s", map[string]string{k3sCfg: "kube-apiserver-arg:\n  - enable-admission-plugins=AlwaysPullImages\n  - enable-admission-plugins=DenyServiceExternalIPs\n"},
			APIServer, "enable-admission-plugins", "AlwaysPullImages,DenyServiceExternalIPs"},
		{"+= after a plain item: k3s's own value is already gone", "k3s", map[string]string{k3sCfg: "kube-apiserver-arg:\n  - enable-admission-plugins=AlwaysPullImages\n  - enable-admission-plugins+=DenyServiceExternalIPs\n"},
			APIServer, "enable-admission-plugins", "AlwaysPullImages,DenyServiceExternalIPs"},
		{"scalar += wins over k3s's value", "k3s", map[string]string{k3sCfg: "kube-apiserver-arg:\n  - anonymous-auth+=true\n"},
			APIServer, "anonymous-auth", "true"},
		{"scalar -= loses to k3s's value", "k3s", map[string]string{k3sCfg: "kube-apiserver-arg:\n  - anonymous-auth-=true\n"},
			APIServer, "anonymous-auth", "false"},
		{"scalar plain item replaces k3s's value", "k3s", map[string]string{k3sCfg: "kube-apiserver-arg:\n  - --anonymous-auth=true\n"},
			APIServer, "anonymous-auth", "true"},
		{"bare item is true", "k3s", map[string]string{k3sCfg: "kube-apiserver-arg: [profiling]\n"},
			APIServer, "profiling", "true"},
		{"scalar key instead of a list", "k3s", map[string]string{k3sCfg: "kubelet-arg: \"read-only-port=10255\"\n"},
			Kubelet, "read-only-port", "10255"},
		{"drop-in key+ appends items after config.yaml's", "k3s", map[string]string{
			k3sCfg:  "kube-apiserver-arg:\n  - enable-admission-plugins=AlwaysPullImages\n",
			k3sDrop: "kube-apiserver-arg+:\n  - enable-admission-plugins+=NodeRestriction\n"},
			APIServer, "enable-admission-plugins", "AlwaysPullImages,NodeRestriction"},
		{"drop-in key without + replaces config.yaml's items", "k3s", map[string]string{
			k3sCfg:  "kube-apiserver-arg:\n  - enable-admission-plugins+=AlwaysPullImages\n",
			k3sDrop: "kube-apiserver-arg:\n  - profiling=true\n"},
			APIServer, "enable-admission-plugins", "NodeRestriction"},
		{"feature gates -= merge, the later key wins", "k3s", map[string]string{k3sCfg: "kubelet-arg:\n  - feature-gates=RotateKubeletServerCertificate=false\n  - feature-gates-=RotateKubeletServerCertificate=true\n"},
			Kubelet, "feature-gates", "RotateKubeletServerCertificate=false"},
		{"rke2 kubelet-arg += on a scalar default", "rke2", map[string]string{rke2Cfg: "kubelet-arg:\n  - read-only-port+=10255\n"},
			Kubelet, "read-only-port", "10255"},
		{"rke2 kubelet-arg -= on a scalar default", "rke2", map[string]string{rke2Cfg: "kubelet-arg:\n  - anonymous-auth-=true\n"},
			Kubelet, "anonymous-auth", "false"},
		{"rke2 profile cis keeps protect-kernel-defaults", "rke2", map[string]string{rke2Cfg: "profile: cis\nkubelet-arg:\n  - protect-kernel-defaults-=false\n"},
			Kubelet, "protect-kernel-defaults", "true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _ := copyTree(t, filepath.Join("testdata", "hosts", tt.tree, "good"), true)
			// Without k3s's log the command line is assembled from the
			// configuration, which is what is tested here.
			_ = os.Remove(filepath.Join(root, "var/log/k3s.log"))
			_ = os.RemoveAll(filepath.Join(root, "etc/rancher/k3s/config.yaml.d"))
			for p, data := range tt.files {
				writeFile(t, filepath.Join(root, p), data)
			}
			n, err := Load(context.Background(), Options{Root: root})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range n.Problems {
				if p.Level == finding.LevelError {
					t.Errorf("problem: %s: %s", p.File, p.Message)
				}
			}
			if v, _ := n.Component(tt.comp).Flags.Get(tt.flag); v != tt.want {
				t.Errorf("%s --%s = %q, want %q", tt.comp, tt.flag, v, tt.want)
			}
		})
	}
}

// TestRancherArgChecks: the resolved flags decide the checks, with the
// config file as the source.
func TestRancherArgChecks(t *testing.T) {
	tests := []struct {
		item  string
		check string
		fails bool
	}{
		{"enable-admission-plugins=AlwaysPullImages", "node/apiserver-admission-node-restriction", true},
		{"enable-admission-plugins-=AlwaysPullImages", "node/apiserver-admission-node-restriction", false},
		{"enable-admission-plugins+=AlwaysPullImages", "node/apiserver-admission-node-restriction", false},
		{"anonymous-auth+=true", "node/apiserver-anonymous-auth", true},
		{"anonymous-auth-=true", "node/apiserver-anonymous-auth", false},
	}
	for _, tt := range tests {
		t.Run(tt.item, func(t *testing.T) {
			root, _ := copyTree(t, filepath.Join("testdata", "hosts", "k3s", "good"), true)
			_ = os.Remove(filepath.Join(root, "var/log/k3s.log"))
			writeFile(t, filepath.Join(root, "etc/rancher/k3s/config.yaml"), "kube-apiserver-arg:\n  - "+tt.item+"\n")
			n, err := Load(context.Background(), Options{Root: root})
			if err != nil {
				t.Fatal(err)
			}
			failed := false
			for _, o := range Evaluate(n, Checks()) {
				for _, r := range o.Results {
					if r.CheckID == tt.check && r.Status == Fail {
						failed = true
						if !strings.Contains(r.File, "k3s config") {
							t.Errorf("source %q, want the k3s config", r.File)
						}
					}
				}
			}
			if failed != tt.fails {
				t.Errorf("%s failed = %v, want %v", tt.check, failed, tt.fails)
			}
		})
	}
}

// TestParseStaticPodEnvRefs: the kubelet expands "$(NAME)" in a
// container's command and args from its env. The audit read
// "--authorization-mode=$(AUTHZ)" literally, so with AUTHZ=AlwaysAllow
// CIS 1.2.6 passed. References are now expanded as the kubelet does; one
// to a valueFrom variable (known only at run time) is an error naming it.
func TestParseStaticPodEnvRefs(t *testing.T) {
	pod := func(env string, args ...string) []byte {
		return []byte("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: kube-apiserver\n    env:\n" + env +
			"    command: [kube-apiserver]\n    args: [" + strings.Join(args, ", ") + "]\n")
	}
	tests := []struct {
		name    string
		data    []byte
		want    []string
		wantErr string
	}{
		{name: "value", data: pod("    - {name: AUTHZ, value: AlwaysAllow}\n", `"--authorization-mode=$(AUTHZ)"`),
			want: []string{"kube-apiserver", "--authorization-mode=AlwaysAllow"}},
		{name: "a value built from an earlier one", data: pod("    - {name: A, value: Always}\n    - {name: B, value: \"$(A)Allow\"}\n", `"--authorization-mode=Node,$(B)"`),
			want: []string{"kube-apiserver", "--authorization-mode=Node,AlwaysAllow"}},
		{name: "escaped and undefined stay", data: pod("    - {name: A, value: x}\n", `"--a=$$(A)"`, `"--b=$(NOPE)"`, `"--c=$"`, `"--d=$(A"`),
			want: []string{"kube-apiserver", "--a=$(A)", "--b=$(NOPE)", "--c=$", "--d=$(A"}},
		{name: "valueFrom", data: pod("    - name: AUTHZ\n      valueFrom: {fieldRef: {fieldPath: \"metadata.annotations['authz']\"}}\n", `"--authorization-mode=$(AUTHZ)"`),
			wantErr: `"--authorization-mode=$(AUTHZ)" uses $(AUTHZ), set from valueFrom`},
		{name: "a value built from a valueFrom one", data: pod("    - name: A\n      valueFrom: {fieldRef: {fieldPath: status.podIP}}\n    - {name: B, value: \"$(A)\"}\n", `"--advertise-address=$(B)"`),
			wantErr: "uses $(B), set from valueFrom"},
	}
	for _, tc := range tests {
		got, err := ParseStaticPod(tc.data)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
