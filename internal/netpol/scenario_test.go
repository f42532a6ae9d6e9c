package netpol

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
)

var update = flag.Bool("update", false, "rewrite golden files of output formats (never the hand-checked expected.txt)")

// TestScenarios runs every hand-checked scenario under testdata/scenarios:
// input.yaml (or the *.json files) is analysed and the text output must equal expected.txt, which
// was worked out by hand (each README.md says how).
func TestScenarios(t *testing.T) {
	dirs, err := filepath.Glob("testdata/scenarios/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			// input.yaml, or the API server's responses saved as *.json.
			inputs := []string{filepath.Join(dir, "input.yaml")}
			if _, err := os.Stat(inputs[0]); err != nil {
				inputs, _ = filepath.Glob(filepath.Join(dir, "*.json"))
			}
			m, probs, err := Load(context.Background(), inputs, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			checkProblems(t, dir, probs)
			c, err := Analyze(context.Background(), m)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			if err := Write(&b, FormatText, c); err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(dir, "expected.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("connectivity differs\n--- got\n%s--- want\n%s", got, want)
			}
			// Every line must parse back into the same connection set.
			for _, x := range c.Connections {
				back, err := ParseConns(x.Conns.String())
				if err != nil || !back.Equal(x.Conns) {
					t.Errorf("conns %q do not parse back: %v", x.Conns, err)
				}
			}
		})
	}
}

// checkProblems compares the problems of a scenario with its problems.txt,
// whose lines are "level: text": each must match a problem of that level
// containing the text, and every error and warning must be listed. Without
// the file, no error is allowed.
func checkProblems(t *testing.T, dir string, probs []finding.Problem) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "problems.txt"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	listed := make([]bool, len(probs))
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		level, text, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("problems.txt: %q is not \"level: text\"", line)
		}
		found := false
		for i, p := range probs {
			if p.Level == level && strings.Contains(p.Message, text) {
				listed[i], found = true, true
			}
		}
		if !found {
			t.Errorf("no %s containing %q among %v", level, text, probs)
		}
	}
	for i, p := range probs {
		if !listed[i] && p.Level != finding.LevelNote && (p.Level == finding.LevelError || data != nil) {
			t.Errorf("unexpected %s: %s", p.Level, p)
		}
	}
}

// TestOutputFormats keeps a golden file per format for one scenario.
func TestOutputFormats(t *testing.T) {
	m, _, err := Load(context.Background(), []string{"testdata/scenarios/04-ipblock-except/input.yaml"}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Analyze(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range Formats() {
		t.Run(f, func(t *testing.T) {
			var b strings.Builder
			if err := Write(&b, Format(f), c); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", "04-ipblock-except."+f)
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if b.String() != string(want) {
				t.Errorf("%s output differs from %s\n%s", f, golden, b.String())
			}
		})
	}
}
