package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNetpolCommands runs the netpol commands on the bundled example as a
// user would: analyze, generate (whose proof must pass), and diff of the
// current policies against the generated ones.
func TestNetpolCommands(t *testing.T) {
	root := filepath.Join("..", "..", "examples", "netpol")
	shop := filepath.Join(root, "shop")

	out, stderr, code := palisade(t, "", "netpol", "analyze", shop)
	if code != exitClean || !strings.Contains(out, " => ") {
		t.Fatalf("analyze: exit %d, stderr %s, out %q", code, stderr, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(line, " => ") || !strings.Contains(line, " : ") {
			t.Errorf("analyze line not in '<src> => <dst> : <conns>' form: %q", line)
		}
	}

	gen, stderr, code := palisade(t, "", "netpol", "generate", "--requirements", filepath.Join(root, "requirements.yaml"), shop)
	if code != exitClean || !strings.Contains(gen, "kind: NetworkPolicy") {
		t.Fatalf("generate: exit %d, stderr %s", code, stderr)
	}
	genFile := filepath.Join(t.TempDir(), "generated.yaml")
	if err := os.WriteFile(genFile, []byte(gen), 0o600); err != nil {
		t.Fatal(err)
	}

	// The generated policies, on the example's workloads, must allow less
	// than the example's current, looser policies: diff says what goes.
	tight := t.TempDir()
	for _, f := range []string{"namespaces.yaml", "services.yaml", "workloads.yaml"} {
		b, err := os.ReadFile(filepath.Join(shop, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tight, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(tight, "policies.yaml"), []byte(gen), 0o600); err != nil {
		t.Fatal(err)
	}
	diff, stderr, code := palisade(t, "", "netpol", "diff", shop, tight)
	if code != exitFindings || !strings.Contains(diff, "removed: ") {
		t.Errorf("diff old → generated: exit %d, stderr %s, out %q", code, stderr, diff)
	}
	if _, _, code := palisade(t, "", "netpol", "diff", shop, shop); code != exitClean {
		t.Errorf("diff of identical inputs: exit %d", code)
	}
	if _, stderr, code := palisade(t, "", "netpol", "diff", shop, filepath.Join(t.TempDir(), "missing")); code != exitError || !strings.Contains(stderr, "missing") {
		t.Errorf("diff with a missing path: exit %d, stderr %s", code, stderr)
	}

	for _, format := range []string{"json", "csv", "md", "dot"} {
		if out, stderr, code := palisade(t, "", "netpol", "analyze", shop, "-o", format); code != exitClean || out == "" {
			t.Errorf("analyze -o %s: exit %d, stderr %s", format, code, stderr)
		}
	}
	if _, stderr, code := palisade(t, "", "netpol", "analyze"); code != exitError || stderr == "" {
		t.Errorf("analyze without input: exit %d", code)
	}
}

// TestNetpolRealInput runs netpol analyze on inputs as clusters produce
// them: pods are shown as their owners, input it cannot model is an error
// (exit 2) while the rest is still printed, and implicit namespaces are
// notes (exit 0).
func TestNetpolRealInput(t *testing.T) {
	scen := filepath.Join("..", "..", "internal", "netpol", "testdata", "scenarios")
	for _, tc := range []struct {
		name, dir string
		args      []string
		code      int
		out       []string
		stderr    []string
	}{
		{"pods folded", "10-pods-folded-into-owners", nil, exitClean,
			[]string{"shop/web-7d4b9c6f5[ReplicaSet] => shop/db[StatefulSet] : TCP 5432,9187\n"},
			[]string{`note: ` /* location */, `namespace "shop" has no Namespace object`}},
		{"focus on an owner", "10-pods-folded-into-owners", []string{"--focus", "shop/web-7d4b9c6f5"}, exitClean,
			[]string{"shop/web-7d4b9c6f5[ReplicaSet] => shop/db[StatefulSet] : ALLOWED TCP 5432,9187"}, nil},
		{"findings name owners", "10-pods-folded-into-owners", []string{"--findings", "-o", "json"}, exitClean,
			[]string{`"kind": "ReplicaSet"`, `"name": "web-7d4b9c6f5"`}, nil},
		{"unmodelled kinds", "14-unmodelled-kinds", nil, exitError,
			[]string{"shop/web[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections\n"},
			[]string{"error: ", "ClusterNetworkPolicy cluster-control: apiVersion \"policy.networking.k8s.io/v1beta1\" is not policy.networking.k8s.io/v1alpha2", "Ingress shop/web"}},
		{"unmodelled kinds with findings", "14-unmodelled-kinds", []string{"--findings"}, exitError, nil,
			[]string{"CiliumNetworkPolicy shop/l7"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"netpol", "analyze", filepath.Join(scen, tc.dir, "input.yaml")}, tc.args...)
			out, stderr, code := palisade(t, "", args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %s", code, tc.code, stderr)
			}
			for _, s := range tc.out {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			if strings.Contains(out, "-2xkqp") {
				t.Errorf("output names a pod of a folded owner:\n%s", out)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
		})
	}
}

// Input with no object at all (an empty directory, a values file only) is
// nothing analysed: exit 2, never an empty connectivity list or "No
// findings" with exit 0.
func TestNetpolNothingToAnalyse(t *testing.T) {
	empty := t.TempDir()
	values := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(values, []byte("replicaCount: 2\nimage: {repository: nginx}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reqs := filepath.Join(t.TempDir(), "requirements.yaml")
	if err := os.WriteFile(reqs, []byte("apiVersion: palisade.io/v1alpha1\nkind: NetworkRequirements\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"netpol", "analyze", empty},
		{"netpol", "analyze", "--findings", empty},
		{"netpol", "analyze", values},
		{"netpol", "generate", "--requirements", reqs, empty},
	} {
		_, stderr, code := palisade(t, "", args...)
		if code != exitError || !strings.Contains(stderr, "nothing to analyse") {
			t.Errorf("%v: exit %d, stderr %q; want exit %d, nothing to analyse", args, code, stderr, exitError)
		}
	}
}
