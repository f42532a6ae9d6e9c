package vulnmatch

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// TestMatchFixStates: every finding has a fix state. A fixed version
// makes it "fixed"; otherwise the Debian Security Tracker's state of the
// source package in the package's release decides (ignored: will not
// fix, postponed: deferred, end-of-life), else "affected". IgnoreStatus
// drops findings by state, as Trivy's --ignore-status does.
func TestMatchFixStates(t *testing.T) {
	db := openRecords(t,
		vulndb.Record{ID: "DEBIAN-CVE-2024-0727", Upstream: []string{"CVE-2024-0727"}, Affected: []vulndb.Affected{
			affected("Debian:10", "openssl", ""), affected("Debian:11", "openssl", ""), affected("Debian:12", "openssl", "3.0.13-1~deb12u1"),
		}},
		vulndb.Record{ID: "DEBIAN-CVE-2010-4756", Upstream: []string{"CVE-2010-4756"}, Affected: []vulndb.Affected{
			affected("Debian:11", "glibc", ""), affected("Debian:12", "glibc", ""), affected("Debian:13", "glibc", ""),
		}},
	)
	dir := strings.TrimSuffix(db.Path(), "/vulndb/osv.db")
	db.Close()
	c := vulndb.Cache{Dir: dir}
	if _, err := c.Import(context.Background(), "../vulndb/testdata/enrich/debian-tracker.json", "debian-tracker", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	db, err := c.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pkg := func(name, ver, src, eco string) sbom.Package {
		return sbom.Package{Name: name, Version: ver, Ecosystem: eco, SourceName: src}
	}
	tests := []struct {
		pkg           sbom.Package
		state, reason string
	}{
		{pkg("libssl3", "3.0.11-1~deb12u2", "openssl", "Debian:12"), finding.FixStateFixed, ""},
		{pkg("libssl1.1", "1.1.1w-0+deb11u1", "openssl", "Debian:11"), finding.FixStateDeferred, "postponed"},
		{pkg("libssl1.1", "1.1.1n-0+deb10u3", "openssl", "Debian:10"), finding.FixStateEndOfLife, "end-of-life"},
		{pkg("libc6", "2.36-9+deb12u9", "glibc", "Debian:12"), finding.FixStateWillNotFix, "ignored"},
		{pkg("libc6", "2.31-13+deb11u11", "glibc", "Debian:11"), finding.FixStateAffected, "no-dsa"},
		{pkg("libc6", "2.41-6", "glibc", "Debian:13"), finding.FixStateAffected, ""},
	}
	for _, tt := range tests {
		t.Run(tt.pkg.Ecosystem+"/"+tt.pkg.Name, func(t *testing.T) {
			res, err := Match(context.Background(), db, []sbom.Package{tt.pkg}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Findings) != 1 {
				t.Fatalf("findings: %v", summarize(res.Findings))
			}
			v := res.Findings[0].Vulnerability
			if v.FixState != tt.state || v.FixStateReason != tt.reason {
				t.Errorf("fix state %q (%q), want %q (%q)", v.FixState, v.FixStateReason, tt.state, tt.reason)
			}
			for _, ignore := range finding.FixStates {
				res, err := Match(context.Background(), db, []sbom.Package{tt.pkg}, Options{IgnoreStatus: []string{ignore}})
				if err != nil {
					t.Fatal(err)
				}
				if want := 1 - btoi(ignore == tt.state); len(res.Findings) != want {
					t.Errorf("IgnoreStatus %s: %d findings, want %d", ignore, len(res.Findings), want)
				}
			}
		})
	}
	if !slices.Contains(finding.FixStates, finding.FixStateDeferred) {
		t.Error("FixStates lacks fix_deferred")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
