// Package integrations holds Palisade's CI/CD integrations (GitHub
// Actions, GitLab CI, Tekton, pre-commit). Its tests check what this
// machine allows: every file parses, every input or parameter a file uses
// is declared, and the palisade commands the files run work against the
// repository's examples.
package integrations

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	sigyaml "sigs.k8s.io/yaml"
)

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := sigyaml.UnmarshalStrict(data, into); err != nil {
		if err := sigyaml.Unmarshal(data, into); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
}

func TestGitHubAction(t *testing.T) {
	var action struct {
		Name    string                       `json:"name"`
		Inputs  map[string]map[string]string `json:"inputs"`
		Outputs map[string]map[string]string `json:"outputs"`
		Runs    struct {
			Using string `json:"using"`
			Steps []struct {
				ID    string            `json:"id"`
				Name  string            `json:"name"`
				Uses  string            `json:"uses"`
				Run   string            `json:"run"`
				Shell string            `json:"shell"`
				With  map[string]string `json:"with"`
				Env   map[string]string `json:"env"`
			} `json:"steps"`
		} `json:"runs"`
	}
	readYAML(t, "github/action.yml", &action)
	if action.Runs.Using != "composite" {
		t.Errorf("runs.using %q, want composite", action.Runs.Using)
	}
	raw, _ := os.ReadFile("github/action.yml")
	for _, m := range regexp.MustCompile(`inputs\.([a-z0-9-]+)`).FindAllStringSubmatch(string(raw), -1) {
		if _, ok := action.Inputs[m[1]]; !ok {
			t.Errorf("input %q is used but not declared", m[1])
		}
	}
	ids := map[string]bool{}
	uploads := false
	for _, s := range action.Runs.Steps {
		ids[s.ID] = true
		if s.Run != "" && s.Shell == "" {
			t.Errorf("step %q runs a script without a shell (composite actions need one)", s.Name)
		}
		if strings.HasPrefix(s.Uses, "github/codeql-action/upload-sarif@") {
			uploads = true
		}
	}
	for _, m := range regexp.MustCompile(`steps\.([a-z0-9-]+)\.outputs`).FindAllStringSubmatch(string(raw), -1) {
		if !ids[m[1]] {
			t.Errorf("step %q is referenced but has no such id", m[1])
		}
	}
	if !uploads {
		t.Error("the action does not upload SARIF with github/codeql-action/upload-sarif")
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Uses string            `json:"uses"`
				With map[string]string `json:"with"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	readYAML(t, "github/example-workflow.yml", &wf)
	for _, j := range wf.Jobs {
		for _, s := range j.Steps {
			if strings.Contains(s.Uses, "integrations/github") {
				for k := range s.With {
					if _, ok := action.Inputs[k]; !ok {
						t.Errorf("example workflow passes undeclared input %q", k)
					}
				}
			}
		}
	}
}

func TestTektonTask(t *testing.T) {
	var task struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       struct {
			Params []struct {
				Name string `json:"name"`
			} `json:"params"`
			Results []struct {
				Name string `json:"name"`
			} `json:"results"`
			Workspaces []struct {
				Name string `json:"name"`
			} `json:"workspaces"`
			Steps []struct {
				Script          string `json:"script"`
				SecurityContext struct {
					RunAsNonRoot bool `json:"runAsNonRoot"`
				} `json:"securityContext"`
			} `json:"steps"`
		} `json:"spec"`
	}
	readYAML(t, "tekton/palisade-scan-task.yaml", &task)
	if task.APIVersion != "tekton.dev/v1" || task.Kind != "Task" {
		t.Errorf("%s %s", task.APIVersion, task.Kind)
	}
	declared := map[string]bool{}
	for _, p := range task.Spec.Params {
		declared["params."+p.Name] = true
	}
	for _, r := range task.Spec.Results {
		declared["results."+r.Name+".path"] = true
	}
	for _, w := range task.Spec.Workspaces {
		declared["workspaces."+w.Name+".path"] = true
	}
	raw, _ := os.ReadFile("tekton/palisade-scan-task.yaml")
	for _, m := range regexp.MustCompile(`\$\(([a-z0-9.-]+)\)`).FindAllStringSubmatch(string(raw), -1) {
		if !declared[m[1]] {
			t.Errorf("$(%s) is used but not declared", m[1])
		}
	}
	for _, s := range task.Spec.Steps {
		if !s.SecurityContext.RunAsNonRoot {
			t.Error("a step may run as root")
		}
	}
}

func TestPreCommitHooks(t *testing.T) {
	var hooks []struct {
		ID            string `json:"id"`
		Entry         string `json:"entry"`
		Language      string `json:"language"`
		PassFilenames *bool  `json:"pass_filenames"`
		Files         string `json:"files"`
		Exclude       string `json:"exclude"`
	}
	readYAML(t, "../.pre-commit-hooks.yaml", &hooks)
	if len(hooks) != 2 {
		t.Fatalf("hooks %+v", hooks)
	}
	for _, h := range hooks {
		if h.Language != "golang" || !strings.Contains(h.Entry, "palisade scan") {
			t.Errorf("hook %s: language %s entry %q", h.ID, h.Language, h.Entry)
		}
		for _, re := range []string{h.Files, h.Exclude} {
			if _, err := regexp.Compile(re); err != nil {
				t.Errorf("hook %s: %v", h.ID, err)
			}
		}
	}
	files := regexp.MustCompile(hooks[1].Files)
	exclude := regexp.MustCompile(hooks[1].Exclude)
	for path, want := range map[string]bool{"deploy/app.yaml": true, "Dockerfile": true, "svc/Dockerfile.prod": true, "charts/x/templates/d.yaml": false, "README.md": false} {
		if got := files.MatchString(path) && !exclude.MatchString(path); got != want {
			t.Errorf("scan config hook on %s: %v, want %v", path, got, want)
		}
	}
}

// palisadeBinary builds the command once for the tests that run it.
func palisadeBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds palisade")
	}
	bin := filepath.Join(t.TempDir(), "palisade")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/palisade")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build palisade: %v\n%s", err, out)
	}
	return bin
}

// TestCommandsRun runs the scan commands the GitLab template, the Tekton
// task and the pre-commit hooks contain, with their variables set to the
// repository's examples, and checks the reports they write.
func TestCommandsRun(t *testing.T) {
	bin := palisadeBinary(t)
	gitlab, _ := os.ReadFile("gitlab/palisade.gitlab-ci.yml")
	tekton, _ := os.ReadFile("tekton/palisade-scan-task.yaml")
	hooks, _ := os.ReadFile("../.pre-commit-hooks.yaml")
	out := t.TempDir()
	tests := []struct {
		source   []byte
		command  string // as written in the file
		vars     map[string]string
		wantExit int
		report   string // file the command writes, checked as JSON/XML
	}{
		{gitlab, `palisade scan repo "$PALISADE_TARGET" --fail-on none -o junit --output-file palisade-junit.xml $PALISADE_ARGS`,
			map[string]string{"PALISADE_TARGET": "examples", "PALISADE_ARGS": ""}, 0, "palisade-junit.xml"},
		{gitlab, `palisade scan repo "$PALISADE_TARGET" --fail-on "$PALISADE_FAIL_ON" -o gitlab-sast --output-file gl-sast-report.json $PALISADE_ARGS`,
			map[string]string{"PALISADE_TARGET": "examples", "PALISADE_FAIL_ON": "critical", "PALISADE_ARGS": ""}, 1, "gl-sast-report.json"},
		{gitlab, `palisade scan repo "$PALISADE_TARGET" --fail-on none --ci gitlab $PALISADE_ARGS`,
			map[string]string{"PALISADE_TARGET": "examples", "PALISADE_ARGS": ""}, 0, ""},
		{tekton, `"$p" scan repo "$TARGET" --fail-on "$FAIL_ON" --ci plain $ARGS`,
			map[string]string{"p": bin, "TARGET": "examples/manifests", "FAIL_ON": "none", "ARGS": ""}, 0, ""},
		{hooks, `palisade scan config --fail-on high --ci plain`, nil, 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.command, func(t *testing.T) {
			if !strings.Contains(string(tc.source), tc.command) {
				t.Fatalf("the integration no longer contains %q", tc.command)
			}
			script := "palisade() { " + bin + ` "$@"; }` + "\ncd ..\n" + tc.command
			if tc.report == "" && strings.HasSuffix(tc.command, "--ci plain") {
				script += " examples/manifests"
			}
			cmd := exec.Command("bash", "-c", script)
			cmd.Env = append(os.Environ(), "NO_COLOR=1")
			for k, v := range tc.vars {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			if tc.report != "" {
				cmd.Args[2] = strings.ReplaceAll(script, "--output-file "+tc.report, "--output-file "+filepath.Join(out, tc.report))
			}
			b, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantExit {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.wantExit, b)
			}
			switch {
			case strings.HasSuffix(tc.report, ".json"):
				data, err := os.ReadFile(filepath.Join(out, tc.report))
				if err != nil {
					t.Fatal(err)
				}
				var doc struct {
					Version         string            `json:"version"`
					Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
				}
				if err := json.Unmarshal(data, &doc); err != nil || doc.Version == "" || len(doc.Vulnerabilities) == 0 {
					t.Errorf("report %s: %v %s", tc.report, err, data[:min(len(data), 300)])
				}
			case strings.HasSuffix(tc.report, ".xml"):
				data, err := os.ReadFile(filepath.Join(out, tc.report))
				if err != nil || !strings.Contains(string(data), "<testsuites") {
					t.Errorf("report %s: %v", tc.report, err)
				}
			}
		})
	}
}
