package manifest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"
)

// TestScalarsMatchKubectl holds the JSON of every scalar to what
// sigs.k8s.io/yaml (go-yaml v2), which kubectl, Helm and the API server
// read YAML with, makes of it: in a block mapping (the fast path), in a
// flow mapping, and in a document with an anchor (the yaml.v3 node path).
func TestScalarsMatchKubectl(t *testing.T) {
	scalars := []string{
		// YAML 1.1 booleans: go-yaml v2 reads them as booleans.
		"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
		// Booleans in both, and words that are not booleans in either.
		"true", "True", "TRUE", "false", "False", "FALSE", "tRue", "yEs", "oN", "nO", "yes!", "onn",
		// Quoted or tagged: strings in both.
		`"yes"`, `'on'`, `!!str yes`, `!!str off`, `"true"`,
		// Numbers and nulls.
		"0", "-0", "+12", "0777", "0o17", "0x1F", "1_000", "1e3", "1.0", ".5", "~", "null", "Null", "",
	}
	layouts := []struct {
		name string
		doc  func(v string) string
	}{
		{"block", func(v string) string {
			return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\nv: " + v + "\n"
		}},
		{"flow", func(v string) string {
			return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nw: {v: " + v + "}\n"
		}},
		{"anchor", func(v string) string {
			return "apiVersion: v1\nkind: ConfigMap\nmetadata: &m\n  name: x\nv: " + v + "\n"
		}},
	}
	for _, l := range layouts {
		for _, v := range scalars {
			t.Run(l.name+"/"+v, func(t *testing.T) {
				doc := l.doc(v)
				ref, err := sigsyaml.YAMLToJSON([]byte(doc))
				if err != nil {
					t.Fatalf("reference: %v", err)
				}
				set, err := Load(context.Background(), []string{StdinPath}, Options{Stdin: strings.NewReader(doc)})
				if err != nil {
					t.Fatal(err)
				}
				if len(set.Objects) != 1 {
					t.Fatalf("objects = %d, problems %v", len(set.Objects), set.Problems)
				}
				want, got := field(t, ref, l.name), field(t, set.Objects[0].JSON, l.name)
				if got != want {
					t.Errorf("%q read as %s, kubectl reads %s", v, got, want)
				}
			})
		}
	}
}

// field returns the JSON of the field v (w.v in the flow layout).
func field(t *testing.T, doc []byte, layout string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	v := m["v"]
	if layout == "flow" {
		var w map[string]json.RawMessage
		if err := json.Unmarshal(m["w"], &w); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		v = w["v"]
	}
	return string(v)
}

// FuzzBooleansMatchKubectl checks, for any one-line scalar, that it is a
// boolean here exactly when sigs.k8s.io/yaml makes it one, and the same
// boolean, on the fast path and the yaml.v3 node path.
func FuzzBooleansMatchKubectl(f *testing.F) {
	for _, s := range []string{"yes", "Off", "y", "N", "true", "tRue", `"on"`, "!!str no", "!!bool yes", "~", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		switch v {
		case "y", "Y", "n", "N", "!!bool y", "!!bool Y", "!!bool n", "!!bool N":
			return // strings here, booleans to go-yaml v2: TestSingleLetterBooleansStayStrings
		}
		if len(v) > 64 || strings.ContainsAny(v, "\r\n#&*!|>{}[],:%@`\"'") && !strings.HasPrefix(v, "!!") && !strings.HasPrefix(v, `"`) {
			return
		}
		for _, doc := range []string{
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\nv: " + v + "\n",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: &m\n  name: x\nv: " + v + "\n",
		} {
			ref, err := sigsyaml.YAMLToJSON([]byte(doc))
			if err != nil {
				return
			}
			var rm map[string]any
			if json.Unmarshal(ref, &rm) != nil {
				return
			}
			set, err := Load(context.Background(), []string{StdinPath}, Options{Stdin: strings.NewReader(doc)})
			if err != nil || len(set.Objects) != 1 {
				return // the loader refused it: not a silent difference
			}
			var gm map[string]any
			if err := json.Unmarshal(set.Objects[0].JSON, &gm); err != nil {
				t.Fatalf("%q: %v", doc, err)
			}
			rb, rIsBool := rm["v"].(bool)
			gb, gIsBool := gm["v"].(bool)
			if rIsBool != gIsBool || rb != gb {
				t.Fatalf("%q: read as %#v, kubectl reads %#v", v, gm["v"], rm["v"])
			}
		}
	})
}

// TestSingleLetterBooleansStayStrings pins the one difference from
// go-yaml v2 kept on purpose (yaml11Bool): y, Y, n and N are strings.
func TestSingleLetterBooleansStayStrings(t *testing.T) {
	for _, v := range []string{"y", "Y", "n", "N"} {
		doc := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\nv: " + v + "\n"
		set, err := Load(context.Background(), []string{StdinPath}, Options{Stdin: strings.NewReader(doc)})
		if err != nil || len(set.Objects) != 1 {
			t.Fatalf("%q: %v %v", v, err, set.Problems)
		}
		if got := field(t, set.Objects[0].JSON, "block"); got != `"`+v+`"` {
			t.Errorf("%q read as %s, want the string", v, got)
		}
	}
}
