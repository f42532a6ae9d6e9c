package configscan

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/rules"
)

// TestCustomPodTemplatesNotSilentlyClean: a custom resource whose
// spec.template (or spec.jobTemplate.spec.template) is a pod template
// (Argo Rollout, OpenKruise CloneSet, Knative Service) is an input error
// naming its kind, file and the containers' line, and is not counted as
// scanned; before, a Rollout with a privileged container was "1 object
// scanned", no findings, exit 0. A custom resource without one
// (a cert-manager Certificate) is scanned as before.
func TestCustomPodTemplatesNotSilentlyClean(t *testing.T) {
	const file = "testdata/custom-pod-templates.yaml"
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), Input{Paths: []string{file}, Load: plainLoad}, Options{Rules: set})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if _, kind, ok := strings.Cut(sc.Text(), "# want: "); ok {
			want = append(want, fmt.Sprintf("%d %s", line, kind))
		}
	}
	var got []string
	for _, p := range r.Problems {
		if p.Level == finding.LevelError && strings.Contains(p.Message, "not checked") {
			kind, _, _ := strings.Cut(p.Message, "/")
			got = append(got, fmt.Sprintf("%d %s", p.Line, kind))
			if p.File != file {
				t.Errorf("problem in %q, want %q: %s", p.File, file, p.Message)
			}
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("not checked:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.Summary.Objects != 2 || r.Summary.NotUnderstood == nil || *r.Summary.NotUnderstood != 8 {
		t.Errorf("%d objects scanned, %v not understood; want 2 (Certificate, Widget) and 8", r.Summary.Objects, fmt.Sprint(deref(r.Summary.NotUnderstood)))
	}
}

func deref(n *int) any {
	if n == nil {
		return nil
	}
	return *n
}
