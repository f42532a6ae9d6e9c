package vulnmatch

import (
	"context"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// TestMatchRedHatVEX: RHEL and UBI rpms against Red Hat's CSAF VEX
// (imported from testdata written in its format). An unfixed CVE, which
// OSV's RHSA export does not carry, is found by the source rpm and
// carries Red Hat's state for the package's stream: will not fix on 8,
// end of life on 7, fix deferred or affected for libxml2; a fixed build
// is a fix on 9; a stream Red Hat declares not affected (6) has no
// finding even where an advisory without a stream would match.
func TestMatchRedHatVEX(t *testing.T) {
	ctx := context.Background()
	c := vulndb.Cache{Dir: t.TempDir()}
	if _, err := c.Import(ctx, "../vulndb/testdata/redhat-vex", "redhat-vex", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	// An advisory for RHEL 6 contradicting the VEX document: Red Hat's
	// per-stream statement that 6 is not affected wins.
	dir := t.TempDir()
	writeRecord(t, dir, vulndb.Record{ID: "RHSA-2024:9999", Upstream: []string{"CVE-2024-0727"},
		Affected: []vulndb.Affected{affected("Red Hat:enterprise_linux:6", "openssl", "1.0.1e-99.el6")}})
	if _, err := c.ImportOSV(ctx, dir, "unqualified", time.Now()); err != nil {
		t.Fatal(err)
	}
	db := openCache(t, c)
	rpm := func(name, version, src, distro string) sbom.Package {
		return sbom.Package{Name: name, Version: version, Ecosystem: sbom.EcosystemRedHat, Type: "rpm", SourceName: src,
			PURL: "pkg:rpm/redhat/" + name + "@" + version + "?arch=x86_64&distro=" + distro}
	}
	type got struct {
		id, fixed, state, reason string
		sev                      finding.Severity
	}
	for _, tc := range []struct {
		name string
		pkg  sbom.Package
		want []got
	}{
		{"RHEL 8: will not fix, by source rpm", rpm("openssl-libs", "1:1.1.1k-12.el8_9", "openssl", "rhel-8.10"),
			[]got{{"REDHAT-CVE-2024-0727", "", "will_not_fix", "Will not fix", finding.SeverityLow}}},
		{"RHEL 7: out of support scope", rpm("openssl", "1:1.0.2k-26.el7_9", "openssl", "rhel-7.9"),
			[]got{{"REDHAT-CVE-2024-0727", "", "end_of_life", "Out of support scope", finding.SeverityLow}}},
		{"UBI 9: fixed build", rpm("openssl-libs", "1:3.0.7-25.el9_3", "openssl", "rhel-9.3"),
			[]got{{"REDHAT-CVE-2024-0727", "1:3.0.7-27.el9_4", "fixed", "", finding.SeverityLow}}},
		{"UBI 9: at the fix", rpm("openssl-libs", "1:3.0.7-27.el9_4", "openssl", "rhel-9.4"), nil},
		{"RHEL 6: not affected", rpm("openssl", "1.0.1e-58.el6_10", "openssl", "rhel-6.10"), nil},
		{"RHEL 9: fix deferred", rpm("libxml2", "2.9.13-6.el9_4", "libxml2", "rhel-9.4"),
			[]got{{"REDHAT-CVE-2024-11111", "", "fix_deferred", "Fix deferred", finding.SeverityMedium}}},
		{"RHEL 8: affected", rpm("python3-libxml2", "2.9.7-18.el8_10", "libxml2", "rhel-8.10"),
			[]got{{"REDHAT-CVE-2024-11111", "", "affected", "Affected", finding.SeverityMedium}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Match(ctx, db, []sbom.Package{tc.pkg}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var gs []got
			for _, f := range res.Findings {
				v := f.Vulnerability
				gs = append(gs, got{f.RuleID, v.Fixed, v.FixState, v.FixStateReason, f.Severity})
			}
			if len(gs) != len(tc.want) {
				t.Fatalf("findings %+v, want %+v", gs, tc.want)
			}
			for i := range gs {
				if gs[i] != tc.want[i] {
					t.Errorf("finding %d: %+v, want %+v", i, gs[i], tc.want[i])
				}
			}
		})
	}
	// --ignore-status drops the states the user accepts.
	res, err := Match(ctx, db, []sbom.Package{rpm("openssl", "1:1.1.1k-12.el8_9", "openssl", "rhel-8.10")},
		Options{IgnoreStatus: []string{finding.FixStateWillNotFix, finding.FixStateFixed}})
	if err != nil || len(res.Findings) != 0 {
		t.Errorf("--ignore-status will_not_fix,fixed: %+v, %v", res.Findings, err)
	}
}
