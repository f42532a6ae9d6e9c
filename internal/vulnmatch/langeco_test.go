package vulnmatch

import (
	"context"
	"testing"

	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// TestMatchLanguageEcosystems matches the packages of the RubyGems, NuGet,
// Packagist, Pub and SwiftURL catalogers against GHSA-style OSV records,
// each in its ecosystem's version order and name rules (NuGet and
// Packagist names case-insensitive, SwiftURL by repository path).
// Before these ecosystems had a version order, every package was
// reported as not checked.
func TestMatchLanguageEcosystems(t *testing.T) {
	rec := func(id string, a vulndb.Affected) vulndb.Record {
		return vulndb.Record{ID: id, Aliases: []string{"CVE-2099-" + id[5:]}, Affected: []vulndb.Affected{a}}
	}
	db := openRecords(t,
		rec("GHSA-0001", affected("RubyGems", "actionpack", "7.0.4.1")),
		rec("GHSA-0002", affected("NuGet", "newtonsoft.json", "13.0.1")),
		rec("GHSA-0003", affected("Packagist", "symfony/http-kernel", "5.4.20")),
		rec("GHSA-0004", affected("Pub", "http", "0.13.3")),
		rec("GHSA-0005", affected("SwiftURL", "github.com/vapor/vapor", "4.48.0")),
	)
	for _, tc := range []struct {
		eco, name, version string
		fixed              string // "" = not affected
	}{
		{"RubyGems", "actionpack", "7.0.4", "7.0.4.1"},
		{"RubyGems", "actionpack", "7.0.4.1.rc1", "7.0.4.1"}, // a pre-release of the fix
		{"RubyGems", "actionpack", "7.0.4.1", ""},
		{"RubyGems", "actionpack", "7.0.10", ""},
		{"NuGet", "Newtonsoft.Json", "12.0.3", "13.0.1"},
		{"NuGet", "Newtonsoft.Json", "13.0.1.0", ""},
		{"NuGet", "Newtonsoft.Json", "13.0.1-beta1", "13.0.1"},
		{"Packagist", "symfony/http-kernel", "v5.4.19", "5.4.20"},
		{"Packagist", "Symfony/Http-Kernel", "5.4.20-RC1", "5.4.20"},
		{"Packagist", "symfony/http-kernel", "v5.4.20", ""},
		{"Pub", "http", "0.13.2", "0.13.3"},
		{"Pub", "http", "0.13.3+1", ""},
		{"SwiftURL", "github.com/Vapor/vapor", "4.47.1", "4.48.0"},
		{"SwiftURL", "github.com/vapor/vapor", "4.48.0", ""},
	} {
		p := sbom.Package{Name: tc.name, Version: tc.version, Ecosystem: tc.eco}
		res, err := Match(context.Background(), db, []sbom.Package{p}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Problems) != 0 {
			t.Errorf("%s %s %s: problems %v", tc.eco, tc.name, tc.version, res.Problems)
		}
		switch {
		case tc.fixed == "" && len(res.Findings) != 0:
			t.Errorf("%s %s %s: unexpected %s", tc.eco, tc.name, tc.version, res.Findings[0].RuleID)
		case tc.fixed != "" && (len(res.Findings) != 1 || res.Findings[0].Vulnerability.Fixed != tc.fixed):
			t.Errorf("%s %s %s: findings %+v, want one fixed in %s", tc.eco, tc.name, tc.version, res.Findings, tc.fixed)
		}
	}
}
