package bench

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/palisade-sec/palisade/internal/agent"
	"github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
	"github.com/palisade-sec/palisade/internal/testregistry"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// BenchmarkAgentCatalogue: what the agent's registry scanner costs for the
// debootstrap bookworm image pulled from a real registry (its own
// process): catalogued without a vulnerability database (the runtime
// sensors' file list), then matched once a database arrives (from the
// kept package list, no registry request), against a cold scan with the
// database in place from the start. CPU per operation, this process only
// (the registry is another); every op starts from an empty state
// directory.
func BenchmarkAgentCatalogue(b *testing.B) {
	img := imagescantest.BookwormImage(b)
	reg := testregistry.Start(b, testregistry.Options{})
	ref := reg.Host + "/edge/bookworm:12"
	r, err := name.ParseReference(ref)
	if err != nil {
		b.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		b.Fatal(err)
	}
	digest := imagescantest.Digest(b, img)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	recs := map[string][]byte{"DEBIAN-CVE-2026-1000": imagescantest.DebianRecord("DEBIAN-CVE-2026-1000", "CVE-2026-1000", "glibc", "2.36-9+deb12u99", "")}
	importDB := func(dir string) {
		if _, err := (vulndb.Cache{Dir: dir}).ImportOSV(ctx, imagescantest.WriteRecords(b, recs), "debian-bench", time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	scanner := func(dir string) *agent.RegistryScanner {
		s, err := agent.NewRegistryScanner(agent.RegistryScanConfig{InsecureRegistries: []string{reg.Host}}, dir, log)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	b.Run("catalogue-then-match", func(b *testing.B) {
		var catalogue, match time.Duration
		for range b.N {
			dir := b.TempDir()
			s := scanner(dir)
			c0 := processCPU()
			if err := s.Catalogue(ctx, ref, digest); err != nil {
				b.Fatal(err)
			}
			c1 := processCPU()
			importDB(dir)
			c2 := processCPU()
			if _, err := s.Scan(ctx, ref, digest); err != nil {
				b.Fatal(err)
			}
			catalogue, match = catalogue+c1-c0, match+processCPU()-c2
			if s.Walks() != 1 {
				b.Fatalf("%d walks: the match read the image again", s.Walks())
			}
			s.Close()
		}
		b.ReportMetric(float64(catalogue.Microseconds())/1000/float64(b.N), "catalogue-cpu-ms/op")
		b.ReportMetric(float64(match.Microseconds())/1000/float64(b.N), "match-cpu-ms/op")
	})
	b.Run("scan-with-db", func(b *testing.B) {
		var scan time.Duration
		for range b.N {
			dir := b.TempDir()
			importDB(dir)
			s := scanner(dir)
			c0 := processCPU()
			if _, err := s.Scan(ctx, ref, digest); err != nil {
				b.Fatal(err)
			}
			scan += processCPU() - c0
			s.Close()
		}
		b.ReportMetric(float64(scan.Microseconds())/1000/float64(b.N), "scan-cpu-ms/op")
	})
}
