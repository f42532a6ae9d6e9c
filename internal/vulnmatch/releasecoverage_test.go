package vulnmatch

import (
	"context"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// releasesSource is a source without records that knows its releases, as
// *vulndb.DB does from its metadata (in-memory: the database's own
// recording of releases is tested end to end in internal/imagescan).
type releasesSource struct{ releases []string }

func (releasesSource) Lookup(string, string) ([]*vulndb.Record, error) { return nil, nil }
func (releasesSource) HasEcosystem(string) bool                        { return true }
func (s releasesSource) Releases(eco string) []string {
	return vulndb.Metadata{Releases: s.releases}.ReleasesOf(eco)
}

// TestReleaseCoverage: a package of a release the source has no records
// of is not checked (an error, a warning under AllowMissingData); one of
// a covered release, of an unknown release, or of a distribution whose
// releases the source does not list is matched as before.
func TestReleaseCoverage(t *testing.T) {
	src := releasesSource{releases: []string{"Alpine:v3.19", "Alpine:v3.20", "Debian:11", "Debian:12", "Ubuntu:22.04:LTS", "Ubuntu:Pro:16.04:LTS"}}
	for _, tc := range []struct {
		eco       string
		unchecked bool
	}{
		{"Debian:12", false},
		{"Debian:13", true},
		{"Debian", false}, // release unknown: matched against every release
		{"Alpine:v3.20", false},
		{"Alpine:v3.21", true},
		{"Ubuntu:22.04", false},
		{"Ubuntu:24.04", true},
		{"Ubuntu:16.04", true}, // only Pro (ESM) records, which need Pro
		{"Wolfi", false},
	} {
		for _, allow := range []bool{false, true} {
			res, err := Match(context.Background(), src, []sbom.Package{{Name: "zlib", Version: "1.3.1-r0", Ecosystem: tc.eco}}, Options{AllowMissingData: allow})
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if tc.unchecked {
				want = 1
			}
			if len(res.Unchecked) != want || len(res.Problems) != want {
				t.Fatalf("%s: unchecked %v, problems %v", tc.eco, res.Unchecked, res.Problems)
			}
			if want == 1 {
				level := finding.LevelError
				if allow {
					level = finding.LevelWarning
				}
				if p := res.Problems[0]; p.Level != level || !strings.Contains(p.Message, "no vulnerability data for ecosystem "+tc.eco+" (1 package not checked)") {
					t.Errorf("%s allow %t: problem %+v", tc.eco, allow, p)
				}
			}
		}
	}
}
