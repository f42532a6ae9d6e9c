package configscan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/manifest"
	"github.com/palisade-sec/palisade/internal/rule"
	"github.com/palisade-sec/palisade/internal/rules"
	"github.com/palisade-sec/palisade/internal/workload"
)

// batchedInput writes n workloads of varied kinds and faults to a
// temporary directory, a few of which do not decode, and an exemption
// annotation every 7th: enough for several batches (workloadBatch).
func batchedInput(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {pod-security.kubernetes.io/enforce: baseline}\n")
	for i := range n {
		ns := "shop"
		if i%3 == 0 {
			ns = "other"
		}
		annotations := ""
		if i%7 == 0 {
			annotations = "\n  annotations: {palisade.io/exempt: \"pss/privileged: a node agent\"}"
		}
		replicas := "2"
		if i%211 == 100 {
			replicas = `"two"` // does not decode: an error in this batch
		}
		security := "{runAsNonRoot: true}"
		switch i % 4 {
		case 1:
			security = "{privileged: true}"
		case 2:
			security = "{allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}"
		}
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%d
  namespace: %s%s
spec:
  replicas: %s
  selector: {matchLabels: {app: app-%d}}
  template:
    metadata: {labels: {app: app-%d}}
    spec:
      containers:
      - name: c
        image: registry.example.com/app:%d
        securityContext: %s
`, i, ns, annotations, replicas, i, i, i%5, security)
	}
	if err := os.WriteFile(filepath.Join(dir, "workloads.yaml"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func plainLoad(ctx context.Context, paths []string, mopts manifest.Options) (*manifest.Set, []Patched, error) {
	set, err := manifest.Load(ctx, paths, mopts)
	return set, nil, err
}

// TestRunInBatchesMatchesOnePass: a scan of more workloads than a batch,
// decoded and evaluated batch by batch, finds and reports exactly what one
// pass over the whole input does (every object
// decoded at once, then every rule evaluated), in the same order: the
// same findings, files and lines, suppressions and problems.
func TestRunInBatchesMatchesOnePass(t *testing.T) {
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Rules: set}
	for _, n := range []int{1, workloadBatch - 1, workloadBatch, 3*workloadBatch + 17} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dir := batchedInput(t, n)
			got, err := Run(context.Background(), Input{Paths: []string{dir}, Load: plainLoad}, opts)
			if err != nil {
				t.Fatal(err)
			}
			loaded, err := manifest.Load(context.Background(), []string{dir}, manifest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			inv, problems := workload.FromManifests(loaded, "")
			want, err := Evaluate(context.Background(), inv, nil, len(inv.Objects), append(loaded.Problems, problems...), opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Findings) == 0 || (n > 100) != (len(got.Problems) > 0) {
				t.Fatalf("%d findings, %d problems: the input has both (problems from 101 workloads on)", len(got.Findings), len(got.Problems))
			}
			if !reflect.DeepEqual(got.Findings, want.Findings) {
				t.Errorf("findings differ: %d in batches, %d in one pass", len(got.Findings), len(want.Findings))
				for i := range min(len(got.Findings), len(want.Findings)) {
					if !reflect.DeepEqual(got.Findings[i], want.Findings[i]) {
						t.Errorf("first difference at %d:\n%+v\n%+v", i, got.Findings[i], want.Findings[i])
						break
					}
				}
			}
			if !reflect.DeepEqual(got.Problems, want.Problems) {
				t.Errorf("problems:\n%v\nwant:\n%v", got.Problems, want.Problems)
			}
			if got.Summary.Total != want.Summary.Total || got.Summary.Suppressed != want.Summary.Suppressed {
				t.Errorf("summary %+v, want %+v", got.Summary, want.Summary)
			}
		})
	}
}

// TestRunCancelledMidScan: a scan whose context ends while its batches are
// evaluated returns the context's error, not a partial report.
func TestRunCancelledMidScan(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelling := &rule.Rule{ID: "test/cancel", Title: "cancels the scan", Severity: finding.SeverityLow,
		Workload: func(*rule.Context, *workload.Workload) []rule.Violation {
			cancel() // from every worker: cancel is idempotent
			return []rule.Violation{{Message: "seen"}}
		}}
	set, err := rule.NewSet(cancelling)
	if err != nil {
		t.Fatal(err)
	}
	dir := batchedInput(t, 3*workloadBatch)
	r, err := Run(ctx, Input{Paths: []string{dir}, Load: plainLoad}, Options{Rules: set})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: report %v, error %v; want context.Canceled", r != nil, err)
	}
}
