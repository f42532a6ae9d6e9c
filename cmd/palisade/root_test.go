package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/cli"
)

// TestMistypedSubcommand walks the whole command tree: every command that
// has subcommands must reject a name that is none of them with exit 2 and
// cobra's message, so a group added later cannot print help and exit 0.
func TestMistypedSubcommand(t *testing.T) {
	root, _ := newRoot(cli.NewStreams(strings.NewReader(""), &strings.Builder{}, &strings.Builder{}))
	var groups [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		if c.HasSubCommands() {
			groups = append(groups, path)
		}
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(root, nil)
	if len(groups) < 5 {
		t.Fatalf("found only %d command groups: %v", len(groups), groups)
	}
	for _, path := range groups {
		name := strings.Join(append([]string{"palisade"}, path...), " ")
		t.Run(name, func(t *testing.T) {
			// A typo of the group's first subcommand: cobra must suggest it.
			c, _, err := root.Find(path)
			if err != nil {
				t.Fatal(err)
			}
			first := c.Commands()[0].Name()
			typo := first[:len(first)-1] + "q"
			stdout, stderr, code := palisade(t, "", append(append([]string(nil), path...), typo)...)
			if code != exitError {
				t.Errorf("exit code %d, want %d; stdout: %s", code, exitError, stdout)
			}
			want := `Error: unknown command "` + typo + `" for "` + name + `"`
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr %q does not contain %q", stderr, want)
			}
			if !strings.Contains(stderr, "Did you mean this?\n\t"+first+"\n") {
				t.Errorf("stderr %q does not suggest %q", stderr, first)
			}
			if stdout != "" {
				t.Errorf("help printed on stdout for a mistyped command: %s", stdout)
			}
		})
	}
}

// TestGroupWithoutSubcommand: a group given nothing prints its help and
// exits 0, as `palisade` alone does.
func TestGroupWithoutSubcommand(t *testing.T) {
	for _, args := range [][]string{{"scan"}, {"node"}, {"netpol"}, {"hub"}, {}} {
		stdout, stderr, code := palisade(t, "", args...)
		if code != exitClean || !strings.Contains(stdout, "Available Commands:") {
			t.Errorf("palisade %v: exit %d, stdout %q, stderr %q; want help and exit 0", args, code, stdout, stderr)
		}
	}
}

func TestHelpTopic(t *testing.T) {
	tests := []struct {
		args    []string
		want    int
		message string
	}{
		{[]string{"help", "confg"}, exitError, `unknown command "confg" for "palisade"`},
		{[]string{"help", "scan", "confg"}, exitError, `unknown command "confg" for "palisade scan"`},
		{[]string{"help", "scan", "config"}, exitClean, ""},
		{[]string{"help"}, exitClean, ""},
	}
	for _, tt := range tests {
		stdout, stderr, code := palisade(t, "", tt.args...)
		if code != tt.want || !strings.Contains(stderr, tt.message) {
			t.Errorf("palisade %v: exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr, tt.want, tt.message)
		}
		if code == exitClean && !strings.Contains(stdout, "Usage:") {
			t.Errorf("palisade %v: no help on stdout: %q", tt.args, stdout)
		}
	}
}
