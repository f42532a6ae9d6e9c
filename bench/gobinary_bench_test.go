package bench

import (
	"context"
	"os"
	"runtime"
	"testing"

	"github.com/palisade-sec/palisade/internal/sbom/catalog"
)

// BenchmarkGoBinaryCatalog streams one big Go binary through the Go
// binary cataloger, as the image walker does (an io.Reader, once): build
// information and the symbol table for reachability. B/op is what it
// allocates; binary-MiB names the input. The binary is
// $PALISADE_BENCH_GO_BINARY, else this test binary (itself a large Go
// binary: it links the image scanner and its test harnesses).
//
//	go build -trimpath -o /tmp/palisade ./cmd/palisade
//	PALISADE_BENCH_GO_BINARY=/tmp/palisade go test ./bench -run x -bench GoBinaryCatalog -benchtime 5x -benchmem
func BenchmarkGoBinaryCatalog(b *testing.B) {
	path := os.Getenv("PALISADE_BENCH_GO_BINARY")
	if path == "" {
		var err error
		if path, err = os.Executable(); err != nil {
			b.Fatal(err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	c := catalog.GoBinary()
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		pkgs, err := c.CatalogStream(context.Background(), "bin", f)
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		f.Close()
		if err != nil || len(pkgs) == 0 || pkgs[0].GoSymbols == nil {
			b.Fatalf("%d packages, symbols read %v, error %v", len(pkgs), len(pkgs) > 0 && pkgs[0].GoSymbols != nil, err)
		}
		if d := after.HeapInuse - min(after.HeapInuse, before.HeapInuse); d > peak {
			peak = d
		}
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "binary-MiB")
	b.ReportMetric(float64(peak)/(1<<20), "heap-after-MiB")
}
