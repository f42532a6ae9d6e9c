package nodeaudit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// Seeds come from the fixture trees and testdata/fuzz/<FuzzName>/ (Go's
// corpus format); the readers must never panic and never hang on any input.

func addFixtureSeeds(f *testing.F, glob string) {
	matches, _ := filepath.Glob(filepath.Join("testdata", "hosts", "*", "*", glob))
	for _, m := range matches {
		if data, err := os.ReadFile(m); err == nil {
			f.Add(data)
		}
	}
}

func FuzzParseK3sConfig(f *testing.F) {
	addFixtureSeeds(f, "etc/rancher/k3s/config.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseK3sConfig(data)
		if err != nil {
			return
		}
		m := MergeK3sConfig(c, c)
		extra := m.ComponentArgs("kube-apiserver-arg")
		_ = m.Bool("secrets-encryption")
		// Every item, however written, becomes at most one flag of the
		// command line, never an empty or suffixed name.
		line := RancherLine([]Part{{[]Arg{{"enable-admission-plugins", "NodeRestriction"}, {"anonymous-auth", "false"}}, "default"}}, extra, "config")
		if len(line) > len(extra)+2 {
			t.Fatalf("%d flags from %d items", len(line), len(extra))
		}
		var f Flags
		f.MergeLine(line...)
		for _, name := range f.Names() {
			if name == "" || strings.HasSuffix(name, "+") || strings.HasSuffix(name, "-") {
				t.Fatalf("flag name %q from %q", name, data)
			}
		}
	})
}

func FuzzParseArgsFile(f *testing.F) {
	addFixtureSeeds(f, "var/snap/microk8s/current/args/*")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, a := range ParseArgsFile(data, map[string]string{"SNAP_DATA": "/var/snap/microk8s/current"}) {
			if a.Name == "" {
				t.Fatalf("empty flag name from %q", data)
			}
		}
		_ = ParseEnvFile(data)
	})
}

func FuzzParseStaticPod(f *testing.F) {
	addFixtureSeeds(f, "etc/kubernetes/manifests/*.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		argv, err := ParseStaticPod(data)
		if err != nil {
			return
		}
		if len(argv) > 0 {
			_ = ParseArgs(argv[1:])
		}
		_, _ = RunningLine(data, "kube-apiserver")
	})
}

// FuzzParseCommandLine: tokens (NUL-separated) under both flag syntaxes,
// applied as one command line and as a later layer; feature gates read.
func FuzzParseCommandLine(f *testing.F) {
	f.Add([]byte("--enable-admission-plugins=A\x00--enable-admission-plugins=B\x00--feature-gates=kube:X=false,Y=true\x00--anonymous-auth\x00false"))
	f.Add([]byte("-anonymous_auth=false\x00--\x00--x=1\x00-v\x004\x00--a+=b"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tokens := strings.Split(string(data), "\x00")
		for _, syntax := range []Syntax{PFlag, GoFlag} {
			args, _ := ParseCommandLine(tokens, syntax)
			var fl Flags
			fl.Merge(args, "a")
			fl.Merge(args, "b")
			for _, name := range fl.Names() {
				if name == "" {
					t.Fatalf("empty flag name from %q", data)
				}
				_, _, _ = fl.Bool(name)
			}
			v, _ := fl.Get("feature-gates")
			_ = FeatureGates(v)
		}
	})
}

// FuzzAPIServerFiles: the authorization, authentication, audit policy and
// admission configuration files the API server's flags name.
func FuzzAPIServerFiles(f *testing.F) {
	for _, p := range []string{"testdata/hosts/kubeadm/good/etc/kubernetes/audit-policy.yaml", "testdata/hosts/k3s/good/var/lib/rancher/k3s/server/psa.yaml",
		"testdata/hosts/rke2/good/etc/rancher/rke2/rke2-pss.yaml"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("kind: AuthorizationConfiguration\nauthorizers:\n- type: Node\n"))
	f.Add([]byte("kind: AuthenticationConfiguration\nanonymous:\n  enabled: true\n  conditions:\n  - path: /livez\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var files APIServerFiles
		for _, flag := range apiServerFileFlags {
			files.Parse(flag, "/f", data)
		}
		if a := files.Admission; a != nil && (len(a.Plugins) > maxConfigItems || len(a.EventRateLimits) > maxConfigItems) {
			t.Fatalf("unbounded admission plugins from %q", data)
		}
		if len(files.AuthorizationModes) > maxConfigItems || len(files.AnonymousPaths) > maxConfigItems {
			t.Fatalf("unbounded items from %q", data)
		}
		_ = yamlKeyLines(data, "/f")
	})
}

// FuzzEtcdConfigFile: any etcd configuration file (K3s's, RKE2's, or one
// --config-file names) is read without panicking, and never yields a flag
// etcd would not see: no "+"/"-" suffixed name, and TLS flags only from
// the transport security sections.
func FuzzEtcdConfigFile(f *testing.F) {
	addFixtureSeeds(f, "var/lib/rancher/*/server/db/etcd/config")
	f.Fuzz(func(t *testing.T, data []byte) {
		n := &Node{}
		c := &Component{Name: Etcd}
		if err := mergeEtcdConfigFile(n, c, data, "/etcd.conf"); err != nil {
			return
		}
		for _, name := range c.Flags.Names() {
			if name == "" || strings.HasSuffix(name, "+") || strings.HasSuffix(name, "-") {
				t.Fatalf("flag name %q from %q", name, data)
			}
		}
		if v, ok := c.Flags.Get("client-cert-auth"); ok && !strings.Contains(string(data), "client-transport-security") {
			t.Fatalf("client-cert-auth=%s without a client-transport-security section in %q", v, data)
		}
	})
}

// FuzzComponentConfigType: any decoded configuration is judged without a
// panic, and one naming a kind other than the component's is refused.
func FuzzComponentConfigType(f *testing.F) {
	f.Add([]byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"))
	f.Add([]byte("apiVersion: apps/v1\nkind: Deployment\n"))
	f.Add([]byte("kind: [1, {a: b}]\napiVersion: {x: 1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var cfg map[string]any
		if yaml.Unmarshal(data, &cfg) != nil {
			return
		}
		for _, name := range []ComponentName{Kubelet, Scheduler, KubeProxy} {
			want, _ := configTypeOf(name)
			err := checkConfigType(name, cfg)
			if k, ok := cfg["kind"].(string); ok && k != want.kind && err == nil {
				t.Errorf("%s: kind %q accepted", name, k)
			}
		}
	})
}
