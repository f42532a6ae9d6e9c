package configcmd

import "testing"

// TestCIModeAuto: --ci auto follows the variables each CI system sets.
func TestCIModeAuto(t *testing.T) {
	for env, want := range map[string]string{"GITHUB_ACTIONS": ciGitHub, "GITLAB_CI": ciGitLab, "CI": ciPlain, "": ciOff} {
		c := ciFlags{value: "auto", getenv: func(k string) string {
			if k == env {
				return "true"
			}
			return ""
		}}
		if got, _ := c.mode(); got != want {
			t.Errorf("%s=true: mode %s, want %s", env, got, want)
		}
	}
}
