package vulndb

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// FuzzParseRecord checks that hostile records are rejected or accepted
// without panicking, and that an accepted record survives the round trip
// through the stored form.
func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"id":"GO-2021-0113","modified":"2021-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"golang.org/x/text"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.3.7"}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := ParseRecord(data)
		if err != nil {
			return
		}
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatalf("marshal accepted record: %v", err)
		}
		again, err := ParseRecord(b)
		if err != nil {
			t.Fatalf("stored form of an accepted record rejected: %v\n%s", err, b)
		}
		if again.ID != rec.ID || len(again.Affected) != len(rec.Affected) {
			t.Fatalf("round trip changed the record: %s", b)
		}
	})
}

// FuzzReadCVEs feeds hostile NVD, KEV, EPSS and Debian tracker documents to the
// enrichment readers: they fail or yield valid CVE IDs, never panic.
func FuzzReadCVEs(f *testing.F) {
	for _, seed := range []struct{ format, file string }{
		{FormatNVD, "nvdcve-2.0-2024.json"}, {FormatKEV, "known_exploited_vulnerabilities.json"}, {FormatEPSS, "epss_scores.csv"},
		{FormatDebianTracker, "debian-tracker.json"},
	} {
		data, err := os.ReadFile("testdata/enrich/" + seed.file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(seed.format, data)
	}
	f.Fuzz(func(t *testing.T, format string, data []byte) {
		if !slices.Contains([]string{FormatNVD, FormatKEV, FormatEPSS, FormatDebianTracker}, format) {
			return
		}
		var st readStats
		_ = readCVEStream(context.Background(), bytes.NewReader(data), format, &st, func(info *CVEInfo) error {
			if !IsCVE(info.ID) || len(info.CVSS) > maxCVEScores {
				t.Fatalf("%s: yielded %+v", format, info)
			}
			if info.EPSS != nil && (info.EPSS.Score < 0 || info.EPSS.Score > 1) {
				t.Fatalf("EPSS score out of range: %+v", info.EPSS)
			}
			return nil
		})
	})
}

// FuzzUpdateInfo feeds hostile updateinfo.xml to the ALAS reader: it
// fails or yields valid records, never panics.
func FuzzUpdateInfo(f *testing.F) {
	data, err := os.ReadFile("testdata/alas/updateinfo-al2023.xml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		var st readStats
		_ = readUpdateInfo(context.Background(), bytes.NewReader(data), "Amazon Linux:2023", &st, func(rec *Record) error {
			if err := rec.validate(); err != nil {
				t.Fatalf("invalid record yielded: %v", err)
			}
			return nil
		})
	})
}
