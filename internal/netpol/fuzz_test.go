package netpol

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	kjson "sigs.k8s.io/json"
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

// FuzzStrictPolicyFields holds the strict field check to its purpose: a
// NetworkPolicy it accepts decodes to the same policy under the
// inventory's rules (encoding/json: names matched without regard to case,
// unknown fields skipped) as under the API server's (sigs.k8s.io/json:
// case-sensitive), so what is analysed is what the cluster would hold.
func FuzzStrictPolicyFields(f *testing.F) {
	f.Add(`{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"p"},"spec":{"podSelector":{},"ingress":[{"from":[{"podSelector":{}}]}]}}`)
	f.Add(`{"spec":{"podSelector":{},"Ingress":[{}]}}`)
	f.Add(`{"spec":{"ingres":[{}],"egress":[{"ports":[{"port":"dns","protocol":"UDP"}]}]},"status":{}}`)
	f.Add(`{"spec":{"podSelector":{"matchLabels":{"a":"b"}},"policyTypes":["Egress"],"egress":[{"to":[{"ipBlock":{"cidr":"10.0.0.0/8","except":["10.1.0.0/16"]}}],"ports":[{"port":80,"endPort":90}]}]}}`)
	f.Fuzz(func(t *testing.T, doc string) {
		if len(doc) > 16<<10 {
			return
		}
		if strictPolicyFields([]byte(doc)) != nil {
			return
		}
		var loose, exact networkingv1.NetworkPolicy
		errLoose := json.Unmarshal([]byte(doc), &loose)
		errExact := kjson.UnmarshalCaseSensitivePreserveInts([]byte(doc), &exact)
		if errLoose != nil || errExact != nil {
			return
		}
		if !reflect.DeepEqual(loose, exact) {
			t.Fatalf("accepted, yet the decoders disagree:\nencoding/json: %+v\ncase-sensitive: %+v", loose, exact)
		}
	})
}
