package vulndb

import (
	"slices"
	"strings"
	"testing"
)

// TestUbuntuTracker downloads the Ubuntu CVE Tracker (a tar.gz of its
// tree, as Launchpad's snapshot serves it) with `db update`: every
// tracker status of a release and source package becomes a fix state of
// the CVE (needed, needs-triage, in-progress, pending: affected;
// deferred: fix deferred; ignored: will not fix, or end of life when the
// note says so; DNE and not-affected: not affected). Released lines are
// OSV's to carry; ESM pockets are Ubuntu Pro releases; the upstream and
// devel lines are no release.
func TestUbuntuTracker(t *testing.T) {
	db, res := vendorUpdate(t, "ubuntu-tracker", "/ubuntu-cve-tracker/snapshot/ubuntu-cve-tracker-master.tar.gz",
		tarDir(t, "testdata/ubuntu-tracker", "gz"))
	if res.CVEs != 4 || res.Skipped != 1 {
		t.Fatalf("update: %+v", res)
	}
	format := func(sts []PackageStatus) []string {
		var out []string
		for _, s := range sts {
			out = append(out, s.Ecosystem+" "+s.Package+" "+s.State+" "+s.Reason)
		}
		return out
	}
	for _, tc := range []struct {
		cve  string
		want []string
	}{
		{"CVE-2024-0727", []string{
			"Ubuntu:14.04:LTS openssl end_of_life ignored (end of standard support)",
			"Ubuntu:Pro:14.04:LTS openssl affected needed",
			"Ubuntu:16.04:LTS openssl end_of_life ignored (end of standard support)",
			"Ubuntu:Pro:16.04:LTS openssl fix_deferred deferred (2024-02-01)",
			"Ubuntu:18.04:LTS openssl end_of_life ignored (end of standard support)",
			"Ubuntu:22.04:LTS openssl affected needed",
			"Ubuntu:23.10 openssl affected pending (3.0.10-1ubuntu2.2)",
			"Ubuntu:24.04:LTS openssl not_affected not-affected (3.0.10-1ubuntu4)",
			"Ubuntu:14.04:LTS openssl1.0 not_affected DNE",
			"Ubuntu:16.04:LTS openssl1.0 not_affected DNE",
			"Ubuntu:18.04:LTS openssl1.0 will_not_fix ignored (code too different to backport)",
			"Ubuntu:20.04:LTS openssl1.0 not_affected DNE",
			"Ubuntu:22.04:LTS openssl1.0 not_affected DNE",
		}},
		{"CVE-2024-2961", []string{
			"Ubuntu:20.04:LTS glibc affected needs-triage",
			"Ubuntu:22.04:LTS glibc fix_deferred deferred",
			"Ubuntu:24.04:LTS glibc affected in-progress",
			"Ubuntu:24.10 glibc end_of_life ignored (oracular reached end-of-life)",
		}},
	} {
		info, err := db.CVE(tc.cve)
		if err != nil || info == nil {
			t.Fatalf("%s: %v %v", tc.cve, info, err)
		}
		if got := format(info.Statuses); !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got  %s\n want %s", tc.cve, strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
		}
	}
	if info, _ := db.CVE("CVE-2020-1971"); info == nil || len(info.Statuses) != 0 {
		t.Errorf("released-only CVE: %+v, want its priority only", info)
	}
}

// TestUbuntuTrackerPriorities: the tracker's priorities are kept per CVE
// ("Priority:"), per source package ("Priority_linux:") and per package
// and release ("Priority_linux_jammy:"), named as the tracker's;
// "untriaged" rates nothing and a release that is no image's is left
// out.
func TestUbuntuTrackerPriorities(t *testing.T) {
	db, _ := vendorUpdate(t, "ubuntu-tracker", "/ubuntu-cve-tracker/snapshot/ubuntu-cve-tracker-master.tar.gz",
		tarDir(t, "testdata/ubuntu-tracker", "gz"))
	for _, tc := range []struct {
		cve  string
		want []string
	}{
		{"CVE-2024-0727", []string{"Ubuntu  low", "Ubuntu openssl low"}},
		{"CVE-2024-2961", []string{"Ubuntu  medium"}},
		{"CVE-2024-26925", []string{"Ubuntu  medium", "Ubuntu linux high", "Ubuntu:22.04:LTS linux critical"}},
		{"CVE-2020-1971", []string{"Ubuntu  high"}},
	} {
		info, err := db.CVE(tc.cve)
		if err != nil || info == nil {
			t.Fatalf("%s: %v %v", tc.cve, info, err)
		}
		var got []string
		for _, p := range info.Priorities {
			if p.Source != SourceUbuntuTracker {
				t.Errorf("%s: source %q", tc.cve, p.Source)
			}
			got = append(got, p.Ecosystem+" "+p.Package+" "+p.Priority)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s priorities:\n got  %q\n want %q", tc.cve, got, tc.want)
		}
	}
}

// FuzzParseUbuntuTracker: hostile tracker files fail or give statuses
// of known releases, never a panic.
func FuzzParseUbuntuTracker(f *testing.F) {
	f.Add(readFile(f, "testdata/ubuntu-tracker/active/CVE-2024-0727"))
	f.Add([]byte("Candidate: CVE-2024-1\njammy_x: ignored (end of life\n"))
	f.Add(readFile(f, "testdata/ubuntu-tracker/active/CVE-2024-26925"))
	f.Add([]byte("Candidate: CVE-2024-1\nPriority_a_b_c: high\nPriority_: low\nPriority_x_esm-infra/xenial: Critical\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := parseUbuntuTracker(strings.NewReader(string(data)))
		if err != nil || info == nil {
			return
		}
		for _, s := range info.Statuses {
			if !strings.HasPrefix(s.Ecosystem, "Ubuntu:") || s.State == "" || s.Package == "" {
				t.Fatalf("status %+v", s)
			}
		}
		for _, p := range info.Priorities {
			if !strings.HasPrefix(p.Ecosystem, "Ubuntu") || !ubuntuPriorities[p.Priority] {
				t.Fatalf("priority %+v", p)
			}
		}
	})
}
