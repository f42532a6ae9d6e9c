package render

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/manifest"
)

func TestTemplateLineMap(t *testing.T) {
	tests := []struct {
		name, tmpl, out string
		want            []int
	}{
		{
			name: "include expands to several lines",
			tmpl: "kind: Pod\nmetadata:\n  labels:\n    {{- include \"l\" . | nindent 4 }}\nspec:\n  hostNetwork: true\n",
			out:  "kind: Pod\nmetadata:\n  labels:\n    a: b\n    c: d\n    e: f\nspec:\n  hostNetwork: true\n",
			want: []int{1, 2, 3, 4, 4, 4, 5, 6},
		},
		{
			name: "value inside a line",
			tmpl: "spec:\n  containers:\n  - name: x\n    image: \"{{ .Values.image }}\"\n    args: []\n",
			out:  "spec:\n  containers:\n  - name: x\n    image: \"nginx:1\"\n    args: []\n",
			want: []int{1, 2, 3, 4, 5},
		},
		{
			name: "range repeats a line",
			tmpl: "args:\n{{- range .Values.args }}\n- {{ . | quote }}\n{{- end }}\nports: []\n",
			out:  "args:\n- \"a\"\n- \"b\"\n- \"c\"\nports: []\n",
			want: []int{1, 3, 3, 3, 5},
		},
		{
			name: "branch not taken",
			tmpl: "spec:\n  {{- if .Values.x }}\n  x: 1\n  {{- else }}\n  y: 2\n  {{- end }}\n  z: 3\n",
			out:  "spec:\n  y: 2\n  z: 3\n",
			want: []int{1, 5, 7},
		},
		{
			name: "toYaml of a block",
			tmpl: "spec:\n  resources:\n    {{- toYaml .Values.r | nindent 4 }}\n  volumes: []\n",
			out:  "spec:\n  resources:\n    limits:\n      cpu: 1\n  volumes: []\n",
			want: []int{1, 2, 3, 3, 4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := templateLineMap(tt.tmpl, tt.out)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("templateLineMap = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestChartObjectsAtTemplateLines: objects of a rendered chart and their
// fields are located at the lines of the template file that wrote them.
func TestChartObjectsAtTemplateLines(t *testing.T) {
	chart := filepath.Join("testdata", "charts", "web")
	set, _, err := Load(context.Background(), []string{chart}, Options{Set: []string{"privileged=true"}}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kind, field string
		want        int // line of templates/<kind>.yaml
	}{
		{"Deployment", "", 1},
		{"Deployment", "metadata.namespace", 5},
		{"Deployment", "spec.template.spec.containers[0].image", 18},
		{"Deployment", "spec.template.spec.containers[0].securityContext.privileged", 20},
	}
	for _, tt := range tests {
		var obj *manifest.Object
		for _, o := range set.Objects {
			if o.Kind == tt.kind {
				obj = o
			}
		}
		if obj == nil {
			t.Fatalf("no %s rendered", tt.kind)
		}
		got := obj.Line
		if tt.field != "" {
			got = obj.LineOf(tt.field)
		}
		if got != tt.want || filepath.Base(obj.File) != "deployment.yaml" {
			t.Errorf("%s %q at %s:%d, want deployment.yaml:%d", tt.kind, tt.field, obj.File, got, tt.want)
		}
	}
}

// FuzzTemplateLineMap: any template and output give a line of the template
// for every output line, or no map at all; never a panic.
func FuzzTemplateLineMap(f *testing.F) {
	f.Add("a: 1\n{{ include \"x\" . }}\nb: 2\n", "a: 1\nx: y\nz: w\nb: 2\n")
	f.Add("", "")
	f.Add("{{- range . }}\n- {{ . }}\n{{- end }}", "- 1\n- 2")
	f.Fuzz(func(t *testing.T, tmpl, out string) {
		if len(tmpl) > 4096 || len(out) > 4096 {
			return
		}
		m := templateLineMap(tmpl, out)
		if m == nil {
			return
		}
		lines := len(strings.Split(strings.TrimSuffix(tmpl, "\n"), "\n"))
		if len(m) != len(strings.Split(strings.TrimSuffix(out, "\n"), "\n")) {
			t.Fatalf("%d entries for %q", len(m), out)
		}
		for i, l := range m {
			if l < 1 || l > lines {
				t.Fatalf("output line %d mapped to %d, template has %d lines", i+1, l, lines)
			}
		}
	})
}
