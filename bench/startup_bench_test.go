package bench

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
)

// scanImageBinary builds bench/cmd/scanimage: scan image's library calls
// in a binary that links nothing else.
func scanImageBinary(b *testing.B) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), "scanimage")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./cmd/scanimage")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, msg)
	}
	return out
}

// installedCopy copies a binary into a new file with write(2), as
// unpacking a release archive or a package does. The Go linker writes its
// output through a memory map, and a process run from that file peaked at
// 7 to 25 MiB more file-backed RSS than one run from a copy of the same
// bytes (bench/README.md, "Warm re-scan: the start-up, not the
// database").
func installedCopy(b *testing.B, src string) string {
	b.Helper()
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(b.TempDir(), filepath.Base(src)+"-installed")
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		b.Fatalf("copy %s: %v", src, err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
	return dst
}

// BenchmarkImageScanStartup separates what a scan of the bookworm image
// costs from what starting the palisade binary costs. Each iteration runs
// the palisade binary, the lean palisade-scan (`palisade-scan image`, the
// same command) and bench/cmd/scanimage (the same library calls in a
// binary that links only them) one after the other on the same image,
// database and caches, so all see the same machine state; "version" is
// `palisade version` and `palisade-scan version`, the start-up alone. The
// palisade binary runs twice per iteration: from the file go build wrote
// ("palisade-") and from an installed copy ("installed-"); palisade-scan
// ("scan-") and scanimage run from copies. Before measuring, the
// binaries' JSON reports must be identical byte for byte, cold and warm.
func BenchmarkImageScanStartup(b *testing.B) {
	img := imagescantest.Bookworm(b)
	bin := palisadeBinary(b)
	installed := installedCopy(b, bin)
	slim := installedCopy(b, scanImageBinary(b))
	lean := installedCopy(b, commandBinary(b, "palisade-scan"))
	cache := warmImageDB(b, bin)
	b.Run("version", func(b *testing.B) {
		var full, inst, scan []runResult
		for i := 0; i < b.N; i++ {
			for _, run := range []struct {
				bin  string
				runs *[]runResult
			}{{bin, &full}, {installed, &inst}, {lean, &scan}} {
				r := runPalisade(b, run.bin, "version")
				if r.code != 0 {
					b.Fatalf("%s version: exit %d: %s", run.bin, r.code, r.stderr)
				}
				*run.runs = append(*run.runs, r)
			}
		}
		reportRuns(b, "palisade version", full)
		reportRunsAs(b, "palisade version installed", "installed-", inst)
		reportRunsAs(b, "palisade-scan version", "scan-", scan)
	})
	for _, sc := range []string{"vuln", "vuln,secret"} {
		for _, mode := range []string{"cold", "warm"} {
			common := []string{"--scanners", sc, "--cache-dir", cache}
			if mode == "cold" {
				common = append(common, "--no-cache")
			}
			args := append([]string{"scan", "image", "oci:" + img, "-o", "json", "--fail-on", "none"}, common...)
			slimArgs := append(append([]string{}, common...), "oci:"+img)
			leanArgs := args[1:] // image oci:… : palisade-scan's command
			// The first runs fill the caches for "warm" and check that
			// the binaries report the same.
			want := reportOf(b, bin, args...)
			if got := reportOf(b, slim, slimArgs...); !bytes.Equal(want, got) {
				b.Fatalf("%s/%s: scanimage's report differs from palisade's (%d and %d bytes)", sc, mode, len(got), len(want))
			}
			if got := reportOf(b, lean, leanArgs...); !bytes.Equal(want, got) {
				b.Fatalf("%s/%s: palisade-scan's report differs from palisade's (%d and %d bytes)", sc, mode, len(got), len(want))
			}
			b.Run(sc+"/"+mode, func(b *testing.B) {
				var full, inst, scan, lib []runResult
				for i := 0; i < b.N; i++ {
					for _, run := range []struct {
						bin  string
						args []string
						runs *[]runResult
					}{{bin, args, &full}, {installed, args, &inst}, {lean, leanArgs, &scan}, {slim, slimArgs, &lib}} {
						r := runPalisade(b, run.bin, run.args...)
						if r.code != 0 {
							b.Fatalf("%s: exit %d: %s", run.bin, r.code, r.stderr)
						}
						*run.runs = append(*run.runs, r)
					}
				}
				reportRunsAs(b, "bookworm "+sc+"/"+mode+" palisade", "palisade-", full)
				reportRunsAs(b, "bookworm "+sc+"/"+mode+" palisade installed", "installed-", inst)
				reportRunsAs(b, "bookworm "+sc+"/"+mode+" palisade-scan installed", "scan-", scan)
				reportRunsAs(b, "bookworm "+sc+"/"+mode+" scanimage", "scanimage-", lib)
			})
		}
	}
}

// reportOf runs a binary and returns its standard output.
func reportOf(b *testing.B, bin string, args ...string) []byte {
	b.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		b.Fatalf("%s %v: %v\n%s", bin, args, err, stderr)
	}
	return out
}
