package vulnmatch

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// goAffected is a Go affected entry fixed in fixed, whose
// ecosystem_specific.imports is imports (JSON) when not empty.
func goAffected(name, fixed, imports string) vulndb.Affected {
	a := affected("Go", name, fixed)
	a.Ranges[0].Type = vulndb.RangeSemver
	if imports != "" {
		a.EcosystemSpecific = json.RawMessage(`{"imports":` + imports + `}`)
	}
	return a
}

// TestMatchGoPlatform: as govulncheck does, a Go record whose affected
// packages (ecosystem_specific.imports) all name other GOOS/GOARCH than
// the binary's is not reported; a record without imports, or with one
// import for every platform or the binary's, is. A binary of unknown
// platform is matched against every record.
func TestMatchGoPlatform(t *testing.T) {
	db := openRecords(t,
		vulndb.Record{ID: "GO-WINDOWS", Affected: []vulndb.Affected{goAffected("stdlib", "1.26.9",
			`[{"path":"os","goos":["windows"],"symbols":["Open"]},{"path":"syscall","goos":["windows"]}]`)}},
		vulndb.Record{ID: "GO-ARM64-LINUX", Affected: []vulndb.Affected{goAffected("stdlib", "1.26.9",
			`[{"path":"crypto/aes","goos":["linux","darwin"],"goarch":["arm64"]}]`)}},
		vulndb.Record{ID: "GO-ANY-IMPORT", Affected: []vulndb.Affected{goAffected("stdlib", "1.26.9",
			`[{"path":"net/http","goos":["windows"]},{"path":"net/url"}]`)}},
		vulndb.Record{ID: "GO-NO-IMPORTS", Affected: []vulndb.Affected{goAffected("stdlib", "1.26.9", "")}},
	)
	tests := []struct {
		platform string
		want     []string
	}{
		{"linux/amd64", []string{"GO-ANY-IMPORT", "GO-NO-IMPORTS"}},
		{"linux/arm64", []string{"GO-ANY-IMPORT", "GO-ARM64-LINUX", "GO-NO-IMPORTS"}},
		{"windows/amd64", []string{"GO-ANY-IMPORT", "GO-NO-IMPORTS", "GO-WINDOWS"}},
		{"", []string{"GO-ANY-IMPORT", "GO-ARM64-LINUX", "GO-NO-IMPORTS", "GO-WINDOWS"}},
	}
	for _, tt := range tests {
		t.Run(tt.platform, func(t *testing.T) {
			p := sbom.Package{Name: "stdlib", Version: "1.26.8", Ecosystem: "Go", Platform: tt.platform}
			res, err := Match(context.Background(), db, []sbom.Package{p}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range res.Findings {
				got = append(got, f.RuleID)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("findings %v, want %v", got, tt.want)
			}
		})
	}
}

// TestMatchGoToolchainVersions: the Go version of a binary is never
// dropped. Experiment suffixes ("go1.26.8-X:jsonv2", "go1.21.0
// X:boringcrypto") are the release they build on, release candidates
// are pre-releases of it, and a development toolchain, which has no
// release version, is a problem (an error unless missing data is
// allowed), never a silent pass.
func TestMatchGoToolchainVersions(t *testing.T) {
	db := openRecords(t,
		vulndb.Record{ID: "GO-1", Affected: []vulndb.Affected{goAffected("stdlib", "1.26.9", "")}},
		vulndb.Record{ID: "GO-TOOLCHAIN", Affected: []vulndb.Affected{goAffected("toolchain", "1.26.9", "")}},
	)
	tests := []struct {
		name, version string
		want          []want
		problem       string
	}{
		{"stdlib", "1.26.8", []want{{"stdlib", "GO-1", "1.26.9", finding.SeverityUnknown, ""}}, ""},
		{"stdlib", "go1.26.8", []want{{"stdlib", "GO-1", "1.26.9", finding.SeverityUnknown, ""}}, ""},
		{"stdlib", "1.26.8-X:jsonv2", []want{{"stdlib", "GO-1", "1.26.9", finding.SeverityUnknown, ""}}, ""},
		{"stdlib", "go1.26.8-X:jsonv2,greenteagc", []want{{"stdlib", "GO-1", "1.26.9", finding.SeverityUnknown, ""}}, ""},
		{"stdlib", "go1.21.0 X:boringcrypto", []want{{"stdlib", "GO-1", "1.26.9", finding.SeverityUnknown, ""}}, ""},
		{"stdlib", "go1.26rc1", []want{{"stdlib", "GO-1", "1.26.9", finding.SeverityUnknown, ""}}, ""},
		{"toolchain", "go1.26.8-X:jsonv2", []want{{"toolchain", "GO-TOOLCHAIN", "1.26.9", finding.SeverityUnknown, ""}}, ""},
		{"stdlib", "1.26.9-X:jsonv2", nil, ""},
		{"stdlib", "devel go1.27-4c2e7d1a Tue Dec 1 10:00:00 2026 +0000", nil, "development Go toolchain"},
		{"stdlib", "devel +4c2e7d1a", nil, "development Go toolchain"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			res, err := Match(context.Background(), db, []sbom.Package{{Name: tt.name, Version: tt.version, Ecosystem: "Go"}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := summarize(res.Findings); !equalWants(got, tt.want) {
				t.Errorf("findings:\n got  %v\n want %v", got, tt.want)
			}
			switch {
			case tt.problem == "" && len(res.Problems) > 0:
				t.Errorf("problems: %+v", res.Problems)
			case tt.problem != "" && (len(res.Problems) != 1 || res.Problems[0].Level != finding.LevelError || !strings.Contains(res.Problems[0].Message, tt.problem)):
				t.Errorf("problems %+v, want one error saying %q", res.Problems, tt.problem)
			}
		})
	}
}
