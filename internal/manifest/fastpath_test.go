package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// fastPathResult compares the fast path with the yaml.v3 path on one
// document. It reports whether the fast path took the document.
func fastPathResult(t testing.TB, fp *fastParser, j docJob) bool {
	t.Helper()
	fast, ok := fp.parse(j)
	if !ok {
		return false
	}
	res := parseDocumentYAML(j)
	slow, probs := res.objects, res.problems
	if len(slow) != 1 || len(probs) != 0 {
		t.Fatalf("fast path took a document yaml.v3 turns into %d objects and problems %v:\n%s\nfast JSON: %s", len(slow), probs, j.doc.data, fast.JSON)
	}
	s := slow[0]
	if !bytes.Equal(fast.JSON, s.JSON) {
		t.Fatalf("JSON differs for\n%s\nfast: %s\nslow: %s", j.doc.data, fast.JSON, s.JSON)
	}
	fastMeta := fmt.Sprintf("%q %d %d %q %q %q %q %q", fast.File, fast.Line, fast.Index, fast.HelmSource, fast.APIVersion, fast.Kind, fast.Namespace, fast.Name)
	slowMeta := fmt.Sprintf("%q %d %d %q %q %q %q %q", s.File, s.Line, s.Index, s.HelmSource, s.APIVersion, s.Kind, s.Namespace, s.Name)
	if fastMeta != slowMeta {
		t.Fatalf("metadata differs for\n%s\nfast: %s\nslow: %s", j.doc.data, fastMeta, slowMeta)
	}
	if !reflect.DeepEqual(fast.lines, s.lines) || fast.lineBase != s.lineBase {
		t.Fatalf("line index differs for\n%s\nfast: %v\nslow: %v", j.doc.data, fast.lines, s.lines)
	}
	for _, path := range fieldPaths(t, s.JSON) {
		if f, sl := fast.LineOf(path), s.LineOf(path); f != sl {
			t.Fatalf("LineOf(%q) = %d on the fast path, %d with yaml.v3, for\n%s", path, f, sl, j.doc.data)
		}
	}
	return true
}

// fieldPaths lists every field path of a JSON object, as rules name them.
func fieldPaths(t testing.TB, data []byte) []string {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", data, err)
	}
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				out = append(out, p, p+".missing")
				walk(p, v[k])
			}
		case []any:
			for i, item := range v {
				p := prefix + "[" + strconv.Itoa(i) + "]"
				out = append(out, p)
				walk(p, item)
			}
			out = append(out, prefix+"["+strconv.Itoa(len(v))+"]")
		}
	}
	walk("", v)
	return out
}

