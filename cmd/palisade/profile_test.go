package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestProfileFlag: --profile writes a profile (pprof's format: a gzipped
// protocol buffer) or an execution trace, including when the command fails; an unknown kind is
// a usage error.
func TestProfileFlag(t *testing.T) {
	for _, tc := range []struct {
		kind string
		args []string
		code int
	}{
		{"cpu", []string{"rules", "list"}, exitClean},
		{"heap", []string{"rules", "list"}, exitClean},
		{"trace", []string{"rules", "list"}, exitClean},
		{"cpu", []string{"scan", "config", "testdata/does-not-exist"}, exitError},
	} {
		t.Run(tc.kind+"/"+tc.args[0], func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "p")
			_, stderr, code := palisade(t, "", append(tc.args, "--profile", tc.kind, "--profile-output", out)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, stderr)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if tc.kind == "trace" {
				if !bytes.HasPrefix(b, []byte("go 1.")) {
					t.Fatalf("not an execution trace: %q", b[:min(len(b), 16)])
				}
				return
			}
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s profile is not gzipped: %v", tc.kind, err)
			}
			if pb, err := io.ReadAll(zr); err != nil || len(pb) == 0 {
				t.Fatalf("%s profile: %d bytes, %v", tc.kind, len(pb), err)
			}
		})
	}
	if _, stderr, code := palisade(t, "", "version", "--profile", "mutex"); code != exitError {
		t.Errorf("--profile mutex: exit %d, want %d (%s)", code, exitError, stderr)
	}
}
