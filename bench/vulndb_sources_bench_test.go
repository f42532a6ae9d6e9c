package bench

import (
	"archive/zip"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/vulndb"
	"github.com/palisade-sec/palisade/internal/vulndb/vulndbtest"
)

// allSourceSizes are the record counts generated per OSV ecosystem for
// BenchmarkVulnDBImportAll: round numbers near the size of OSV's exports
// in 2025 (a few tens of thousands of records for each large
// distribution), not exact counts.
var allSourceSizes = []struct {
	ecosystem string
	releases  []string
	records   int
}{
	{"Debian", []string{"11", "12", "13"}, 50000},
	{"Ubuntu", []string{"20.04:LTS", "22.04:LTS", "24.04:LTS"}, 45000},
	{"Alpine", []string{"v3.19", "v3.20", "v3.21"}, 12000},
	{"Red Hat", []string{"enterprise_linux:8::appstream", "enterprise_linux:9::appstream"}, 25000},
	{"SUSE", []string{"Linux Enterprise Server 15 SP5", "Linux Enterprise Server 15 SP6"}, 35000},
	{"openSUSE", []string{"Leap 15.6", "Tumbleweed"}, 10000},
	{"Wolfi", nil, 6000},
	{"Rocky Linux", []string{"8", "9"}, 4000},
	{"AlmaLinux", []string{"8", "9"}, 4000},
	{"PyPI", nil, 12000},
	{"npm", nil, 18000},
	{"Maven", nil, 6000},
	{"RubyGems", nil, 1500},
	{"NuGet", nil, 1000},
	{"Packagist", nil, 4000},
}

// nvdCVEs is the number of CVEs of the generated NVD feeds (NVD holds
// about 290,000); EPSS scores as many.
const nvdCVEs = 280000

