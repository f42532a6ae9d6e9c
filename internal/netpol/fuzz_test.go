package netpol

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzPolicyParser feeds arbitrary documents through the loader, the policy
// compiler and the analysis: they may report problems, never panic, and
// every connection they print must parse back.
func FuzzPolicyParser(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz/*.yaml")
	scen, _ := filepath.Glob("testdata/scenarios/*/input.yaml")
	dumps, _ := filepath.Glob("testdata/scenarios/*/*.json")
	scen = append(scen, dumps...)
	for _, p := range append(seeds, scen...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Fuzz(func(t *testing.T, doc string) {
		if len(doc) > 64<<10 {
			return
		}
		ctx := context.Background()
		m, _, err := Load(ctx, []string{"-"}, strings.NewReader(doc), "")
		if err != nil {
			return
		}
		if len(m.Peers) > 50 {
			return
		}
		c, err := Analyze(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range c.Connections {
			back, err := ParseConns(x.Conns.String())
			if err != nil || !back.Equal(x.Conns) {
				t.Fatalf("%q does not parse back: %v", x.Conns.String(), err)
			}
		}
		_ = Findings(m)
		for _, p := range m.Peers {
			_ = m.Focus(p)
			break
		}
	})
}

// FuzzCompileAdminPolicy feeds arbitrary JSON to the admin policy decoder:
// it may reject it, never panic, and what it accepts must evaluate.
func FuzzCompileAdminPolicy(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz/admin/*.json")
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		p, err := CompileAdminPolicy(data)
		if err != nil {
			return
		}
		if len(p.Ingress) > maxAdminRules || len(p.Egress) > maxAdminRules {
			t.Fatalf("%d ingress and %d egress rules accepted", len(p.Ingress), len(p.Egress))
		}
		for _, r := range append(append([]*AdminRule{}, p.Ingress...), p.Egress...) {
			_ = r.conns(nil)
			_ = r.String()
		}
	})
}

// FuzzCompileClusterNetworkPolicy feeds arbitrary JSON to the v1alpha2
// decoder: it may reject it, never panic; what it accepts is within the
// schema's bounds and evaluates, against nodes and without them.
func FuzzCompileClusterNetworkPolicy(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz/cnp/*.json")
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		p, err := CompileClusterNetworkPolicy(data)
		if err != nil {
			return
		}
		if len(p.Ingress) > maxCNPItems || len(p.Egress) > maxCNPItems || p.Priority < 0 || p.Priority > 1000 || (p.Tier != TierAdmin && p.Tier != TierBaseline) {
			t.Fatalf("out of bounds accepted: tier %q priority %d, %d ingress and %d egress rules", p.Tier, p.Priority, len(p.Ingress), len(p.Egress))
		}
		for _, known := range []bool{false, true} {
			m := &Model{NodesKnown: known, Nodes: []*Node{{Name: "n", Labels: map[string]string{"a": "b"}, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}}}
			for _, r := range append(append([]*AdminRule{}, p.Ingress...), p.Egress...) {
				m.resolveNodes(r)
				if r.Action == ActionDeny && len(r.domains) > 0 {
					t.Fatalf("%s: a Deny rule with domain names accepted", r)
				}
				_ = r.conns(nil)
				_ = r.String()
			}
		}
	})
}
