package vulndb

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// TestEncodeCVEInfo: the stored JSON of a CVE entry is encoding/json's,
// byte for byte, whatever its strings and numbers hold.
func TestEncodeCVEInfo(t *testing.T) {
	for _, info := range []*CVEInfo{
		{ID: "CVE-2024-0001"},
		{ID: "CVE-2024-0001", CVSS: []CVEScore{{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Source: "nvd@nist.gov", Primary: true},
			{Version: "2.0", Vector: "AV:N/AC:L/Au:N/C:P/I:P/A:P"}}},
		{ID: "CVE-2024-0002", CVSS: []CVEScore{{Version: "3.1", Vector: "<&>\"\\\b\f\n\r\t\x01\u2028\u2029\xff é", Source: "a<b"}}},
		{ID: "CVE-2024-0003", EPSS: &EPSS{Score: 0.00043, Percentile: 0.12345}},
		{ID: "CVE-2024-0003", EPSS: &EPSS{Score: 1e-7, Percentile: 1, Date: "2025-06-01T00:00:00+0000"}},
		{ID: "CVE-2024-0003", EPSS: &EPSS{Score: 0, Percentile: 1e21}},
		{ID: "CVE-2024-0004", KEV: &KEV{DateAdded: "2024-01-01", Name: "<x>"}},
		{ID: "CVE-2024-0005", Statuses: []PackageStatus{{Ecosystem: "Debian:12", Package: "openssl", State: "will_not_fix"}}},
	} {
		want, err := json.Marshal(info)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeCVEInfo(info)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("encodeCVEInfo(%+v) = %s, %v; want %s", info, got, err, want)
		}
	}
	if _, err := encodeCVEInfo(&CVEInfo{ID: "CVE-2024-0006", EPSS: &EPSS{Score: math.NaN()}}); err == nil {
		t.Error("NaN score: no error")
	}
}

// FuzzEncodeCVEInfo compares encodeCVEInfo with encoding/json.
func FuzzEncodeCVEInfo(f *testing.F) {
	f.Add("CVE-2024-0001", "3.1", "CVSS:3.1/AV:N", "nvd@nist.gov", true, 0.5, 0.25, "2025-06-01", true)
	f.Add("<\u2028>", "\xff", "\x00\x7f", "é", false, 1e-9, 1e22, "", false)
	f.Fuzz(func(t *testing.T, id, version, vector, source string, primary bool, score, pct float64, date string, epss bool) {
		info := &CVEInfo{ID: id, CVSS: []CVEScore{{Version: version, Vector: vector, Source: source, Primary: primary}}}
		if epss {
			info.EPSS = &EPSS{Score: score, Percentile: pct, Date: date}
		}
		want, werr := json.Marshal(info)
		got, err := encodeCVEInfo(info)
		if (err != nil) != (werr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("encodeCVEInfo = %s, %v; encoding/json %s, %v", got, err, want, werr)
		}
	})
}
