package manifest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

func loadString(t *testing.T, name, content string) *Set {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := Load(context.Background(), []string{p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range set.Problems {
		set.Problems[i].File = filepath.Base(set.Problems[i].File)
	}
	for _, o := range set.Objects {
		o.File = filepath.Base(o.File)
	}
	return set
}

func TestLoadMultiDocument(t *testing.T) {
	set, err := Load(context.Background(), []string{"testdata/multi.yaml"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range set.Objects {
		got = append(got, fmt.Sprintf("%s/%s %s/%s line %d", o.APIVersion, o.Kind, o.Namespace, o.Name, o.Line))
	}
	want := []string{
		"apps/v1/Deployment shop/web line 2",
		"v1/Service /web line 17",
		"v1/ConfigMap /a line 29",
		"v1/ConfigMap /b line 32",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("objects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if set.Objects[1].HelmSource != "mychart/templates/svc.yaml" {
		t.Errorf("helm source = %q", set.Objects[1].HelmSource)
	}
	if l := set.Objects[0].LineOf("spec.template.spec.containers[0].securityContext.privileged"); l != 14 {
		t.Errorf("line of privileged = %d, want 14", l)
	}
	if l := set.Objects[0].LineOf("spec.template.spec.containers[0].securityContext.runAsUser"); l != 13 {
		t.Errorf("line of missing runAsUser falls back to securityContext: got %d, want 13", l)
	}
	if l := set.Objects[0].LineOf("spec.template.spec.containers[3]"); l != 10 {
		t.Errorf("line of missing container = %d, want 10", l)
	}
	var probs []string
	for _, p := range set.Problems {
		probs = append(probs, fmt.Sprintf("%d %s %s", p.Line, p.Level, p.Message))
	}
	wantProbs := []string{
		"24 note document 3 is not a Kubernetes object (no apiVersion, kind or metadata: a values or configuration file?); skipped",
		"38 error document 5: invalid YAML: did not find expected ',' or '}'",
	}
	if strings.Join(probs, "\n") != strings.Join(wantProbs, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(probs, "\n"), strings.Join(wantProbs, "\n"))
	}
}

func TestLoadJSON(t *testing.T) {
	set := loadString(t, "x.json", "\n{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\n \"metadata\":{\"name\":\"p\",\n \"namespace\":\"n\"}}\n{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"n\"}}\n")
	if len(set.Objects) != 2 || set.Objects[0].Line != 2 || set.Objects[1].Line != 5 {
		t.Fatalf("objects = %+v problems = %v", set.Objects, set.Problems)
	}
	if l := set.Objects[0].LineOf("metadata.namespace"); l != 4 {
		t.Errorf("line of namespace = %d, want 4", l)
	}
}

func TestLoadConversion(t *testing.T) {
	set := loadString(t, "x.yaml", `apiVersion: v1
kind: ConfigMap
metadata: &m
  name: "a\"b"
  labels: {x: "1"}
data:
  int: 0x10
  float: 1.5e3
  bool: true
  yes: yes
  nul: ~
  inf: .inf
  base:
    <<: {a: 1, b: 2}
    b: 3
  copy: *m
`)
	if len(set.Objects) != 1 {
		t.Fatalf("problems: %v", set.Problems)
	}
	var got map[string]any
	if err := json.Unmarshal(set.Objects[0].JSON, &got); err != nil {
		t.Fatalf("invalid JSON %s: %v", set.Objects[0].JSON, err)
	}
	data := got["data"].(map[string]any)
	checks := map[string]any{"int": 16.0, "float": 1500.0, "bool": true, "yes": true /* a YAML 1.1 boolean, as kubectl reads it */, "nul": nil, "inf": ".inf"}
	for k, want := range checks {
		if data[k] != want {
			t.Errorf("data.%s = %#v, want %#v", k, data[k], want)
		}
	}
	base := data["base"].(map[string]any)
	if base["a"] != 1.0 || base["b"] != 3.0 {
		t.Errorf("merge: %v", base)
	}
	if data["copy"].(map[string]any)["name"] != `a"b` {
		t.Errorf("alias: %v", data["copy"])
	}
}

func TestLoadBadInput(t *testing.T) {
	bomb := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += fmt.Sprintf("  %s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", n, n, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = n
	}
	huge := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  x: " + strings.Repeat("A", maxDocumentBytes+10) + "\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: after}\n"
	tests := []struct {
		name, file, content string
		wantObjects         int
		wantError           string
	}{
		{"alias bomb", "bomb.yaml", bomb, 0, "too many nodes"},
		{"binary", "bin.yaml", "apiVersion: v1\x00\x01\x02", 0, "binary file"},
		{"duplicate key", "dup.yaml", "apiVersion: v1\nkind: Pod\nkind: Service\nmetadata: {name: x}\n", 0, `duplicate key "kind"`},
		{"oversized document then good", "huge.yaml", huge, 1, "larger than 4 MiB"},
		{"tab indentation", "tab.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n\tname: x\n", 0, "invalid YAML"},
		{"json garbage", "g.json", "{\"apiVersion\": \"v1\", \"kind\": ", 0, "invalid JSON"},
		{"scalar document", "s.yaml", "hello\n", 0, ""},
		{"deep nesting", "deep.yaml", "apiVersion: v1\nkind: X\nmetadata: {name: x}\nspec: " + strings.Repeat("[", 500) + strings.Repeat("]", 500) + "\n", 0, "nesting deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := loadString(t, tt.file, tt.content)
			if len(set.Objects) != tt.wantObjects {
				t.Errorf("objects = %d, want %d", len(set.Objects), tt.wantObjects)
			}
			if tt.wantError == "" {
				for _, p := range set.Problems {
					if p.Level == finding.LevelError {
						t.Errorf("unexpected error %v", p)
					}
				}
				return
			}
			found := false
			for _, p := range set.Problems {
				if p.Level == finding.LevelError && strings.Contains(p.Message, tt.wantError) && p.File == tt.file {
					found = true
				}
			}
			if !found {
				t.Errorf("no error containing %q naming %s in %v", tt.wantError, tt.file, set.Problems)
			}
		})
	}
}

func TestLoadDirectoryAndStdin(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
	write("a/b/Dockerfile", "FROM alpine\n")
	write("a/readme.md", "apiVersion: v1\nkind: Pod\n")
	write(".git/x.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: hidden}\n")
	set, err := Load(context.Background(), []string{dir, "-", filepath.Join(dir, "missing.yaml")}, Options{Stdin: strings.NewReader("apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n")})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Objects) != 2 || set.Objects[0].Name != "p" || set.Objects[1].File != "<stdin>" {
		t.Errorf("objects: %+v", set.Objects)
	}
	if len(set.Dockerfiles) != 1 {
		t.Errorf("dockerfiles: %+v", set.Dockerfiles)
	}
	if len(set.Problems) != 1 || !strings.Contains(set.Problems[0].Message, "no such file") {
		t.Errorf("problems: %v", set.Problems)
	}
}

// ReleaseLines drops an object's field lines; LineOf then answers with
// the object's own line, never a line of another object.
func TestReleaseLines(t *testing.T) {
	set, err := Load(context.Background(), []string{"testdata/multi.yaml"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := set.Objects[0]
	const path = "spec.template.spec.containers[0].securityContext.privileged"
	if l := o.LineOf(path); l != 14 {
		t.Fatalf("line of privileged = %d, want 14", l)
	}
	o.ReleaseLines()
	if o.lines != nil {
		t.Error("ReleaseLines kept the line index")
	}
	if l := o.LineOf(path); l != o.Line {
		t.Errorf("after ReleaseLines, LineOf = %d, want the object's line %d", l, o.Line)
	}
	if l := set.Objects[1].LineOf("spec"); l <= set.Objects[1].Line {
		t.Errorf("another object's lines: LineOf(spec) = %d", l)
	}
}

// TestLoadSymlinksInDirectory: a directory walk reads symlinked manifests
// as kubectl apply -f does, and says what it does not read.
func TestLoadSymlinksInDirectory(t *testing.T) {
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\n"
	for _, tt := range []struct {
		name     string
		setup    func(t *testing.T, dir, outside string)
		objects  []string
		problems []string
	}{
		{"link to a manifest file", func(t *testing.T, dir, outside string) {
			writeFile(t, filepath.Join(outside, "shared.yaml"), fmt.Sprintf(pod, "shared"))
			symlink(t, filepath.Join(outside, "shared.yaml"), filepath.Join(dir, "shared.yaml"))
		}, []string{"shared"}, nil},
		{"relative link in the tree", func(t *testing.T, dir, outside string) {
			writeFile(t, filepath.Join(dir, "base", "pod.txt"), fmt.Sprintf(pod, "rel"))
			symlink(t, filepath.Join("base", "pod.txt"), filepath.Join(dir, "pod.yaml"))
		}, []string{"rel"}, nil},
		{"dangling link", func(t *testing.T, dir, outside string) {
			symlink(t, filepath.Join(outside, "gone.yaml"), filepath.Join(dir, "gone.yaml"))
		}, nil, []string{"error gone.yaml symlink: no such file or directory"}},
		{"dangling link, not a manifest name", func(t *testing.T, dir, outside string) {
			symlink(t, filepath.Join(outside, "gone"), filepath.Join(dir, "notes.txt"))
		}, nil, nil},
		{"link to a directory", func(t *testing.T, dir, outside string) {
			writeFile(t, filepath.Join(outside, "sub", "p.yaml"), fmt.Sprintf(pod, "sub"))
			symlink(t, filepath.Join(outside, "sub"), filepath.Join(dir, "sub"))
		}, nil, []string{"note sub symlink to a directory; not followed"}},
		{"link loop", func(t *testing.T, dir, outside string) {
			symlink(t, dir, filepath.Join(dir, "loop"))
		}, nil, []string{"note loop symlink to a directory; not followed"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, outside := t.TempDir(), t.TempDir()
			writeFile(t, filepath.Join(dir, "own.yaml"), fmt.Sprintf(pod, "own"))
			tt.setup(t, dir, outside)
			set, err := Load(context.Background(), []string{dir}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			objects := []string{}
			for _, o := range set.Objects {
				if o.Name != "own" {
					objects = append(objects, o.Name)
				}
			}
			problems := []string{}
			for _, p := range set.Problems {
				rel, _ := filepath.Rel(dir, p.File)
				problems = append(problems, p.Level+" "+rel+" "+p.Message)
			}
			if fmt.Sprint(objects) != fmt.Sprint(append([]string{}, tt.objects...)) || fmt.Sprint(problems) != fmt.Sprint(append([]string{}, tt.problems...)) {
				t.Errorf("objects %q problems %q, want %q %q", objects, problems, tt.objects, tt.problems)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
