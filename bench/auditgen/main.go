// Command auditgen writes a synthetic Kubernetes audit log (audit.k8s.io/v1
// Event JSON lines) of a given size to stdout, for the auditlog
// benchmarks: mostly benign control-plane and workload traffic with a
// sprinkling of secret reads, execs, privileged pods and forbidden probes.
//
//	go run ./bench/auditgen -bytes 1G | palisade auditlog analyze - -o json
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/palisade-sec/palisade/bench/internal/gen"
)

func main() {
	size := flag.String("bytes", "100M", "approximate output size (K, M, G suffixes)")
	seed := flag.Int64("seed", 1, "random seed")
	flag.Parse()
	n, err := parseSize(*size)
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditgen:", err)
		os.Exit(2)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	if err := gen.WriteAuditLog(w, n, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "auditgen:", err)
		os.Exit(1)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "auditgen:", err)
		os.Exit(1)
	}
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return v * mult, nil
}
