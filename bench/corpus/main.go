// Command corpus writes a realistic corpus of Kubernetes workload manifests
// for the scan benchmarks: mixed kinds, several containers, a share of
// common violations, namespaces with Pod Security labels and network
// policies. Output is deterministic for a given seed.
//
//	go run ./bench/corpus -objects 10000 -out /tmp/corpus
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/palisade-sec/palisade/bench/internal/gen"
)

func main() {
	objects := flag.Int("objects", 10000, "number of workload objects")
	perFile := flag.Int("per-file", 50, "objects per YAML file")
	out := flag.String("out", "", "output directory (required)")
	seed := flag.Int64("seed", 1, "random seed")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "corpus: -out is required")
		os.Exit(2)
	}
	if err := gen.WriteCorpus(*out, *objects, *perFile, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "corpus:", err)
		os.Exit(1)
	}
}
