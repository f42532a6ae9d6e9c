package vulndb

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/enrich/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantLog4Shell is what the three fixtures say of CVE-2021-44228.
var wantLog4Shell = &CVEInfo{
	ID: "CVE-2021-44228",
	CVSS: []CVEScore{
		{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", Source: "nvd@nist.gov", Primary: true},
		{Version: "2.0", Vector: "AV:N/AC:M/Au:N/C:C/I:C/A:C", Source: "nvd@nist.gov", Primary: true},
	},
	KEV:  &KEV{DateAdded: "2021-12-10", DueDate: "2021-12-24", Ransomware: "Known", Name: "Apache Log4j2 Remote Code Execution Vulnerability"},
	EPSS: &EPSS{Score: 0.94358, Percentile: 0.99957, Date: "2026-12-01T12:55:00Z"},
}

// TestImportEnrichment imports NVD's CVE API 2.0 feed, CISA's KEV
// catalogue and an EPSS CSV, in their published formats (the NVD feed
// gzip-compressed, as NVD serves it), beside OSV records, and looks CVEs
// up merged across the sources. Rejected CVEs, malformed IDs and rows are
// left out and counted.
func TestImportEnrichment(t *testing.T) {
	ctx := context.Background()
	c := Cache{Dir: t.TempDir()}
	if _, err := c.ImportOSV(ctx, "testdata/osv", "fixtures", testNow); err != nil {
		t.Fatal(err)
	}
	gz := t.TempDir() + "/nvdcve-2.0-2024.json.gz"
	if err := os.WriteFile(gz, gzipBytes(t, readFixture(t, "nvdcve-2.0-2024.json")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, name, format       string
		cves, skipped, withdrawn int
	}{
		{gz, "nvd", "", 4, 1, 1},
		{"testdata/enrich/known_exploited_vulnerabilities.json", "cisa", FormatKEV, 1, 0, 0},
		{"testdata/enrich/epss_scores.csv", "epss", "", 3, 2, 0},
		{"testdata/enrich/debian-tracker.json", "debian-tracker", "", 2, 0, 0},
	} {
		res, err := c.Import(ctx, tt.path, tt.name, tt.format, testNow)
		if err != nil {
			t.Fatalf("import %s: %v", tt.name, err)
		}
		if res.Source.CVEs != tt.cves || res.Source.Skipped != tt.skipped || res.Withdrawn != tt.withdrawn {
			t.Errorf("import %s: %d CVEs, %d skipped, %d withdrawn (%v); want %d, %d, %d",
				tt.name, res.Source.CVEs, res.Source.Skipped, res.Withdrawn, res.Errors, tt.cves, tt.skipped, tt.withdrawn)
		}
	}
	db, err := c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if m := db.Metadata(); m.Records != 2 || m.CVEs != 10 {
		t.Errorf("metadata: %d records, %d CVE entries; want the 2 OSV records kept and 10 entries", m.Records, m.CVEs)
	}
	glibc, err := db.CVE("CVE-2010-4756")
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses := map[string]PackageStatus{
		"Debian:12": {Ecosystem: "Debian:12", Package: "glibc", State: "will_not_fix", Reason: "ignored"},
		"Debian:11": {Ecosystem: "Debian:11", Package: "glibc", State: "affected", Reason: "no-dsa"},
	}
	if glibc == nil || len(glibc.Statuses) != len(wantStatuses) || glibc.EPSS == nil {
		t.Fatalf("CVE-2010-4756: %+v", glibc)
	}
	for _, s := range glibc.Statuses {
		if wantStatuses[s.Ecosystem] != s {
			t.Errorf("CVE-2010-4756 status %+v, want %+v", s, wantStatuses[s.Ecosystem])
		}
	}
	got, err := db.CVE("CVE-2021-44228")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wantLog4Shell) {
		t.Errorf("CVE-2021-44228:\n got  %+v\n want %+v", got, wantLog4Shell)
	}
	for id, want := range map[string]string{
		"CVE-2024-9999": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
		"CVE-2024-0727": "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H",
	} {
		info, err := db.CVE(id)
		if err != nil || info == nil || len(info.CVSS) != 1 || info.CVSS[0].Vector != want {
			t.Errorf("%s: %+v, %v; want %s", id, info, err, want)
		}
	}
	for _, id := range []string{"CVE-2024-0001", "CVE-2099-0001", "CVE-2021-4422"} {
		if info, err := db.CVE(id); err != nil || info != nil {
			t.Errorf("%s: %+v, %v; want nothing", id, info, err)
		}
	}
}

// TestUpdateEnrichment downloads the enrichment sources from a local
// server as `palisade db update` does: a 304 keeps their entries, a
// truncated download or a server error fails the update and leaves the
// database as it was, and a signed bundle carries them to another host.
func TestUpdateEnrichment(t *testing.T) {
	ctx := context.Background()
	srv, ts := newOSVServer(t)
	srv.set("/Go/all.zip", zipBytes(t, map[string]string{"GO-1.json": recordJSON("GO-1", "Go", "example.com/a")}), `"g1"`)
	srv.set("/nvd/nvdcve-2.0-2024.json.gz", gzipBytes(t, readFixture(t, "nvdcve-2.0-2024.json")), `"nvd1"`)
	srv.set("/kev.json", readFixture(t, "known_exploited_vulnerabilities.json"), `"kev1"`)
	srv.set("/epss.csv.gz", gzipBytes(t, readFixture(t, "epss_scores.csv")), `"epss1"`)
	c := Cache{Dir: t.TempDir()}
	clock := testNow
	opts := UpdateOptions{
		Sources: []Source{
			{Name: "Go", URL: ts.URL + "/Go/all.zip"},
			{Name: "nvd-2024", URL: ts.URL + "/nvd/nvdcve-2.0-2024.json.gz"},
			{Name: "cisa-kev", URL: ts.URL + "/kev.json", Format: FormatKEV},
			{Name: "epss", URL: ts.URL + "/epss.csv.gz"},
		},
		Now: func() time.Time { return clock },
	}
	res, err := c.Update(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sources) != 4 || res.Metadata.Records != 1 || res.Metadata.CVEs != 8 {
		t.Fatalf("first update: %+v, metadata %+v", res.Sources, res.Metadata)
	}
	lookup := func() *CVEInfo {
		t.Helper()
		db, err := c.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		info, err := db.CVE("CVE-2021-44228")
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	if got := lookup(); !reflect.DeepEqual(got, wantLog4Shell) {
		t.Errorf("after update: %+v", got)
	}

	// Not modified: every source answers 304 and the entries are kept.
	clock = clock.Add(time.Hour)
	if res, err = c.Update(ctx, opts); err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Sources {
		if !s.NotModified {
			t.Errorf("second update: %s downloaded again", s.Name)
		}
	}
	if r := srv.lastRequest("/kev.json"); r.Header.Get("If-None-Match") != `"kev1"` {
		t.Errorf("KEV request not conditional: %v", r.Header)
	}
	if got := lookup(); !reflect.DeepEqual(got, wantLog4Shell) || res.Metadata.CVEs != 8 {
		t.Errorf("after 304: %+v, %d entries", got, res.Metadata.CVEs)
	}
	before, err := os.ReadFile(c.DBPath())
	if err != nil {
		t.Fatal(err)
	}

	// A partial download (the connection ends before Content-Length) and
	// a server error each fail the update; the database is untouched.
	srv.set("/kev.json", []byte(`{"vulnerabilities":[]}`), `"kev2"`)
	srv.mutate = func(w http.ResponseWriter, body []byte) []byte {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)+100))
		return body
	}
	if _, err := c.Update(ctx, opts); err == nil || !strings.Contains(err.Error(), "cisa-kev") {
		t.Errorf("truncated KEV download: %v, want an error naming the source", err)
	}
	srv.mutate = nil
	// A feed cut in the middle of the array.
	srv.set("/nvd/nvdcve-2.0-2024.json.gz", gzipBytes(t, []byte(`{"vulnerabilities": [{"cve": {"id": "CVE-2024-1111"`)), `"nvd2"`)
	if _, err := c.Update(ctx, opts); err == nil || !strings.Contains(err.Error(), "nvd-2024") {
		t.Errorf("corrupt NVD feed: %v, want an error naming the source", err)
	}
	srv.mu.Lock()
	delete(srv.files, "/nvd/nvdcve-2.0-2024.json.gz")
	srv.mu.Unlock()
	if _, err := c.Update(ctx, opts); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing NVD feed: %v, want HTTP 404", err)
	}
	after, err := os.ReadFile(c.DBPath())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("a failed update changed the database")
	}

	// The signed bundle carries the enrichment to an air-gapped host.
	priv, pub := testKeys(t)
	var bundle bytes.Buffer
	if _, err := c.Export(ctx, &bundle, priv, clock); err != nil {
		t.Fatal(err)
	}
	edge := Cache{Dir: t.TempDir()}
	if _, err := edge.ImportBundle(ctx, &bundle, []ed25519.PublicKey{pub}); err != nil {
		t.Fatal(err)
	}
	db, err := edge.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.CVE("CVE-2021-44228"); err != nil || !reflect.DeepEqual(got, wantLog4Shell) {
		t.Errorf("from the bundle: %+v, %v", got, err)
	}
}