// writeOSVZip writes an all.zip of n generated records of an ecosystem,
// each with one source package per release, a fix, a summary, details
// and references: about a kilobyte, the size of a typical distribution
// record.
func writeOSVZip(tb testing.TB, path, eco string, releases []string, n int) {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	zw := zip.NewWriter(f)
	prefix := strings.ToUpper(strings.ReplaceAll(eco, " ", "")) + "-"
	details := strings.Repeat("A flaw was found in the parser that allows a remote attacker to cause a denial of service. ", 3)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%sCVE-%d-%05d", prefix, 2000+i%25, i)
		rec := map[string]any{
			"id": id, "modified": "2025-01-01T00:00:00Z", "aliases": []string{fmt.Sprintf("CVE-%d-%05d", 2000+i%25, i)},
			"summary": "denial of service in package " + fmt.Sprint(i%3000), "details": details,
			"references":        []map[string]string{{"type": "ADVISORY", "url": "https://example.org/advisories/" + id}, {"type": "WEB", "url": "https://example.org/bugs/" + id}},
			"database_specific": map[string]string{"severity": []string{"low", "medium", "high"}[i%3]},
		}
		name := fmt.Sprintf("pkg%04d", i%3000)
		var affected []map[string]any
		rels := releases
		if len(rels) == 0 {
			rels = []string{""}
		}
		for j, r := range rels {
			e := eco
			if r != "" {
				e += ":" + r
			}
			affected = append(affected, map[string]any{
				"package": map[string]string{"ecosystem": e, "name": name},
				"ranges": []map[string]any{{"type": "ECOSYSTEM", "events": []map[string]string{
					{"introduced": "0"}, {"fixed": fmt.Sprintf("1.%d.%d-%d", i%50, j, i%7+1)}}}},
			})
		}
		rec["affected"] = affected
		w, err := zw.Create(id + ".json")
		if err != nil {
			tb.Fatal(err)
		}
		if err := json.NewEncoder(w).Encode(rec); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// writeNVD writes an NVD CVE API 2.0 feed of n CVEs (gzip), each with a
// description, references and NVD's v3.1 and v2 metrics; and an EPSS
// CSV (gzip) of the same CVEs.
func writeNVD(tb testing.TB, nvdPath, epssPath string, n int) {
	create := func(p string) (*os.File, *gzip.Writer, *bufio.Writer) {
		f, err := os.Create(p)
		if err != nil {
			tb.Fatal(err)
		}
		zw := gzip.NewWriter(f)
		return f, zw, bufio.NewWriterSize(zw, 1<<20)
	}
	closeAll := func(f *os.File, zw *gzip.Writer, w *bufio.Writer) {
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			tb.Fatal(err)
		}
		if err := f.Close(); err != nil {
			tb.Fatal(err)
		}
	}
	f, zw, w := create(nvdPath)
	fmt.Fprintf(w, `{"resultsPerPage":%d,"startIndex":0,"totalResults":%d,"format":"NVD_CVE","version":"2.0","vulnerabilities":[`, n, n)
	desc := strings.Repeat("Improper input validation in the component allows an attacker to execute code. ", 4)
	for i := 0; i < n; i++ {
		if i > 0 {
			w.WriteByte(',')
		}
		id := fmt.Sprintf("CVE-%d-%05d", 2000+i%25, i)
		fmt.Fprintf(w, `{"cve":{"id":%q,"sourceIdentifier":"cve@mitre.org","published":"2024-01-01T00:00:00.000","lastModified":"2024-06-01T00:00:00.000","vulnStatus":"Analyzed",`+
			`"descriptions":[{"lang":"en","value":%q}],"metrics":{"cvssMetricV31":[{"source":"nvd@nist.gov","type":"Primary","cvssData":{"version":"3.1","vectorString":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H","baseScore":9.8,"baseSeverity":"CRITICAL"},"exploitabilityScore":3.9,"impactScore":5.9}],`+
			`"cvssMetricV2":[{"source":"nvd@nist.gov","type":"Primary","cvssData":{"version":"2.0","vectorString":"AV:N/AC:L/Au:N/C:P/I:P/A:P","baseScore":7.5},"baseSeverity":"HIGH"}]},`+
			`"weaknesses":[{"source":"nvd@nist.gov","type":"Primary","description":[{"lang":"en","value":"CWE-20"}]}],`+
			`"references":[{"url":"https://example.org/%s","source":"cve@mitre.org"}]}}`, id, desc, id)
	}
	w.WriteString("]}")
	closeAll(f, zw, w)
	f, zw, w = create(epssPath)
	w.WriteString("#model_version:v2025.03.14,score_date:2025-06-01T00:00:00+0000\ncve,epss,percentile\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "CVE-%d-%05d,0.%05d,0.%05d\n", 2000+i%25, i, i%100000, (i*7)%100000)
	}
	closeAll(f, zw, w)
}

