package dockerfile

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/dockerfile"
	"github.com/palisade-sec/palisade/internal/rule"
)

// Every rule has a directory testdata/<name>/, name being its ID without
// "dockerfile/", holding at least one pass*.Dockerfile (no violation) and
// one fail*.Dockerfile. In a failing file, a line "# expect" marks the
// instruction on the next non-comment line as one the rule must report;
// the rule must report exactly the marked lines.
func TestRuleFixtures(t *testing.T) {
	for _, r := range Rules() {
		name := strings.TrimPrefix(r.ID, "dockerfile/")
		t.Run(name, func(t *testing.T) {
			passes, _ := filepath.Glob(filepath.Join("testdata", name, "pass*.Dockerfile"))
			fails, _ := filepath.Glob(filepath.Join("testdata", name, "fail*.Dockerfile"))
			if len(passes) == 0 || len(fails) == 0 {
				t.Fatalf("rule %s needs testdata/%s/pass*.Dockerfile and fail*.Dockerfile", r.ID, name)
			}
			for _, path := range append(passes, fails...) {
				content, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				f, err := dockerfile.Parse(path, content)
				if err != nil {
					t.Fatal(err)
				}
				c := rule.NewContext(nil, rule.Settings{}, nil)
				var got []int
				for _, v := range r.Dockerfile(c, f) {
					if v.Message == "" {
						t.Errorf("%s: violation at line %d has no message", path, v.Line)
					}
					got = append(got, v.Line)
				}
				sort.Ints(got)
				want := expectedLines(string(content))
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: %s reported lines %v, want %v", path, r.ID, got, want)
				}
				if strings.HasPrefix(filepath.Base(path), "fail") && len(want) == 0 {
					t.Errorf("%s: a failing fixture must mark at least one line with # expect", path)
				}
			}
		})
	}
}

// expectedLines returns the 1-based lines that follow "# expect" markers,
// skipping other comment lines between.
func expectedLines(content string) []int {
	var out []int
	lines := strings.Split(content, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "# expect" {
			continue
		}
		for j := i + 1; j < len(lines); j++ {
			if !strings.HasPrefix(strings.TrimSpace(lines[j]), "#") {
				out = append(out, j+1)
				break
			}
		}
	}
	return out
}

func TestRuleMetadata(t *testing.T) {
	rules := Rules()
	if _, err := rule.NewSet(rules...); err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if !strings.HasPrefix(r.ID, "dockerfile/") || r.Title == "" || r.Description == "" ||
			r.Remediation == "" || r.RemediationYAML == "" || len(r.References) == 0 || r.Dockerfile == nil {
			t.Errorf("rule %s is missing metadata or its check", r.ID)
		}
		if !r.HasTag(rule.TagDockerfile) || !r.HasTag(rule.TagHardening) {
			t.Errorf("rule %s tags = %v", r.ID, r.Tags)
		}
	}
}

// TestSecretMessagesMasked checks that no message repeats a secret value
// from the failing fixture.
func TestSecretMessagesMasked(t *testing.T) {
	path := filepath.Join("testdata", "secret-in-env-arg", "fail.Dockerfile")
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := dockerfile.Parse(path, content)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"Zq3xR7vK2mT9wY4b", "Tr0ub4dor&3", "S3cure-pw", "abcdef123456", "f00dfeedcafe"}
	vs := secretInEnvArg().Dockerfile(rule.NewContext(nil, rule.Settings{}, nil), f)
	for _, v := range vs {
		for _, s := range secrets {
			if strings.Contains(v.Message, s) || strings.Contains(v.Message, s[4:]) {
				t.Errorf("message %q leaks %q", v.Message, s)
			}
		}
	}
	if len(vs) == 0 || !strings.Contains(vs[0].Message, "GITHUB_TOKEN") {
		t.Errorf("messages should name the variable: %v", vs)
	}
}

func TestSplitRef(t *testing.T) {
	tests := []struct{ ref, name, tag, digest string }{
		{"alpine", "alpine", "", ""},
		{"alpine:3.20", "alpine", "3.20", ""},
		{"localhost:5000/app", "localhost:5000/app", "", ""},
		{"localhost:5000/app:1@sha256:abc", "localhost:5000/app", "1", "sha256:abc"},
		{"app@sha256:abc", "app", "", "sha256:abc"},
	}
	for _, tt := range tests {
		n, tag, d := splitRef(tt.ref)
		if n != tt.name || tag != tt.tag || d != tt.digest {
			t.Errorf("splitRef(%q) = %q, %q, %q", tt.ref, n, tag, d)
		}
	}
}
