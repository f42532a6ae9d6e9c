package hardening

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/workload"
)

// TestMessagesAsFormatted: the messages built by concatenation (the rules
// that fire most) are those fmt.Sprintf with %q built before, also for
// names that %q escapes.
func TestMessagesAsFormatted(t *testing.T) {
	const odd, plain = "c\"\\é\x01\t", "app"
	doc := `apiVersion: apps/v1
kind: Deployment
metadata: {name: w, namespace: ns}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
      - name: "c\"\\é\u0001\t"
        image: registry.example.com/app
      - name: app
        image: registry.example.com/app:latest
        securityContext: {runAsUser: 5, runAsGroup: 7}
`
	file := filepath.Join(t.TempDir(), "w.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := manifest.Load(context.Background(), []string{file}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv, probs := workload.FromManifests(set, "")
	if len(set.Problems)+len(probs) != 0 {
		t.Fatalf("problems: %v %v", set.Problems, probs)
	}
	const img, latest = "registry.example.com/app", "registry.example.com/app:latest"
	tests := []struct {
		rule *rule.Rule
		want []string
	}{
		{lowID(true), []string{
			fmt.Sprintf("container %q sets no %s: the image decides it", odd, "runAsUser"),
			fmt.Sprintf("container %q runs with %s %d, not above %d", plain, "runAsUser", 5, highIDThreshold)}},
		{lowID(false), []string{
			fmt.Sprintf("container %q sets no %s: the image decides it", odd, "runAsGroup"),
			fmt.Sprintf("container %q runs with %s %d, not above %d", plain, "runAsGroup", 7, highIDThreshold)}},
		{readOnlyRootFS(), []string{
			fmt.Sprintf("container %q does not set securityContext.readOnlyRootFilesystem: true", odd),
			fmt.Sprintf("container %q does not set securityContext.readOnlyRootFilesystem: true", plain)}},
		{imageNotPinned(), []string{
			fmt.Sprintf("container %q image %q is not pinned by digest", odd, img),
			fmt.Sprintf("container %q image %q is not pinned by digest", plain, latest)}},
		{latestTag(), []string{
			fmt.Sprintf("container %q image %q has no tag, so it runs whatever \"latest\" is", odd, img),
			fmt.Sprintf("container %q image %q uses the mutable \"latest\" tag", plain, latest)}},
		{resourceRule("test/cpu-limits", "limits", "cpu", 1, "t", "d", "f"), []string{
			fmt.Sprintf("container %q sets no resources.%s", odd, "limits.cpu"),
			fmt.Sprintf("container %q sets no resources.%s", plain, "limits.cpu")}},
	}
	for _, tt := range tests {
		t.Run(tt.rule.ID, func(t *testing.T) {
			rules, err := rule.NewSet(tt.rule)
			if err != nil {
				t.Fatal(err)
			}
			fs, err := rules.Evaluate(context.Background(), rule.NewContext(inv, rule.Settings{}, rules), nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				got = append(got, f.Message)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("messages\n got %q\nwant %q", got, want)
			}
		})
	}
}
