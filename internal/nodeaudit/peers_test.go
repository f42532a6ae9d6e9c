package nodeaudit

import (
	"os"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestKubeBenchPeers keeps internal/catalog/peers/kube-bench.yaml in step
// with the checks: every CIS item a check names lists that check, and every
// node check the file names exists and names that CIS item.
func TestKubeBenchPeers(t *testing.T) {
	data, err := os.ReadFile("../catalog/peers/kube-bench.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Checks []struct {
			ID       string   `json:"id"`
			Palisade []string `json:"palisade"`
		} `json:"checks"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	peers := map[string][]string{}
	for _, c := range f.Checks {
		peers[c.ID] = c.Palisade
	}
	byID := map[string]*Check{}
	checks := Checks()
	for i := range checks {
		c := &checks[i]
		byID[c.ID] = c
		for _, cis := range c.CIS {
			if !slices.Contains(peers[cis], c.ID) {
				t.Errorf("kube-bench.yaml: CIS %s does not list %s", cis, c.ID)
			}
		}
	}
	for id, ps := range peers {
		for _, p := range ps {
			if !strings.HasPrefix(p, "node/") {
				continue
			}
			c, ok := byID[p]
			switch {
			case !ok:
				t.Errorf("kube-bench.yaml: CIS %s names %s, which is no node check", id, p)
			case !slices.Contains(c.CIS, id):
				t.Errorf("kube-bench.yaml: CIS %s names %s, which does not cover it", id, p)
			}
		}
	}
}
