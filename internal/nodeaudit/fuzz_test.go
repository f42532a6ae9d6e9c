package nodeaudit

import (
	"os"
	"path/filepath"
	"testing"
)

// Seeds come from the fixture trees and testdata/fuzz/<FuzzName>/ (Go's
// corpus format); the readers must never panic and never hang on any input.

func addFixtureSeeds(f *testing.F, glob string) {
	matches, _ := filepath.Glob(filepath.Join("testdata", "hosts", "*", "*", glob))
	for _, m := range matches {
		if data, err := os.ReadFile(m); err == nil {
			f.Add(data)
		}
	}
}

func FuzzParseK3sConfig(f *testing.F) {
	addFixtureSeeds(f, "etc/rancher/k3s/config.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseK3sConfig(data)
		if err != nil {
			return
		}
		m := MergeK3sConfig(c, c)
		_ = m.ComponentArgs("kube-apiserver-arg")
		_ = m.Bool("secrets-encryption")
	})
}

func FuzzParseArgsFile(f *testing.F) {
	addFixtureSeeds(f, "var/snap/microk8s/current/args/*")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, a := range ParseArgsFile(data, map[string]string{"SNAP_DATA": "/var/snap/microk8s/current"}) {
			if a.Name == "" {
				t.Fatalf("empty flag name from %q", data)
			}
		}
		_ = ParseEnvFile(data)
	})
}

func FuzzParseStaticPod(f *testing.F) {
	addFixtureSeeds(f, "etc/kubernetes/manifests/*.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		argv, err := ParseStaticPod(data)
		if err != nil {
			return
		}
		if len(argv) > 0 {
			_ = ParseArgs(argv[1:])
		}
		_, _ = RunningLine(data, "kube-apiserver")
	})
}
