package peers

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadFixture(t *testing.T) {
	files, err := LoadFS(os.DirFS("testdata"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Tool != "trivy" || len(files[0].Checks) != 3 {
		t.Fatalf("loaded %+v", files)
	}
	c := files[0].Checks
	if c[0].Line != 4 || c[2].Line != 12 {
		t.Errorf("lines %d, %d; want 4, 12", c[0].Line, c[2].Line)
	}
	if got := c[2].CoveredBy(); got != "hardening/run-as-root" {
		t.Errorf("CoveredBy = %q", got)
	}
}

func TestEmbeddedFilesParse(t *testing.T) {
	if _, err := Load(); err != nil {
		t.Fatal(err)
	}
}

func TestParseRejects(t *testing.T) {
	const head = "tool: trivy\nsource: https://x\nchecks:\n"
	for name, tc := range map[string]struct{ doc, want string }{
		"unknown tool":   {"tool: falco\nsource: https://x\nchecks: [{id: a, title: b, palisade: [x/y]}]", "tool"},
		"no source":      {"tool: trivy\nchecks: [{id: a, title: b, palisade: [x/y]}]", "source"},
		"no checks":      {"tool: trivy\nsource: https://x\nchecks: []", "checks"},
		"no reason":      {head + "  - id: KSV-1\n    title: t\n    palisade: []\n", "file.yaml:4"},
		"bad reason":     {head + "  - id: KSV-1\n    title: t\n    reason: \"nope\"\n", "reason"},
		"empty covered":  {head + "  - id: KSV-1\n    title: t\n    reason: \"covered-by : x\"\n", "covered-by"},
		"duplicate":      {head + "  - {id: KSV-1, title: t, palisade: [a/b]}\n  - {id: ksv-1, title: t, palisade: [a/b]}\n", "twice"},
		"glob id":        {head + "  - {id: KSV-1, title: t, palisade: [\"pss/*\"]}\n", "not a check ID"},
		"no title":       {head + "  - {id: KSV-1, palisade: [a/b]}\n", "title"},
		"unknown field":  {head + "  - {id: KSV-1, title: t, palisade: [a/b], severity: high}\n", "unknown field"},
		"bad framework":  {head + "  - {id: KSV-1, title: t, palisade: [a/b], frameworks: [pci]}\n", "framework"},
		"not yaml":       {"{", "file.yaml"},
		"too many bytes": {head + strings.Repeat("#", maxFileBytes), "bytes"},
	} {
		_, err := Parse("file.yaml", []byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
}

func TestFileNameMustMatchTool(t *testing.T) {
	fsys := fstest.MapFS{"polaris.yaml": {Data: []byte("tool: trivy\nsource: https://x\nchecks: [{id: a, title: b, palisade: [x/y]}]")}}
	if _, err := LoadFS(fsys); err == nil || !strings.Contains(err.Error(), "file name") {
		t.Errorf("err = %v", err)
	}
}

func TestNormalizeID(t *testing.T) {
	for in, want := range map[string]string{"avd-ksv-0017": "KSV-0017", "KSV-0017": "KSV-0017", " c-0057 ": "C-0057"} {
		if got := NormalizeID(in); got != want {
			t.Errorf("NormalizeID(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	seed, _ := os.ReadFile("testdata/trivy.yaml")
	f.Add(seed)
	f.Add([]byte("tool: trivy\nsource: https://x\nchecks: [{id: a, title: b, reason: \"covered-by x\"}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, c := range file.Checks {
			if len(c.Palisade) == 0 && !hasReasonPrefix(c.Reason) {
				t.Fatalf("accepted %q without a reason", c.ID)
			}
		}
	})
}
