package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

func TestRuntimeWatchErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		root    bool
	}{
		{"format not supported", []string{"runtime", "watch", "-o", "sarif", "--duration", "1ms"}, "-o table or -o json", false},
		{"bad gate", []string{"runtime", "watch", "--fail-on", "severe", "--duration", "1ms"}, "--fail-on", false},
		{"missing BTF is a degraded sensor", []string{"runtime", "watch", "--btf", "/nonexistent/vmlinux", "--duration", "1m"}, "sensor degraded: load kernel BTF /nonexistent/vmlinux", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && os.Geteuid() != 0 && os.Getenv("PALISADE_REQUIRE_EBPF") == "" {
				t.Skip("needs root to reach the sensor's loader")
			}
			var out, errb bytes.Buffer
			code := run(context.Background(), tc.args, strings.NewReader(""), &out, &errb)
			if code != exitError || !strings.Contains(errb.String(), tc.wantErr) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, errb.String(), tc.wantErr)
			}
		})
	}
}