// diffStream splits a YAML stream as the loader does and compares both
// paths on every document. It returns the documents seen and taken.
func diffStream(t testing.TB, fp *fastParser, name string, data []byte) (docs, taken int) {
	t.Helper()
	err := splitYAML(bytes.NewReader(data), func(d document) error {
		if d.oversized {
			return nil
		}
		docs++
		if fastPathResult(t, fp, docJob{file: name, doc: d}) {
			taken++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs, taken
}

// TestFastPathFixtures runs the differential check over every YAML file of
// the repository, this package's test data, and the generated corpus when
// PALISADE_CORPUS names its directory.
func TestFastPathFixtures(t *testing.T) {
	var files []string
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "vendor") {
			return fs.SkipDir
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("PALISADE_CORPUS"); dir != "" {
		more, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		files = append(files, more...)
	}
	if len(files) < 30 {
		t.Fatalf("found only %d YAML files", len(files))
	}
	var fp fastParser
	docs, taken := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d, tk := diffStream(t, &fp, f, data)
		docs += d
		taken += tk
	}
	t.Logf("%d files, %d documents, fast path took %d", len(files), docs, taken)
	if taken*2 < docs {
		t.Errorf("fast path took only %d of %d documents", taken, docs)
	}
}

// TestFastPathCorpusSample checks that the fast path takes every document of
// a sample of the benchmark corpus.
func TestFastPathCorpusSample(t *testing.T) {
	data, err := os.ReadFile("testdata/corpus-sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var fp fastParser
	docs, taken := diffStream(t, &fp, "corpus-sample.yaml", data)
	if docs == 0 || taken != docs {
		t.Errorf("fast path took %d of %d documents", taken, docs)
	}
}

// TestFastPathCases pins down constructs on both sides of the line.
func TestFastPathCases(t *testing.T) {
	const head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
	cases := []struct {
		body string
		fast bool
	}{
		{"data:\n  a: b\n", true},
		{"data: {a: b, 'c': \"d\\u00e9\\t\"}\n", true},
		{"spec:\n  l:\n  - 1\n  - -2\n  - 0x10\n  - 010\n  - 1e3\n  - .5\n  - .inf\n  - ~\n  - yes\n  - true\n  - 'true'\n  - 2001-01-01\n  - 1_000\n", true},
		{"spec:\n  l:\n    - {a: [x, y], b: []}\n    -   k: v\n        j: w\n  m: - x\n", false},
		{"data:\n  a: |\n    x\n", true},
		{"data:\n  a: |-\n    x\n     # y\n\n    z  \n\n  b: |\n   q\n # c\n", true},
		{"data:\n  a: |+\n    x\n", false},
		{"data:\n  a: |2\n    x\n", false},
		{"data:\n  a: >\n    x\n", false},
		{"data:\n  a: |\n\n    x\n", false},
		{"data:\n  a: |\n  b: x\n", false},
		{"data:\n  a: &x b\n  c: *x\n", false},
		{"data:\n  a: b\n  a: c\n", false},
		{"data:\n  a: multi\n    line\n", false},
		{"data:\n  a: \"multi\n    line\"\n", false},
		{"data:\n  <<: {a: b}\n", false},
		{"data:\n  ~: a\n  null: b\n", false},
		{"data:\n  ~: a\n  'null2': b # comment\n", true},
		{"items:\n- a\n", true},
		{"data:\n  a: 'it''s' # c\n  b: \"q\\\"\\\\\"\n", true},
		{"data:\n  a: x:y\n  b: http://x/#y\n  c: a #b\n", true},
		{"data:\n  a: {u: http://x}\n", true},
		{"data:\n\ta: b\n", false},
	}
	var fp fastParser
	for i, c := range cases {
		data := []byte(head + c.body)
		got := fastPathResult(t, &fp, docJob{file: "x.yaml", doc: document{startLine: 5, data: data}})
		if got != c.fast {
			t.Errorf("case %d: fast path took it = %v, want %v:\n%s", i, got, c.fast, data)
		}
	}
}

// FuzzFastPathMatchesYAMLv3 checks that on any input the fast path either
// declines a document or produces exactly what yaml.v3 produces.
func FuzzFastPathMatchesYAMLv3(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec:\n  containers:\n  - name: c\n    image: nginx:1.2\n    ports: [{containerPort: 80}]\n"))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"a\\x41\"\n  generateName: g-\ndata:\n  n: 0o17\n  f: -1.5e-3\n  s: 'x'' y'\n"))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  a: |\n    x\n\n      y # z\n  b: |-\n   q\n\n # c\n  c: d\n"))
	f.Add([]byte("kind: Pod\napiVersion: v1\nspec:\n  containers:\n  - name: c\n    args:\n    - |\n      x\n    command: [sh, -c, 'a  b']\n"))
	var fp fastParser
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		diffStream(t, &fp, "fuzz.yaml", data)
	})
}

// TestTypedListItemsMatchFastPath checks that an item of a typed list, read
// with its type inferred by the yaml.v3 path, is exactly the object the
// fast path makes of the same item written alone with its apiVersion and
// kind: same JSON, and the same field lines, shifted.
func TestTypedListItemsMatchFastPath(t *testing.T) {
	data, err := os.ReadFile("testdata/dumps/podlist.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	set, err := Load(context.Background(), []string{"testdata/dumps/podlist.yaml"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Objects) < 2 {
		t.Fatalf("objects: %s", describe(set))
	}
	var fp fastParser
	for _, list := range []string{string(data), "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n"} {
		if _, ok := fp.parse(docJob{file: "list.yaml", doc: document{startLine: 1, data: []byte(list)}}); ok {
			t.Errorf("fast path took a list, which only yaml.v3 expands:\n%.200s", list)
		}
	}
	for _, item := range set.Objects {
		// The item's lines: from its "- " to the next item or the list's
		// own fields, unindented by the two columns of the sequence.
		alone := "apiVersion: v1\nkind: Pod\n"
		for i := item.Line - 1; i < len(lines); i++ {
			l := lines[i]
			if i > item.Line-1 && (strings.HasPrefix(l, "- ") || !strings.HasPrefix(l, "  ")) {
				break
			}
			alone += l[2:]
		}
		fast, ok := fp.parse(docJob{file: "alone.yaml", doc: document{startLine: 1, data: []byte(alone)}})
		if !ok {
			t.Fatalf("fast path declined item %s:\n%s", item.Name, alone)
		}
		if !bytes.Equal(fast.JSON, item.JSON) {
			t.Errorf("item %s: JSON differs\nlist:  %s\nalone: %s", item.Name, item.JSON, fast.JSON)
		}
		shift := item.Line - 3 // line 3 of alone is the item's first line
		for _, path := range fieldPaths(t, fast.JSON) {
			if path == "apiVersion" || path == "kind" || strings.HasPrefix(path, "apiVersion.") || strings.HasPrefix(path, "kind.") {
				continue // not written in the list: they are the item's own line
			}
			if got, want := item.LineOf(path), fast.LineOf(path)+shift; got != want {
				t.Errorf("item %s: line of %s = %d, want %d", item.Name, path, got, want)
			}
		}
	}
}