// TestReadNVDItemShapes: an NVD item of the wrong shape (an id that is
// not a string, metrics that are not lists) is skipped and counted and
// the items after it are read; an item over maxCVEItem is skipped; a
// syntax error ends the feed with an error.
func TestReadNVDItemShapes(t *testing.T) {
	big := strings.Repeat("x", maxCVEItem)
	for _, tc := range []struct {
		name, feed string
		ids        []string
		skipped    int
		wantErr    bool
	}{
		{"wrong shapes", `{"vulnerabilities": [{"cve": {"id": ["CVE-2024-0002"]}}, {"cve": {"id": "CVE-2024-0004", "metrics": {"cvssMetricV31": "x"}}},
			{"cve": {"id": "CVE-2024-0003", "metrics": {"cvssMetricV31": [{"source": "nvd@nist.gov", "type": "Primary", "cvssData": {"version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}]}}}]}`,
			[]string{"CVE-2024-0003"}, 2, false},
		{"too large", `{"vulnerabilities": [{"cve": {"id": "CVE-2024-0005", "descriptions": [{"value": "` + big + `"}]}}, {"cve": {"id": "CVE-2024-0006"}}]}`,
			[]string{"CVE-2024-0006"}, 1, false},
		{"syntax error", `{"vulnerabilities": [{"cve": {"id": "CVE-2024-0007"}}, {"cve": {"id": }}]}`, []string{"CVE-2024-0007"}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var st readStats
			var ids []string
			err := readNVD(context.Background(), strings.NewReader(tc.feed), &st, func(info *CVEInfo) error {
				ids = append(ids, info.ID)
				return nil
			})
			if (err != nil) != tc.wantErr || !slices.Equal(ids, tc.ids) || st.skipped != tc.skipped {
				t.Errorf("err %v, CVEs %v, skipped %d (%v); want error %v, %v, %d", err, ids, st.skipped, st.errors, tc.wantErr, tc.ids, tc.skipped)
			}
		})
	}
}
