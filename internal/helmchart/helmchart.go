// Package helmchart renders and lints Palisade's own Helm chart
// (deploy/helm/palisade) with Helm's actions, exactly as `helm template`
// and `helm lint` do, so the chart's tests meet it as users do. Scanning
// the rendered chart with Palisade's rules is `palisade scan config`'s job
// (internal/render); installing it is Helm's install action.
package helmchart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	sigyaml "sigs.k8s.io/yaml"
)

// Load reads a chart directory or packaged archive.
func Load(path string) (*chart.Chart, error) {
	ch, err := loader.Load(path)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", path, err)
	}
	return ch, nil
}

// ReadValues merges values files in order (later files win, maps merged
// key by key), as `helm -f a.yaml -f b.yaml` does.
func ReadValues(files ...string) (map[string]any, error) {
	out := map[string]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("values %s: %w", f, err)
		}
		var m map[string]any
		if err := sigyaml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("values %s: %w", f, err)
		}
		out = loader.MergeMaps(out, m)
	}
	return out, nil
}

// Render renders ch as `helm template NAME CHART -n NAMESPACE` does
// (client-side: no cluster, lookups find nothing) and returns the
// manifest, hooks included. vals is not modified (Helm coalesces the
// chart's defaults into the maps it is given; it gets a copy).
func Render(ctx context.Context, ch *chart.Chart, name, namespace string, vals map[string]any) (string, error) {
	vals = CopyValues(vals)
	inst := action.NewInstall(action.NewConfiguration())
	inst.DryRunStrategy = action.DryRunClient
	inst.ReleaseName = name
	inst.Namespace = namespace
	inst.Replace = true
	rel, err := inst.RunWithContext(ctx, ch, vals)
	if err != nil {
		return "", fmt.Errorf("render %s as %s/%s: %w", ch.Name(), namespace, name, err)
	}
	r, ok := rel.(*release.Release)
	if !ok {
		return "", fmt.Errorf("render %s: unexpected release type %T", ch.Name(), rel)
	}
	var b strings.Builder
	b.WriteString(r.Manifest)
	for _, h := range r.Hooks {
		fmt.Fprintf(&b, "\n---\n%s\n", h.Manifest)
	}
	return b.String(), nil
}

// Lint runs `helm lint --strict` on the chart directory with vals: it
// returns every message at warning or above (errors first as Helm sorts
// them), nil when the chart is clean.
func Lint(dir, namespace string, vals map[string]any) []string {
	l := action.NewLint()
	l.Strict = true
	l.Namespace = namespace
	res := l.Run([]string{dir}, CopyValues(vals))
	var out []string
	for _, m := range res.Messages {
		if m.Severity >= support.WarningSev {
			out = append(out, m.Error())
		}
	}
	for _, err := range res.Errors {
		if len(out) == 0 || !strings.Contains(strings.Join(out, "\n"), err.Error()) {
			out = append(out, err.Error())
		}
	}
	return out
}

// Objects decodes a rendered manifest into its objects, skipping empty
// documents.
func Objects(manifest string) ([]*unstructured.Unstructured, error) {
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(manifest)), 4096)
	var out []*unstructured.Unstructured
	for i := 0; ; i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("rendered document %d: %w", i+1, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
			continue
		}
		// Unstructured's own decoding keeps integers as int64.
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("rendered document %d: %w", i+1, err)
		}
		out = append(out, u)
	}
}

// CopyValues deep-copies a values tree (maps and lists; scalars are
// shared), so Helm's actions cannot change the caller's values.
func CopyValues(vals map[string]any) map[string]any {
	if vals == nil {
		return map[string]any{}
	}
	return copyValue(vals).(map[string]any)
}

func copyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = copyValue(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = copyValue(e)
		}
		return out
	default:
		return v
	}
}
