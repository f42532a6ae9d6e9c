package nodeaudit

import (
	"reflect"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []Arg
	}{
		{"equals", []string{"--a=1", "-b=2"}, []Arg{{"a", "1"}, {"b", "2"}}},
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
