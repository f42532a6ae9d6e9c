package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

func TestRunFlagsAndErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--bogus"}, 2, "unknown flag"},
		{[]string{}, 2, "--policy, --tls-cert-file and --tls-key-file are required"},
		{[]string{"--policy", "p", "--tls-cert-file", "c", "--tls-key-file", "k", "--log-level", "loud"}, 2, "--log-level"},
		{[]string{"--policy", "/does/not/exist.yaml", "--tls-cert-file", "c", "--tls-key-file", "k"}, 2, "exist"},
		{[]string{"--version"}, 0, "palisade-admission"},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), tt.args, &stderr); code != tt.code || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("run(%v) = %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), tt.code, tt.want)
		}
	}
}

// TestSlimDependencies keeps the webhook binary small: what each replica
// keeps resident grows with what it links.
func TestSlimDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	deps := string(out)
	for _, forbidden := range []string{
		"github.com/palisade-sec/palisade/internal/hub",
		"github.com/palisade-sec/palisade/internal/render",
		"github.com/jackc/pgx/v5",
		"helm.sh/helm",
		"github.com/moby/buildkit/solver",
		"github.com/chromedp/chromedp",
		"github.com/spf13/cobra",
	} {
		if strings.Contains(deps, forbidden+"\n") || strings.Contains(deps, forbidden+"/") {
			t.Errorf("palisade-admission links %s", forbidden)
		}
	}
}
