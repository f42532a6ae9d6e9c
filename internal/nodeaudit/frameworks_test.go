package nodeaudit

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/catalog/frameworks"
)

// TestFrameworkMappings: every automated check maps to CIS (except the
// one the K3s hardening guide alone asks for), NSA/CISA and MITRE ATT&CK
// where the threat is one, and every ID it names is a control of the
// framework definitions in internal/catalog/frameworks.
func TestFrameworkMappings(t *testing.T) {
	for _, c := range Checks() {
		m := c.Frameworks()
		if len(m.CIS) == 0 && c.K3s == nil {
			t.Errorf("%s: no CIS section and no K3s reference", c.ID)
		}
		if len(m.NSA) == 0 && !c.Manual && c.ID != "node/kubelet-protect-kernel-defaults" {
			t.Errorf("%s: no NSA/CISA section", c.ID)
		}
		for _, fw := range []string{"cis", "nsa", "mitre"} {
			f, err := frameworks.Get(fw)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			switch fw {
			case "cis":
				ids = m.CIS
			case "nsa":
				ids = m.NSA
			case "mitre":
				ids = m.MITRE
			}
			for _, id := range ids {
				if f.Control(id) == nil {
					t.Errorf("%s: %s control %q is not defined in internal/catalog/frameworks", c.ID, fw, id)
				}
			}
		}
		if c.Info().Frameworks.IsZero() {
			t.Errorf("%s: Info carries no framework mapping", c.ID)
		}
	}
}
