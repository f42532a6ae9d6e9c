package vulndb

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"
)

// TestNVDCPERecords downloads an NVD feed with CPE configurations (written
// here after NVD's CVE API 2.0 items for Node.js, CPython, OpenSSL,
// OpenJDK and zlib) from a local server as `palisade db update` does: the
// mapped products become records of their ecosystems, platforms, negated
// nodes and "-" versions become nothing, and a 304 keeps the records.
func TestNVDCPERecords(t *testing.T) {
	ctx := context.Background()
	srv, ts := newOSVServer(t)
	srv.set("/nvd/nvdcve-2.0-cpe.json.gz", gzipBytes(t, readFixture(t, "nvdcve-2.0-cpe.json")), `"c1"`)
	c := Cache{Dir: t.TempDir()}
	clock := testNow
	opts := UpdateOptions{Sources: []Source{{Name: "nvd-2024", URL: ts.URL + "/nvd/nvdcve-2.0-cpe.json.gz"}}, Now: func() time.Time { return clock }}
	check := func(step string) {
		t.Helper()
		db, err := c.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, eco := range []string{"Node.js", "CPython", "OpenJDK", "OpenSSL", "ConanCenter"} {
			if !db.HasEcosystem(eco) {
				t.Errorf("%s: no %s records", step, eco)
			}
		}
		if m := db.Metadata(); m.Records != 5 || m.CVEs != 7 {
			t.Errorf("%s: %d records, %d CVEs; want 5 (one per CVE naming a mapped product as vulnerable) and 7", step, m.Records, m.CVEs)
		}
		for _, tc := range []struct {
			eco, name string
			ids       []string
		}{
			{"Node.js", "node", []string{"NVD-CVE-2024-22019"}},
			{"CPython", "python", []string{"NVD-CVE-2023-24329"}},
			{"OpenSSL", "openssl", []string{"NVD-CVE-2023-5678"}},
			{"ConanCenter", "openssl", []string{"NVD-CVE-2023-5678"}},
			{"OpenJDK", "openjdk", []string{"NVD-CVE-2024-20918"}},
			{"ConanCenter", "zlib", []string{"NVD-CVE-2022-37434"}},
			{"ConanCenter", "fmt", nil},
		} {
			recs, err := db.Lookup(tc.eco, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range recs {
				ids = append(ids, r.ID)
			}
			if !reflect.DeepEqual(ids, tc.ids) {
				t.Errorf("%s: %s/%s: %v, want %v", step, tc.eco, tc.name, ids, tc.ids)
			}
		}
		rec, err := db.Get("NVD-CVE-2023-24329")
		if err != nil || rec == nil {
			t.Fatalf("%s: %v", step, err)
		}
		want := []Range{
			{Type: RangeEcosystem, Events: []Event{{Introduced: "0"}, {Fixed: "3.7.17"}}},
			{Type: RangeEcosystem, Events: []Event{{Introduced: "3.11.0"}, {Fixed: "3.11.4"}}},
			{Type: RangeEcosystem, Events: []Event{{Introduced: "3.12.0alpha1"}, {LastAffected: "3.12.0alpha1"}}},
		}
		if len(rec.Affected) != 1 || !reflect.DeepEqual(rec.Affected[0].Ranges, want) || !reflect.DeepEqual(rec.Aliases, []string{"CVE-2023-24329"}) {
			t.Errorf("%s: CVE-2023-24329 record %+v", step, rec)
		}
		info, err := db.CVE("CVE-2022-37434")
		if err != nil || info == nil || len(info.CVSS) != 1 {
			t.Errorf("%s: the CVE's scores: %+v, %v", step, info, err)
		}
	}
	if _, err := c.Update(ctx, opts); err != nil {
		t.Fatal(err)
	}
	check("first update")
	clock = clock.Add(time.Hour)
	res, err := c.Update(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Sources[0].NotModified {
		t.Fatalf("second update downloaded again: %+v", res.Sources)
	}
	check("after 304")
}

func TestCPERange(t *testing.T) {
	for _, tc := range []struct {
		criteria                   string
		startI, startE, endI, endE string
		want                       []Event
		// excluded: the introduced version itself is not affected.
		excluded bool
	}{
		{"cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*", "1.1.1", "", "", "1.1.1x", []Event{{Introduced: "1.1.1"}, {Fixed: "1.1.1x"}}, false},
		{"cpe:2.3:a:zlib:zlib:*:*:*:*:*:*:*:*", "", "", "1.2.12", "", []Event{{Introduced: "0"}, {LastAffected: "1.2.12"}}, false},
		// OSV has no excluded start: the range says the start is excluded.
		{"cpe:2.3:a:python:python:*:*:*:*:*:*:*:*", "", "3.8.0", "", "3.8.18", []Event{{Introduced: "3.8.0"}, {Fixed: "3.8.18"}}, true},
		{"cpe:2.3:a:python:python:*:*:*:*:*:*:*:*", "", "3.8.0", "", "", []Event{{Introduced: "3.8.0"}}, true},
		{"cpe:2.3:a:python:python:3.12.0:rc1:*:*:*:*:*:*", "", "", "", "", []Event{{Introduced: "3.12.0rc1"}, {LastAffected: "3.12.0rc1"}}, false},
		{"cpe:2.3:a:nodejs:node.js:20.11.0:*:*:*:-:*:*:*", "", "", "", "", []Event{{Introduced: "20.11.0"}, {LastAffected: "20.11.0"}}, false},
		{"cpe:2.3:a:nodejs:node.js:*:*:*:*:*:*:*:*", "", "", "", "", []Event{{Introduced: "0"}}, false},
		{"cpe:2.3:a:nodejs:node.js:-:*:*:*:*:*:*:*", "", "", "", "", nil, false},
		{"cpe:2.3:a:nodejs:node.js", "", "", "", "", nil, false},
		{"cpe:2.3:o:openssl:openssl:1.0:*:*:*:*:*:*:*", "", "", "", "", nil, false},
		{"cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*", "", "", "", "1.0 2", nil, false},
	} {
		var got []Event
		excluded := false
		if _, _, ver, upd, ok := splitCPE(tc.criteria); ok {
			if r, ok := cpeRange(ver, upd, tc.startI, tc.startE, tc.endI, tc.endE); ok {
				got, excluded = r.Events, r.IntroducedExcluded()
			}
		}
		if !reflect.DeepEqual(got, tc.want) || excluded != tc.excluded {
			t.Errorf("%s %q %q %q %q: %v (start excluded %v), want %v (%v)", tc.criteria, tc.startI, tc.startE, tc.endI, tc.endE, got, excluded, tc.want, tc.excluded)
		}
	}
	if v, p, _, _, ok := splitCPE(`cpe:2.3:a:libjpeg-turbo:libjpeg\-turbo:2.1:*:*:*:*:*:*:*`); !ok || v != "libjpeg-turbo" || p != "libjpeg-turbo" {
		t.Errorf("escaped product: %q %q %v", v, p, ok)
	}
}

func TestCPEMapped(t *testing.T) {
	for _, tc := range []struct {
		eco, name  string
		mapped, ok bool
	}{
		{"Node.js", "node", true, true},
		{"ConanCenter", "zlib", true, true},
		{"ConanCenter", "fmt", false, true},
		{"OpenSSL", "libressl", false, true},
		{"npm", "node", false, false},
	} {
		if m, ok := CPEMapped(tc.eco, tc.name); m != tc.mapped || ok != tc.ok {
			t.Errorf("CPEMapped(%s, %s) = %v, %v", tc.eco, tc.name, m, ok)
		}
	}
}

// FuzzCPERecord feeds hostile NVD items to the configuration reader: it
// yields nothing or a record that survives the stored form, never panics.
func FuzzCPERecord(f *testing.F) {
	var doc struct {
		Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
	}
	data, err := os.ReadFile("testdata/enrich/nvdcve-2.0-cpe.json")
	if err != nil {
		f.Fatal(err)
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		f.Fatal(err)
	}
	for _, v := range doc.Vulnerabilities {
		f.Add([]byte(v))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec := cpeRecordOf("CVE-2024-0001", raw)
		if rec == nil {
			return
		}
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseRecord(b); err != nil {
			t.Fatalf("record rejected in its stored form: %v\n%s", err, b)
		}
	})
}
