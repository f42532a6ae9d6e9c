package bench

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/bench/internal/procstatus"
	"github.com/palisade-sec/palisade/internal/buildinfo"
	"github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
	"github.com/palisade-sec/palisade/internal/vulndb/vulndbtest"
)

// Image scanning as a user runs it: the palisade binary, a child process,
// so wall time includes start-up and peak RSS is the whole process's
// (rusage of the child). See bench/README.md ("Image scanning") and
// bench/image.sh.

// palisadeBinary builds cmd/palisade once per benchmark run, the way a
// release is built (internal/release.BuildBinary): static, with
// buildinfo.GoBuildTags.
func palisadeBinary(b *testing.B) string { return commandBinary(b, "palisade") }

// commandBinary builds cmd/NAME the way palisadeBinary does.
func commandBinary(b *testing.B, name string) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), name)
	cmd := exec.Command("go", "build", "-trimpath", "-tags", buildinfo.GoBuildTags, "-o", out, "../cmd/"+name)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, msg)
	}
	return out
}

// runResult is one run of the binary.
type runResult struct {
	wall, cpu time.Duration
	rssMiB    float64
	anonMiB   float64 // peak RssAnon: the heap and stacks, without the binary's file pages
	code      int
	stderr    string
}

func runPalisade(b *testing.B, bin string, args ...string) runResult {
	b.Helper()
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatalf("palisade %v: %v", args, err)
	}
	// The child's rusage ru_maxrss is useless here: Go starts children
	// with vfork semantics, and Linux carries the parent's (this test
	// process's) high-water mark into the child at exec. VmHWM of the
	// child's own address space is polled instead; it only grows, so a
	// late read loses at most the last milliseconds.
	hwm := make(chan [2]float64, 1)
	stop := make(chan struct{})
	go func() {
		var peak [2]float64
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			kib := procstatus.Fields(cmd.Process.Pid, "VmHWM", "RssAnon")
			hw, anon := float64(kib[0])/1024, float64(kib[1])/1024
			peak[0], peak[1] = max(peak[0], hw), max(peak[1], anon)
			select {
			case <-stop:
				hwm <- peak
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	r := runResult{wall: time.Since(start), stderr: stderr.String()}
	close(stop)
	mem := <-hwm
	r.rssMiB, r.anonMiB = mem[0], mem[1]
	if cmd.ProcessState == nil {
		b.Fatalf("palisade %v: %v", args, err)
	}
	r.code = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return r
}

// warmImageDB imports the whole Go vulnerability database and Debian
// records (the hand-made ones of the bookworm test plus 20,000 generated
// ones, the order of OSV's Debian export) into a cache directory, with the
// binary, and reports the Go import's time and peak RSS.
func warmImageDB(b *testing.B, bin string) string {
	b.Helper()
	cache := b.TempDir()
	goDB := vulndbtest.GoVulnDB(b)
	r := runPalisade(b, bin, "db", "import", goDB, "--name", "go-vulndb", "--cache-dir", cache)
	if r.code != 0 {
		b.Fatalf("db import: %s", r.stderr)
	}
	b.Logf("db import of the whole Go database (%s): %v wall, %v CPU, peak RSS %.0f MiB", vulndbtest.GoVulnDBModule, r.wall.Round(time.Millisecond), r.cpu.Round(time.Millisecond), r.rssMiB)
	recs := map[string][]byte{}
	for _, a := range bookwormAdvisories() {
		recs[a.id] = imagescantest.DebianRecord(a.id, a.cve, a.src, a.fixed, a.vector)
	}
	r = runPalisade(b, bin, "db", "import", imagescantest.WriteRecords(b, recs), "--name", "debian", "--cache-dir", cache)
	if r.code != 0 {
		b.Fatalf("db import: %s", r.stderr)
	}
	return cache
}

// debianAdvisory is one advisory of the benchmark's Debian data, written
// as an OSV record for Palisade and as a Security Tracker entry for Trivy
// (trivy_bench_test.go).
type debianAdvisory struct{ id, cve, src, fixed, vector string }

// bookwormAdvisories are the benchmark's Debian advisories: 20,000
// generated ones over 2,000 source names (none in bookworm) and six on
// bookworm's own packages.
func bookwormAdvisories() []debianAdvisory {
	var out []debianAdvisory
	for i := 0; i < 20000; i++ {
		out = append(out, debianAdvisory{fmt.Sprintf("DEBIAN-CVE-2098-%05d", i), fmt.Sprintf("CVE-2098-%05d", i), fmt.Sprintf("src%04d", i%2000), "1.0-1", ""})
	}
	for _, a := range []struct{ id, src, fixed string }{
		{"DEBIAN-CVE-2099-0001", "glibc", "2.36-9+deb12u15"}, {"DEBIAN-CVE-2099-0002", "glibc", "2.36-9+deb12u3"},
		{"DEBIAN-CVE-2099-0003", "zlib", "1:1.2.13.dfsg-1+deb12u1"}, {"DEBIAN-CVE-2099-0005", "bash", "5.2.15-2+b1"},
		{"DEBIAN-CVE-2099-0007", "systemd", ""}, {"DEBIAN-CVE-2099-0008", "util-linux", "2.38.1-5+deb12u4"},
	} {
		out = append(out, debianAdvisory{a.id, "CVE" + a.id[len("DEBIAN-CVE"):], a.src, a.fixed, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"})
	}
	return out
}

// report prints the median wall and CPU times and the highest peak RSS.
func reportRuns(b *testing.B, what string, runs []runResult) {
	b.Helper()
	reportRunsAs(b, what, "", runs)
}

// reportRunsAs is reportRuns with a prefix on the metrics' units, for a
// benchmark that reports several kinds of runs.
func reportRunsAs(b *testing.B, what, prefix string, runs []runResult) {
	b.Helper()
	walls := make([]time.Duration, len(runs))
	cpus := make([]time.Duration, len(runs))
	peak, anon := 0.0, 0.0
	for i, r := range runs {
		walls[i], cpus[i] = r.wall, r.cpu
		peak, anon = max(peak, r.rssMiB), max(anon, r.anonMiB)
	}
	sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
	sort.Slice(cpus, func(i, j int) bool { return cpus[i] < cpus[j] })
	b.ReportMetric(float64(walls[len(walls)/2].Milliseconds()), prefix+"wall-ms")
	b.ReportMetric(float64(cpus[len(cpus)/2].Milliseconds()), prefix+"cpu-ms")
	b.ReportMetric(peak, prefix+"peak-RSS-MiB")
	b.ReportMetric(anon, prefix+"peak-anon-MiB")
	b.Logf("%s: %d runs, wall median %v (min %v), CPU median %v, peak RSS %.1f MiB (anonymous %.1f MiB)",
		what, len(runs), walls[len(walls)/2].Round(time.Millisecond), walls[0].Round(time.Millisecond), cpus[len(cpus)/2].Round(time.Millisecond), peak, anon)
}

// BenchmarkImageScanBookworm is the full scan (catalogue + match) of the
// debootstrap bookworm image (88 packages, one 51 MB layer) with a warm
// database: vulnerabilities only (as Trivy's --scanners vuln), and with the
// secret scan too (scan image's default); cold (--no-cache: every layer
// read), warm (the image's inventory cached by a previous scan) and
// layers (no inventory, the layer replayed from the layer cache: what a
// new image on this base costs for its base layer).
func BenchmarkImageScanBookworm(b *testing.B) {
	img := imagescantest.Bookworm(b)
	bin := palisadeBinary(b)
	cache := warmImageDB(b, bin)
	for _, sc := range []string{"vuln", "vuln,secret"} {
		for _, mode := range []string{"cold", "warm", "layers"} {
			name, args := sc+"/"+mode, []string{"scan", "image", "oci:" + img, "--scanners", sc, "--cache-dir", cache, "-o", "json", "--fail-on", "none"}
			switch mode {
			case "cold":
				args = append(args, "--no-cache")
			default:
				// The first scan fills the caches; "warm" runs only open the
				// layout, read the cached inventory and match; "layers" runs
				// find no inventory (as a new image on this base would) and
				// replay the layer from the layer cache.
				if r := runPalisade(b, bin, args...); r.code != 0 {
					b.Fatalf("exit %d: %s", r.code, r.stderr)
				}
			}
			b.Run(name, func(b *testing.B) {
				var runs []runResult
				for i := 0; i < b.N; i++ {
					if mode == "layers" {
						if err := os.RemoveAll(filepath.Join(cache, "inventories")); err != nil {
							b.Fatal(err)
						}
					}
					r := runPalisade(b, bin, args...)
					if r.code != 0 {
						b.Fatalf("exit %d: %s", r.code, r.stderr)
					}
					runs = append(runs, r)
				}
				reportRuns(b, "bookworm "+name, runs)
			})
		}
	}
}

// BenchmarkImageScan1GiB scans a generated 1 GiB image (4 uncompressed
// layers of 256 files of 1 MiB; half are executables with an ELF header,
// which the Go-binary cataloger reads to their end) with every scanner and
// reports the binary's peak RSS: layers stream, nothing is kept.
func BenchmarkImageScan1GiB(b *testing.B) {
	bin := palisadeBinary(b)
	cache := warmImageDB(b, bin)
	dir := largeImage(b, 4, 256, 1<<20)
	var runs []runResult
	for i := 0; i < b.N; i++ {
		r := runPalisade(b, bin, "scan", "image", "oci:"+dir, "--cache-dir", cache, "--no-cache", "-o", "json", "--fail-on", "none")
		if r.code != 0 {
			b.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		runs = append(runs, r)
	}
	reportRuns(b, "1 GiB image", runs)
}

// BenchmarkImageDBImportGo imports the whole Go vulnerability database
// with the binary.
func BenchmarkImageDBImportGo(b *testing.B) {
	bin := palisadeBinary(b)
	goDB := vulndbtest.GoVulnDB(b)
	var runs []runResult
	for i := 0; i < b.N; i++ {
		r := runPalisade(b, bin, "db", "import", goDB, "--name", "go-vulndb", "--cache-dir", b.TempDir())
		if r.code != 0 {
			b.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		runs = append(runs, r)
	}
	reportRuns(b, "db import of the Go database", runs)
}

// largeImage writes an OCI layout of layers × files × size bytes of
// random content, streaming each layer to disk.
func largeImage(b *testing.B, layers, files, size int) string {
	b.Helper()
	dir := b.TempDir()
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		b.Fatal(err)
	}
	writeBlob := func(write func(w io.Writer) error) (string, int64) {
		f, err := os.CreateTemp(blobs, "tmp")
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		cw := &countWriter{w: io.MultiWriter(f, h)}
		if err := write(cw); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		d := hex.EncodeToString(h.Sum(nil))
		if err := os.Rename(f.Name(), filepath.Join(blobs, d)); err != nil {
			b.Fatal(err)
		}
		return "sha256:" + d, cw.n
	}
	rng := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, size)
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
	}
	var layerDescs []desc
	var diffIDs []string
	for l := 0; l < layers; l++ {
		d, n := writeBlob(func(w io.Writer) error {
			tw := tar.NewWriter(w)
			for i := 0; i < files; i++ {
				_, _ = rng.Read(buf) // never fails
				mode := int64(0o644)
				if i%2 == 0 {
					copy(buf, "\x7fELF\x02\x01\x01")
					mode = 0o755
				}
				if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("data/l%d/f%04d", l, i), Mode: mode, Size: int64(size), Typeflag: tar.TypeReg}); err != nil {
					return err
				}
				if _, err := tw.Write(buf); err != nil {
					return err
				}
			}
			return tw.Close()
		})
		layerDescs = append(layerDescs, desc{"application/vnd.oci.image.layer.v1.tar", d, n})
		diffIDs = append(diffIDs, d)
	}
	jsonBlob := func(v any) (string, int64) {
		return writeBlob(func(w io.Writer) error { return json.NewEncoder(w).Encode(v) })
	}
	cfgD, cfgN := jsonBlob(map[string]any{"architecture": "amd64", "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	manD, manN := jsonBlob(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": desc{"application/vnd.oci.image.config.v1+json", cfgD, cfgN}, "layers": layerDescs})
	index := map[string]any{"schemaVersion": 2, "manifests": []any{map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manD, "size": manN,
		"platform": map[string]string{"architecture": "amd64", "os": "linux"}}}}
	for name, v := range map[string]any{"index.json": index, "oci-layout": map[string]string{"imageLayoutVersion": "1.0.0"}} {
		j, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(dir, name), j, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
