package bench

import (
	"bytes"
	stdgzip "compress/gzip"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
	"github.com/palisade-sec/palisade/internal/inflate"
)

// BenchmarkInflateBookwormLayer decompresses the bookworm image's one
// 51 MB gzip layer (from memory, output discarded) with the standard
// library, klauspost/compress (the layer walker's decoder before
// internal/inflate) and internal/inflate: the decoder alone, which is
// most of a cold image scan's CPU. Figures in bench/README.md.
func BenchmarkInflateBookwormLayer(b *testing.B) {
	layer := largestBlob(b, imagescantest.Bookworm(b))
	for _, dec := range []struct {
		name string
		run  func([]byte) (int64, error)
	}{
		{"stdlib", func(p []byte) (int64, error) {
			zr, err := stdgzip.NewReader(bytes.NewReader(p))
			if err != nil {
				return 0, err
			}
			return io.Copy(io.Discard, zr)
		}},
		{"klauspost", func(p []byte) (int64, error) {
			zr, err := kgzip.NewReader(bytes.NewReader(p))
			if err != nil {
				return 0, err
			}
			return io.Copy(io.Discard, zr)
		}},
		{"inflate", func(p []byte) (int64, error) {
			var n int64
			err := inflate.Gunzip(bytes.NewReader(p), func(q []byte) error { n += int64(len(q)); return nil })
			return n, err
		}},
	} {
		b.Run(dec.name, func(b *testing.B) {
			b.SetBytes(int64(len(layer)))
			cpu0 := processCPU()
			for b.Loop() {
				n, err := dec.run(layer)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(n)/1e6, "out-MB")
			}
			// CPU, not wall: the machine is shared, and CPU time is what
			// a decoder costs whatever the load.
			b.ReportMetric(float64((processCPU()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}

// processCPU is this process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// largestBlob reads the largest blob of an OCI layout: the bookworm
// image's one layer.
func largestBlob(b *testing.B, layout string) []byte {
	b.Helper()
	dir := filepath.Join(layout, "blobs", "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var best string
	var size int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Size() > size {
			best, size = e.Name(), fi.Size()
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, best))
	if err != nil {
		b.Fatal(err)
	}
	return data
}
