package bench

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/vulndb"
	"github.com/palisade-sec/palisade/internal/vulndb/vulndbtest"
	"github.com/palisade-sec/palisade/internal/vulnmatch"
)

// heapPeak samples the Go heap while fn runs and returns the highest
// HeapInuse seen: the import's working set, without the process's other
// allocations (GC'd garbage of earlier benchmarks) counted.
func heapPeak(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	return peak.Load()
}

func maxRSS() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // KiB on Linux
}

// BenchmarkVulnDBImportGo imports the whole Go vulnerability database
// (golang.org/x/vulndb data/osv, ~4,800 records) into a new bbolt file:
// parse, validate, index, fsync and rename.
func BenchmarkVulnDBImportGo(b *testing.B) {
	dir := vulndbtest.GoVulnDB(b)
	ctx := context.Background()
	var records int
	var peak uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := vulndb.Cache{Dir: b.TempDir()}
		p := heapPeak(func() {
			res, err := c.ImportOSV(ctx, dir, "go-vulndb", time.Now())
			if err != nil {
				b.Fatal(err)
			}
			records = res.Source.Records
		})
		peak = max(peak, p)
		if i == 0 {
			if fi, err := os.Stat(c.DBPath()); err == nil {
				b.ReportMetric(float64(fi.Size())/(1<<20), "db-MiB")
			}
		}
	}
	b.ReportMetric(float64(records), "records")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(maxRSS(), "maxrss-MiB")
}

var (
	goDBOnce sync.Once
	goDBPath string
	goDBErr  error
)

// goDB imports the Go vulnerability database once per benchmark run.
func goDB(b *testing.B) *vulndb.DB {
	b.Helper()
	dir := vulndbtest.GoVulnDB(b)
	goDBOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "palisade-bench-vulndb-")
		if err != nil {
			goDBErr = err
			return
		}
		c := vulndb.Cache{Dir: tmp}
		_, goDBErr = c.ImportOSV(context.Background(), dir, "go-vulndb", time.Now())
		goDBPath = c.DBPath()
	})
	if goDBErr != nil {
		b.Fatal(goDBErr)
	}
	db, err := vulndb.Open(context.Background(), goDBPath)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// goPackages returns n Go modules named in the database, at version
// v0.0.1 (below most fixes, so most match) plus the standard library at an
// old toolchain: a worst case for a Go-heavy image.
func goPackages(b *testing.B, dir string, n int) []sbom.Package {
	b.Helper()
	names := map[string]bool{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		if len(names) >= n {
			break
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		rec, err := vulndb.ReadRecord(f)
		f.Close()
		if err != nil {
			continue
		}
		for _, a := range rec.Affected {
			if a.Package.Name != "stdlib" && a.Package.Name != "toolchain" {
				names[a.Package.Name] = true
			}
		}
	}
	sorted := make([]string, 0, len(names))
	for name := range names {
		sorted = append(sorted, name)
	}
	sort.Strings(sorted)
	pkgs := []sbom.Package{{Name: "stdlib", Version: "go1.20.1", Ecosystem: "Go"}}
	for _, name := range sorted[:min(n, len(sorted))] {
		pkgs = append(pkgs, sbom.Package{Name: name, Version: "v0.0.1", Ecosystem: "Go", Type: "golang"})
	}
	return pkgs
}

// BenchmarkVulnMatchGo matches 1,000 Go modules against the Go database.
func BenchmarkVulnMatchGo(b *testing.B) {
	db := goDB(b)
	pkgs := goPackages(b, vulndbtest.GoVulnDB(b), 1000)
	ctx := context.Background()
	var findings int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := vulnmatch.Match(ctx, db, pkgs, vulnmatch.Options{})
		if err != nil {
			b.Fatal(err)
		}
		findings = len(res.Findings)
	}
	b.ReportMetric(float64(len(pkgs))*float64(b.N)/b.Elapsed().Seconds(), "packages/s")
	b.ReportMetric(float64(findings), "findings")
}

// BenchmarkVulnMatchMiss looks up packages the database does not know, the
// common case for most packages of an image.
func BenchmarkVulnMatchMiss(b *testing.B) {
	db := goDB(b)
	pkgs := make([]sbom.Package, 1000)
	for i := range pkgs {
		pkgs[i] = sbom.Package{Name: "example.com/unknown/" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)), Version: "v1.2.3", Ecosystem: "Go"}
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := vulnmatch.Match(ctx, db, pkgs, vulnmatch.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(pkgs))*float64(b.N)/b.Elapsed().Seconds(), "packages/s")
}
