package imagescan

import (
	"context"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/finding"
	. "github.com/palisade-sec/palisade/internal/imagescan/imagescantest"
)

// TestReleaseWithoutAdvisoriesIsNotClean: a Debian 13 image against a
// database that holds Debian 12's advisories alone. No record can match
// a package of release 13, so the scan used to say "no findings"; its
// packages are not checked (an error, a warning under AllowMissingData),
// while the same packages on Debian 12 are matched (Alpine and Ubuntu
// releases: TestReleaseCoverage in internal/vulnmatch).
func TestReleaseWithoutAdvisoriesIsNotClean(t *testing.T) {
	cacheDir := zlibDB(t)
	status := File("var/lib/dpkg/status", DpkgStatus(DpkgStanza("zlib1g", "1:1.2.13.dfsg-1", "zlib")))
	for _, tc := range []struct {
		osRelease    string
		wantFindings int
		wantProblem  string
	}{
		{OSRelease, 1, ""},
		{"ID=debian\nVERSION_ID=13\nVERSION_CODENAME=trixie\n", 0, "no vulnerability data for ecosystem Debian:13 (1 package not checked)"},
	} {
		dir := Layout(t, Image(t, "linux/amd64", Layer(t, File("etc/os-release", tc.osRelease), status)))
		for _, allow := range []bool{false, true} {
			res, err := Scan(context.Background(), "oci:"+dir, Options{CacheDir: cacheDir, Scanners: Scanners{Vuln: true}, AllowMissingData: allow, MaxDBAge: -1})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range res.Report.Problems {
				if strings.Contains(p.Message, "not checked") {
					got = append(got, p.Level+": "+p.Message)
				}
			}
			wantErrors, level := 0, finding.LevelError
			if tc.wantProblem != "" && !allow {
				wantErrors = 1
			}
			if allow {
				level = finding.LevelWarning
			}
			ok := len(got) == 0
			if tc.wantProblem != "" {
				ok = len(got) == 1 && strings.HasPrefix(got[0], level+": ") && strings.Contains(got[0], tc.wantProblem)
			}
			if !ok || len(res.Report.Findings) != tc.wantFindings || res.Report.Summary.Errors != wantErrors {
				t.Errorf("%q allow-missing-data %t: findings %d, errors %d, problems %q; want %d findings, %d errors, %q",
					tc.osRelease, allow, len(res.Report.Findings), res.Report.Summary.Errors, got, tc.wantFindings, wantErrors, tc.wantProblem)
			}
		}
	}
}
