package catalog

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/catalog/peers"
)

// TestCoverageCell: a mapping's note follows its checks on the same table
// row, so docs/coverage.md says where Palisade differs from the peer.
func TestCoverageCell(t *testing.T) {
	tests := []struct {
		name string
		pc   peers.Check
		want string
	}{
		{"implemented", peers.Check{Palisade: []string{"rbac/exec"}}, "[`rbac/exec`](rules.md#rbacexec)"},
		{"implemented with a note", peers.Check{Palisade: []string{"rbac/exec", "cluster/dangling-role-binding"}, Note: "scan cluster | only\nhere"},
			"[`rbac/exec`](rules.md#rbacexec), [`cluster/dangling-role-binding`](rules.md#clusterdangling-role-binding) — scan cluster \\| only here"},
		{"not implemented", peers.Check{Reason: "obsolete: PodSecurityPolicy"}, "not implemented: obsolete: PodSecurityPolicy"},
		{"covered by another", peers.Check{Reason: "covered-by rbac/exec: same grant"}, "covered by [`rbac/exec`](rules.md#rbacexec): same grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := coverageCell(tt.pc); got != tt.want {
				t.Errorf("coverageCell = %q, want %q", got, tt.want)
			}
		})
	}
}
