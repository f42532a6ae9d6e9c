package rule

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

// mappedSet is a set whose rules carry framework mappings and peers.
func mappedSet(t *testing.T) *Set {
	t.Helper()
	priv := testRule("p/privileged", nil, "pss-baseline")
	priv.Frameworks = finding.Frameworks{CIS: []string{"5.2.2"}, NSA: []string{"pod-security.enforcement"}, MITRE: []string{"T1611"}, PSS: []string{"baseline/privileged-containers"}}
	priv.Peers = []finding.PeerCheck{{Tool: "trivy", ID: "KSV-0017"}, {Tool: "kubescape", ID: "C-0057"}, {Tool: "polaris", ID: "privilegeEscalationAllowed"}}
	rbac := testRule("r/secrets-read", nil, "rbac")
	rbac.Frameworks = finding.Frameworks{CIS: []string{"5.1.2"}, NSA: []string{"authz.rbac"}}
	rbac.Peers = []finding.PeerCheck{{Tool: "trivy", ID: "AVD-KSV-0041"}}
	plain := testRule("h/cpu", nil, "hardening")
	s, err := NewSet(priv, rbac, plain)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSelectByFrameworkAndPeer(t *testing.T) {
	s := mappedSet(t)
	for _, tc := range []struct {
		sel  []string
		want string
	}{
		{[]string{"ksv-0017"}, "p/privileged"},
		{[]string{"AVD-KSV-0017"}, "p/privileged"},
		{[]string{"ksv-0041"}, "r/secrets-read"},
		{[]string{"trivy:ksv-00*"}, "p/privileged,r/secrets-read"},
		{[]string{"kubescape:KSV-0017"}, ""},
		{[]string{"c-0057"}, "p/privileged"},
		{[]string{"PRIVILEGEESCALATIONALLOWED"}, "p/privileged"},
		{[]string{"cis-5.2.*"}, "p/privileged"},
		{[]string{"CIS:5.1.2"}, "r/secrets-read"},
		{[]string{"cis"}, "p/privileged,r/secrets-read"},
		{[]string{"nsa"}, "p/privileged,r/secrets-read"},
		{[]string{"nsa:authz.*"}, "r/secrets-read"},
		{[]string{"mitre:T1611"}, "p/privileged"},
		{[]string{"mitre-t1611"}, "p/privileged"},
		{[]string{"pss:baseline/*"}, "p/privileged"},
		{[]string{"pss-baseline"}, "p/privileged"},
		{[]string{"-nsa"}, "h/cpu"},
	} {
		got, err := s.Select(tc.sel)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%v: selected %s, want an error", tc.sel, ids(got))
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.sel, err)
			continue
		}
		if ids(got) != tc.want {
			t.Errorf("%v: selected %s, want %s", tc.sel, ids(got), tc.want)
		}
	}
}

func TestUnknownFrameworkOrPeerSelectorIsAnError(t *testing.T) {
	s := mappedSet(t)
	for _, sel := range []string{"ksv-9999", "cis-9.*", "mitre:T9999", "pci"} {
		if _, err := s.Select([]string{sel}); err == nil {
			t.Errorf("%s: selected something", sel)
		}
	}
}

func TestExemptionByPeerID(t *testing.T) {
	s := mappedSet(t)
	if !s.Matches([]string{"KSV-0017"}, "p/privileged") || s.Matches([]string{"KSV-0017"}, "h/cpu") {
		t.Error("a peer ID must designate exactly the rules that implement it")
	}
}
