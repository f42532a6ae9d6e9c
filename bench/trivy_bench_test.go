package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
	"github.com/palisade-sec/palisade/internal/vulndb/vulndbtest"
)

// Palisade against Trivy on the bookworm image, side by side (issue #19's
// goal: a cold scan in ≤ 0.35× Trivy's time). Trivy and its own database
// builder are built by bench/trivy.sh into $PALISADE_TRIVY_DIR (default
// ~/.cache/palisade/trivy); the benchmark skips without them unless
// PALISADE_REQUIRE_TRIVY=1. Both scanners get the same offline data: the
// whole Go vulnerability database and the benchmark's 20,006 Debian
// advisories, as OSV records imported by `palisade db import` and as
// Debian Security Tracker entries built into trivy.db by `trivy-db build`.

func trivyTools(b *testing.B) (trivy, trivyDB string) {
	dir := os.Getenv("PALISADE_TRIVY_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "palisade", "trivy")
	}
	trivy, trivyDB = filepath.Join(dir, "trivy"), filepath.Join(dir, "trivy-db")
	for _, p := range []string{trivy, trivyDB} {
		if _, err := os.Stat(p); err != nil {
			msg := "Trivy not built: run bench/trivy.sh; looked for " + p
			if os.Getenv("PALISADE_REQUIRE_TRIVY") == "1" {
				b.Fatal(msg + "; PALISADE_REQUIRE_TRIVY=1 makes this a failure")
			}
			b.Skip(msg)
		}
	}
	return trivy, trivyDB
}

// trivyDatabase writes the benchmark's Debian advisories as the Security
// Tracker tree trivy-db reads (vuln-list-debian/tracker: one CVE file per
// advisory, "[bookworm] - SRC VERSION" or "<unfixed>"), links the Go
// vulnerability database where trivy-db looks for it, and builds trivy.db
// into a Trivy cache directory, which it returns.
func trivyDatabase(b *testing.B, trivyDB string) string {
	b.Helper()
	src := b.TempDir()
	tracker := filepath.Join(src, "vuln-list-debian", "tracker")
	for _, d := range []string{"CVE", "DLA", "DSA", "source/bookworm/main", "updates-source/bookworm/main"} {
		if err := os.MkdirAll(filepath.Join(tracker, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	writeJSON := func(path string, v any) {
		j, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(path, j, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	writeJSON(filepath.Join(tracker, "distributions.json"), map[string]any{
		"bookworm": map[string]string{"major-version": "12", "support": "security", "contact": "team@security.debian.org"}})
	for _, a := range bookwormAdvisories() {
		ann := map[string]any{"Type": "package", "Release": "bookworm", "Package": a.src}
		if a.fixed != "" {
			ann["Original"], ann["Kind"], ann["Version"] = "[bookworm] - "+a.src+" "+a.fixed, "fixed", a.fixed
		} else {
			ann["Original"], ann["Kind"] = "[bookworm] - "+a.src+" <unfixed>", "unfixed"
		}
		writeJSON(filepath.Join(tracker, "CVE", a.cve+".json"), map[string]any{
			"Header":      map[string]string{"ID": a.cve, "Original": a.cve + " (" + a.src + ")", "Description": "(" + a.src + ")"},
			"Annotations": []any{ann},
		})
	}
	// trivy-db reads the Go database from <cache>/govulndb/data/osv.
	goOSV := vulndbtest.GoVulnDB(b)
	if err := os.Symlink(filepath.Dir(filepath.Dir(goOSV)), filepath.Join(src, "govulndb")); err != nil {
		b.Fatal(err)
	}
	cache := b.TempDir()
	cmd := exec.Command(trivyDB, "build", "--cache-dir", src, "--output-dir", filepath.Join(cache, "db"),
		"--only-update", "debian", "--only-update", "govulndb")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("trivy-db build: %v\n%s", err, out)
	}
	return cache
}

// BenchmarkImageScanBookwormVsTrivy scans the bookworm image for
// vulnerabilities (catalogue + match) with both scanners, alternating
// runs: Palisade cold (--no-cache) and warm (its inventory cache), the
// same with the lean palisade-scan (installed by copying, as a release
// archive is unpacked; its reports checked equal to palisade's), Trivy
// cold (--cache-backend memory: every layer read) and warm (its layer
// cache filled by a first scan).
func BenchmarkImageScanBookwormVsTrivy(b *testing.B) {
	trivy, trivyDB := trivyTools(b)
	img := imagescantest.Bookworm(b)
	bin := palisadeBinary(b)
	lean := installedCopy(b, commandBinary(b, "palisade-scan"))
	cache := warmImageDB(b, bin)
	tcache := trivyDatabase(b, trivyDB)
	pal := []string{"scan", "image", "oci:" + img, "--scanners", "vuln", "--cache-dir", cache, "-o", "json", "--fail-on", "none"}
	triv := []string{"image", "--input", img, "--cache-dir", tcache, "--skip-db-update", "--skip-java-db-update",
		"--offline-scan", "--skip-version-check", "--scanners", "vuln", "--format", "json", "--quiet"}
	modes := []struct {
		name string
		bin  string
		args []string
	}{
		{"palisade-cold", bin, append(append([]string{}, pal...), "--no-cache")},
		{"palisade-warm", bin, pal},
		{"palisade-scan-cold", lean, append(append([]string{}, pal[1:]...), "--no-cache")},
		{"palisade-scan-warm", lean, pal[1:]},
		{"trivy-cold", trivy, append(append([]string{}, triv...), "--cache-backend", "memory")},
		{"trivy-warm", trivy, triv},
	}
	// Fill the warm caches, and check that the scanners work on the image
	// and that palisade-scan reports what palisade does.
	for _, m := range modes {
		if r := runPalisade(b, m.bin, m.args...); r.code != 0 {
			b.Fatalf("%s: exit %d: %s", m.name, r.code, r.stderr)
		}
	}
	if want, got := reportOf(b, bin, pal...), reportOf(b, lean, pal[1:]...); !bytes.Equal(want, got) {
		b.Fatalf("palisade-scan's report differs from palisade's (%d and %d bytes)", len(got), len(want))
	}
	runs := make([][]runResult, len(modes))
	for i := 0; i < b.N; i++ {
		for j, m := range modes {
			r := runPalisade(b, m.bin, m.args...)
			if r.code != 0 {
				b.Fatalf("%s: exit %d: %s", m.name, r.code, r.stderr)
			}
			runs[j] = append(runs[j], r)
		}
	}
	for j, m := range modes {
		reportRunsAs(b, "bookworm "+m.name, m.name+"-", runs[j])
	}
}
