package vulnmatch

import (
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom"
)

// TestEndOfLife: a release past the end of its security support is a
// High finding naming the date and the source of the table; a supported
// or unknown release is none. The day of the end itself is still
// supported.
func TestEndOfLife(t *testing.T) {
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d.Add(12 * time.Hour)
	}
	tests := []struct {
		os   sbom.OS
		now  string
		want string
	}{
		{sbom.OS{ID: "debian", VersionID: "11", PrettyName: "Debian GNU/Linux 11 (bullseye)"}, "2026-12-06", "2026-08-31"},
		{sbom.OS{ID: "debian", VersionID: "11"}, "2026-08-31", ""},
		{sbom.OS{ID: "debian", VersionID: "12"}, "2026-12-06", ""},
		{sbom.OS{ID: "ubuntu", VersionID: "20.04"}, "2026-12-06", "Ubuntu Pro (ESM) until 2030-04-02"},
		{sbom.OS{ID: "ubuntu", VersionID: "24.04"}, "2026-12-06", ""},
		{sbom.OS{ID: "alpine", VersionID: "3.20.3"}, "2026-12-06", "2026-04-01"},
		{sbom.OS{ID: "alpine", VersionID: "3.22.1"}, "2026-12-06", ""},
		{sbom.OS{ID: "gentoo", VersionID: "2.17"}, "2026-12-06", ""},
	}
	for _, tt := range tests {
		f, ok := EndOfLife(&tt.os, day(tt.now), finding.ObjectRef{})
		if ok != (tt.want != "") {
			t.Errorf("%s %s on %s: finding %v, want %v", tt.os.ID, tt.os.VersionID, tt.now, ok, tt.want != "")
			continue
		}
		if ok && (f.RuleID != RuleOSEndOfLife || f.Severity != finding.SeverityHigh || !strings.Contains(f.Message, tt.want) || !strings.Contains(f.Message, "endoflife.date")) {
			t.Errorf("%s %s: %+v", tt.os.ID, tt.os.VersionID, f)
		}
	}
	if _, ok := EndOfLife(nil, time.Now(), finding.ObjectRef{}); ok {
		t.Error("no OS gave a finding")
	}
}
