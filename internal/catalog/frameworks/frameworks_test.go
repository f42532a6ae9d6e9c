package frameworks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

func TestEmbeddedFrameworksLoad(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, f := range all {
		got[f.ID] = len(f.Controls)
	}
	for _, id := range []string{"cis", "nsa", "mitre", "pss-baseline", "pss-restricted", "edge"} {
		if got[id] == 0 {
			t.Errorf("framework %s missing or empty", id)
		}
	}
	if _, err := Get("CIS"); err != nil {
		t.Errorf("Get is case-insensitive: %v", err)
	}
	if _, err := Get("pci"); err == nil {
		t.Error("unknown framework accepted")
	}
}

func TestRestrictedIncludesBaseline(t *testing.T) {
	b, _ := Get("pss-baseline")
	r, _ := Get("pss-restricted")
	for _, c := range b.Controls {
		if r.Control(c.ID) == nil {
			t.Errorf("restricted lacks baseline control %s", c.ID)
		}
	}
}

func TestNamed(t *testing.T) {
	cis, _ := Get("cis")
	got := cis.Named(finding.Frameworks{CIS: []string{"5.2.2", "9.9.9"}, NSA: []string{"network.policies"}})
	if strings.Join(got, ",") != "5.2.2" {
		t.Errorf("Named = %v, want only the defined CIS section", got)
	}
}

func TestParseRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"no id":          "title: x\ncontrols: [{id: a, title: b}]",
		"no controls":    "id: x\ntitle: x",
		"dup control":    "id: x\ntitle: x\ncontrols: [{id: a, title: b}, {id: a, title: c}]",
		"bad mapping":    "id: x\ntitle: x\nmapping: pci\ncontrols: [{id: a, title: b}]",
		"bad scope":      "id: x\ntitle: x\ncontrols: [{id: a, title: b, scope: moon}]",
		"bad assessment": "id: x\ntitle: x\ncontrols: [{id: a, title: b, assessment: scored}]",
		"unknown field":  "id: x\ntitle: x\nextra: 1\ncontrols: [{id: a, title: b}]",
		"untitled ctrl":  "id: x\ntitle: x\ncontrols: [{id: a}]",
		"not a document": "[",
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"cis.yaml", "edge.yaml"} {
		data, err := files.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fw, err := Parse(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, c := range fw.Controls {
			if c.ID == "" || seen[c.ID] {
				t.Fatalf("accepted control %q twice or empty", c.ID)
			}
			seen[c.ID] = true
		}
	})
}

// TestCISNumbering holds cis.yaml to the numbering of the CIS Kubernetes
// Benchmark v1.12.0 (2025-09-26): every recommendation, in order, each
// marked automated or manual. Section 5.2 ends at 5.2.12 (HostPorts) and
// the general policies are 5.6.x in 1.12; earlier releases had 5.2.13
// and 5.7.x, which this test refuses.
func TestCISNumbering(t *testing.T) {
	f, err := Get("cis")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range []struct {
		prefix string
		n      int
	}{{"1.1.", 21}, {"1.2.", 30}, {"1.3.", 7}, {"1.4.", 2}, {"2.", 7}, {"3.1.", 3}, {"3.2.", 2},
		{"4.1.", 10}, {"4.2.", 14}, {"4.3.", 1}, {"5.1.", 13}, {"5.2.", 12}, {"5.3.", 2}, {"5.4.", 2}, {"5.5.", 1}, {"5.6.", 4}} {
		for i := 1; i <= s.n; i++ {
			want = append(want, fmt.Sprintf("%s%d", s.prefix, i))
		}
	}
	var got []string
	for _, c := range f.Controls {
		got = append(got, c.ID)
		if c.Assessment == "" {
			t.Errorf("CIS %s: no assessment (automated or manual)", c.ID)
		}
		if strings.HasPrefix(c.ID, "5.") && c.Assessment != AssessmentManual {
			t.Errorf("CIS %s: every section 5 recommendation is manual in v1.12", c.ID)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("cis.yaml controls:\n got %v\nwant %v", got, want)
	}
}
