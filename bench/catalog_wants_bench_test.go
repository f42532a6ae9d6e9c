package bench

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"testing"

	"github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
	"github.com/palisade-sec/palisade/internal/sbom/catalog"
)

// BenchmarkCatalogWants asks the default catalogers about every entry of
// the bookworm image's layer, as the layer walker does during a scan
// (Set.Wants and Set.StreamWants per tar header), and reports the time
// per image. Figures in bench/README.md.
func BenchmarkCatalogWants(b *testing.B) {
	type file struct {
		path string
		size int64
		mode fs.FileMode
	}
	zr, err := gzip.NewReader(bytes.NewReader(largestBlob(b, imagescantest.Bookworm(b))))
	if err != nil {
		b.Fatal(err)
	}
	var files []file
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, file{h.Name, h.Size, h.FileInfo().Mode()})
	}
	set := catalog.Default()
	b.ResetTimer()
	wanted := 0
	for b.Loop() {
		wanted = 0
		for _, f := range files {
			if set.Wants(f.path, f.size, f.mode) {
				wanted++
			}
			wanted += len(set.StreamWants(f.path, f.size, f.mode))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/image")
	b.ReportMetric(float64(len(files)), "files")
	b.ReportMetric(float64(wanted), "wanted")
}