// BenchmarkVulnDBImportAll builds a database of every kind of source at
// once, as `palisade db update` does: generated OSV exports of every
// default and distribution ecosystem (allSourceSizes), NVD feeds and EPSS
// scores of nvdCVEs CVEs, downloaded from a local server, plus the real
// Go vulnerability database imported before. Then it builds a database
// of one distribution (Debian) with NVD's severities and exports its
// signed bundle. Run with -benchtime 1x: it reports the update's speed
// (records and CVE entries per second, download and build included), the
// database's size and the bundle's size.
//
// PALISADE_BENCH_VULNDB_SCALE (a fraction, default 1) scales every count
// down for a quick run or a profile. PALISADE_BENCH_VULNDB_RECORDS_ONLY=1
// leaves out the NVD and EPSS sources (and the Debian + NVD bundle): the
// rate is then that of advisory records alone.
func BenchmarkVulnDBImportAll(b *testing.B) {
	ctx := context.Background()
	scale := 1.0
	if v, err := strconv.ParseFloat(os.Getenv("PALISADE_BENCH_VULNDB_SCALE"), 64); err == nil && v > 0 && v <= 1 {
		scale = v
	}
	scaled := func(n int) int { return max(1, int(float64(n)*scale)) }
	src := b.TempDir()
	var sources []vulndb.Source
	srv := httptest.NewServer(http.FileServer(http.Dir(src)))
	defer srv.Close()
	for _, s := range allSourceSizes {
		writeOSVZip(b, filepath.Join(src, s.ecosystem+".zip"), s.ecosystem, s.releases, scaled(s.records))
		sources = append(sources, vulndb.Source{Name: s.ecosystem, URL: srv.URL + "/" + url.PathEscape(s.ecosystem) + ".zip"})
	}
	recordsOnly := os.Getenv("PALISADE_BENCH_VULNDB_RECORDS_ONLY") == "1"
	nvd := vulndb.Source{Name: "nvd-all", URL: srv.URL + "/nvd.json.gz"}
	if !recordsOnly {
		writeNVD(b, filepath.Join(src, "nvd.json.gz"), filepath.Join(src, "epss.csv.gz"), scaled(nvdCVEs))
		sources = append(sources, nvd, vulndb.Source{Name: "epss", URL: srv.URL + "/epss.csv.gz"})
	}
	goDir := vulndbtest.GoVulnDB(b)
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := vulndb.Cache{Dir: b.TempDir()}
		goImport, err := c.ImportOSV(ctx, goDir, "go-vulndb", time.Now())
		if err != nil {
			b.Fatal(err)
		}
		var res *vulndb.UpdateResult
		start, cpu0 := time.Now(), cpuTime()
		peak := heapPeak(func() {
			res, err = c.Update(ctx, vulndb.UpdateOptions{Sources: sources})
		})
		elapsed, cpu := time.Since(start), cpuTime()-cpu0
		if err != nil {
			b.Fatal(err)
		}
		items := res.Metadata.Records + res.Metadata.CVEs
		fi, err := os.Stat(c.DBPath())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(items)/elapsed.Seconds(), "items/s")
		// On a shared machine the process gets a fraction of a core: the
		// rate per CPU second is the steadier figure.
		b.ReportMetric(float64(items)/cpu.Seconds(), "items/cpu-s")
		if recordsOnly {
			// The Go database imported before the timed update is not
			// counted: only what the update built.
			n := float64(res.Metadata.Records - goImport.Metadata.Records)
			b.ReportMetric(n/elapsed.Seconds(), "records/s")
			b.ReportMetric(n/cpu.Seconds(), "records/cpu-s")
		}
		b.ReportMetric(float64(res.Metadata.Records), "records")
		b.ReportMetric(float64(res.Metadata.CVEs), "cves")
		b.ReportMetric(float64(fi.Size())/(1<<20), "db-MiB")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		// PALISADE_BENCH_VULNDB_KEEP names a file to copy the database to,
		// for comparing the content two builds write (docs in README.md).
		if keep := os.Getenv("PALISADE_BENCH_VULNDB_KEEP"); keep != "" {
			data, err := os.ReadFile(c.DBPath())
			if err == nil {
				err = os.WriteFile(keep, data, 0o644)
			}
			if err != nil {
				b.Fatal(err)
			}
		}

		one := vulndb.Cache{Dir: b.TempDir()}
		if recordsOnly {
			continue
		}
		if _, err := one.Update(ctx, vulndb.UpdateOptions{Sources: []vulndb.Source{sources[0], nvd}}); err != nil {
			b.Fatal(err)
		}
		var n countingWriter
		if _, err := one.Export(ctx, &n, key, time.Now()); err != nil {
			b.Fatal(err)
		}
		if fi, err := os.Stat(one.DBPath()); err == nil {
			b.ReportMetric(float64(fi.Size())/(1<<20), "debian+nvd-db-MiB")
		}
		b.ReportMetric(float64(n)/(1<<20), "debian+nvd-bundle-MiB")
	}
}

type countingWriter int64

func (w *countingWriter) Write(p []byte) (int, error) {
	*w += countingWriter(len(p))
	return len(p), nil
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
