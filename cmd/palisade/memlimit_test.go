package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestScanMemoryLimit(t *testing.T) {
	write := func(t *testing.T, dir, name string, size int) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(int64(size)); err != nil { // sparse: no disk used
			t.Fatal(err)
		}
		f.Close()
	}
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		name   string
		files  map[string]int
		paths  func(dir string) []string
		getenv func(string) string
		want   int64
		reason string
	}{
		{name: "small input: the floor", files: map[string]int{"a.yaml": 1000, "b/c.yaml": 2000},
			want: minScanMemoryLimit, reason: "input size"},
		{name: "large input: five times its size", files: map[string]int{"a.yaml": 30 << 20, "b/c.yaml": 10 << 20},
			want: 5 * (40 << 20), reason: "input size"},
		{name: "two paths add up", files: map[string]int{"x/a.yaml": 20 << 20, "y/b.yaml": 20 << 20},
			paths: func(dir string) []string { return []string{filepath.Join(dir, "x"), filepath.Join(dir, "y", "b.yaml")} },
			want:  5 * (40 << 20), reason: "input size"},
		{name: "GOMEMLIMIT wins", files: map[string]int{"a.yaml": 10},
			getenv: func(k string) string { return map[string]string{"GOMEMLIMIT": "1GiB"}[k] }, reason: "GOMEMLIMIT is set"},
		{name: "standard input is not sized", paths: func(string) []string { return []string{"-"} }, reason: "standard input"},
		{name: "a chart is rendered", files: map[string]int{"chart/Chart.yaml": 100, "chart/templates/d.yaml": 100},
			reason: "Helm charts or kustomizations are rendered"},
		{name: "a kustomization is rendered", files: map[string]int{"k/kustomization.yaml": 100},
			reason: "Helm charts or kustomizations are rendered"},
		{name: "a packaged chart is rendered", files: map[string]int{"c-1.0.0.tgz": 100},
			reason: "Helm charts or kustomizations are rendered"},
		{name: "missing path: the floor, the scan reports it", paths: func(dir string) []string { return []string{filepath.Join(dir, "nope")} },
			want: minScanMemoryLimit, reason: "input size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, size := range tc.files {
				write(t, dir, name, size)
			}
			paths := []string{dir}
			if tc.paths != nil {
				paths = tc.paths(dir)
			}
			getenv := noEnv
			if tc.getenv != nil {
				getenv = tc.getenv
			}
			got, reason := scanMemoryLimit(getenv, paths)
			if got != tc.want || reason != tc.reason {
				t.Errorf("scanMemoryLimit = %d (%s), want %d (%s)", got, reason, tc.want, tc.reason)
			}
		})
	}
}
