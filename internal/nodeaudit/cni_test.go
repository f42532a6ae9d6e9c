package nodeaudit

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestCNIFiles: CIS 1.12's 1.1.9 covers the CNI configuration and, as the
// K3s CIS 1.12 self-assessment audits it, the host-local IPAM files of
// /var/lib/cni/networks, whose lock files are 0750 by design and are not
// judged.
func TestCNIFiles(t *testing.T) {
	tests := []struct {
		name  string
		modes map[string]os.FileMode
		fails []string
	}{
		{name: "secure, lock file 0750", modes: map[string]os.FileMode{"var/lib/cni/networks/cbr0/lock": 0o750}},
		{name: "IPAM file readable by others", modes: map[string]os.FileMode{"var/lib/cni/networks/cbr0/10.42.0.5": 0o644, "var/lib/cni/networks/cbr0/lock": 0o750},
			fails: []string{"/var/lib/cni/networks/cbr0/10.42.0.5"}},
		{name: "flannel configuration readable by others", modes: map[string]os.FileMode{"var/lib/rancher/k3s/agent/etc/cni/net.d/10-flannel.conflist": 0o644},
			fails: []string{"/var/lib/rancher/k3s/agent/etc/cni/net.d/10-flannel.conflist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _ := copyTree(t, filepath.Join("testdata", "hosts", "k3s", "good"), true)
			for p, m := range tt.modes {
				if err := os.Chmod(filepath.Join(root, p), m); err != nil {
					t.Fatal(err)
				}
			}
			n, err := Load(context.Background(), Options{Root: root})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range Evaluate(n, Checks()) {
				if o.Check.ID != "node/file-cni-permissions" {
					continue
				}
				for _, r := range o.Results {
					if r.Status == Fail {
						got = append(got, r.File)
					}
				}
			}
			if len(got) != len(tt.fails) || (len(got) > 0 && got[0] != tt.fails[0]) {
				t.Errorf("failed files %q, want %q", got, tt.fails)
			}
		})
	}
}
