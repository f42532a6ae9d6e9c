package vulnmatch

import (
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom"
)

// TestEndOfLife: for every distribution, a release past the end of its
// standard security support is a High finding naming the date, the paid
// extension if any and the source of the dates; a supported release is
// none; a release the table does not know is no finding but a warning
// "end of life unknown" (never silently supported). The day of the end
// itself is still supported. Releases are matched as os-release's
// VERSION_ID says them ("9.4" is 9, "2018.03" is Amazon Linux 1, "5" is
// Photon 5.0, CentOS Stream by its NAME). Rolling distributions get
// neither.
func TestEndOfLife(t *testing.T) {
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d.Add(12 * time.Hour)
	}
	const today = "2026-12-07"
	type row struct {
		os   sbom.OS
		now  string
		want string // a substring of the finding's message; "" no finding
	}
	os := func(id, version string) sbom.OS { return sbom.OS{ID: id, VersionID: version} }
	tests := []struct {
		distro  string
		source  string
		past    row
		current row
		unknown sbom.OS // "" ID: none (rolling)
	}{
		{"Debian", "endoflife.date/debian",
			row{sbom.OS{ID: "debian", VersionID: "11", PrettyName: "Debian GNU/Linux 11 (bullseye)"}, today, "Debian GNU/Linux 11 (bullseye) reached the end of its security support on 2026-08-31"},
			row{os("debian", "12"), today, ""}, os("debian", "7")},
		{"Debian, the last day", "endoflife.date/debian",
			row{os("debian", "11"), "2026-09-01", "2026-08-31"}, row{os("debian", "11"), "2026-08-31", ""}, os("debian", "")},
		{"Debian 12, the end of its LTS", "endoflife.date/debian",
			row{os("debian", "12"), "2028-07-01", "2028-06-30"}, row{os("debian", "12"), "2028-06-30", ""}, os("debian", "14")},
		{"Debian 13", "endoflife.date/debian",
			row{os("debian", "13"), "2030-07-01", "2030-06-30"}, row{os("debian", "13"), today, ""}, os("debian", "15")},
		{"SLES 15 SP7", "www.suse.com/lifecycle",
			row{os("sles", "15.7"), "2031-08-01", "2031-07-31"}, row{os("sles", "15.7"), today, ""}, os("sles", "15.8")},
		{"Ubuntu", "endoflife.date/ubuntu",
			row{os("ubuntu", "20.04"), today, "Ubuntu Pro (ESM) until 2030-04-02"}, row{os("ubuntu", "24.04"), today, ""}, os("ubuntu", "12.04")},
		{"Alpine 3.4", "endoflife.date/alpine-linux",
			row{os("alpine", "3.4.6"), today, "2018-05-01"}, row{os("alpine", "3.4.6"), "2018-05-01", ""}, os("alpine", "2.7.9")},
		{"Alpine", "endoflife.date/alpine-linux",
			row{os("alpine", "3.20.3"), today, "2026-04-01"}, row{os("alpine", "3.22.1"), today, ""}, os("alpine", "3.24.0")},
		{"RHEL / UBI", "access.redhat.com/support/policy/updates/errata",
			row{os("rhel", "7.9"), today, "on 2024-06-30: its packages receive no more security fixes (Extended Life Cycle Support (paid add-on) until 2028-06-30)"},
			row{os("rhel", "10.0"), today, ""}, os("rhel", "11.0")},
		{"RHEL 8 after Maintenance Support, during ELS", "access.redhat.com/support/policy/updates/errata",
			row{os("rhel", "8.10"), "2029-06-01", "2029-05-31"}, row{os("rhel", "8.8"), "2029-05-31", ""}, os("rhel", "5.11")},
		{"CentOS Linux", "endoflife.date/centos",
			row{sbom.OS{ID: "centos", VersionID: "8", Name: "CentOS Linux"}, today, "2021-12-31"},
			row{sbom.OS{ID: "centos", VersionID: "7", Name: "CentOS Linux"}, "2024-06-01", ""}, sbom.OS{ID: "centos", VersionID: "5", Name: "CentOS Linux"}},
		{"CentOS Stream", "endoflife.date/centos-stream",
			row{sbom.OS{ID: "centos", VersionID: "8", Name: "CentOS Stream"}, today, "2024-05-31"},
			row{sbom.OS{ID: "centos", VersionID: "9", Name: "CentOS Stream"}, today, ""}, sbom.OS{ID: "centos", VersionID: "11", Name: "CentOS Stream"}},
		{"Rocky Linux", "endoflife.date/rocky-linux",
			row{os("rocky", "8.10"), "2029-06-01", "2029-05-31"}, row{os("rocky", "10.0"), today, ""}, os("rocky", "11.0")},
		{"AlmaLinux", "endoflife.date/almalinux",
			row{os("almalinux", "8.9"), "2029-03-02", "2029-03-01"}, row{os("almalinux", "9.4"), today, ""}, os("almalinux", "7")},
		{"Oracle Linux", "endoflife.date/oracle-linux",
			row{os("ol", "7.9"), today, "Oracle Extended Support (paid) until 2026-06-01"}, row{os("ol", "8.8"), today, ""}, os("ol", "5.11")},
		{"Amazon Linux 2", "aws.amazon.com/amazon-linux-2/faqs",
			row{os("amzn", "2"), today, "2026-06-30"}, row{os("amzn", "2023"), today, ""}, os("amzn", "2022")},
		{"Amazon Linux AMI (1)", "aws.amazon.com/amazon-linux-2/faqs",
			row{os("amzn", "2018.03"), today, "2023-12-31"}, row{os("amzn", "2023"), "2029-06-30", ""}, os("amzn", "2025")},
		{"SLES", "www.suse.com/lifecycle",
			row{os("sles", "15.5"), today, "(LTSS (paid) until 2027-12-31)"}, row{os("sles", "15.6"), "2025-06-01", ""}, os("sles", "16.0")},
		{"openSUSE Leap", "endoflife.date/opensuse",
			row{os("opensuse-leap", "15.5"), today, "2024-12-31"}, row{os("opensuse-leap", "16.0"), today, ""}, os("opensuse-leap", "42.3")},
		{"Photon OS", "endoflife.date/photon",
			row{os("photon", "3.0"), today, "2025-10-02"}, row{os("photon", "4"), today, ""}, os("photon", "5.0")},
		{"CBL-Mariner", "endoflife.date/azure-linux",
			row{os("mariner", "2.0"), today, "2025-07-31"}, row{os("mariner", "2.0"), "2025-07-31", ""}, os("mariner", "0.9")},
		{"Azure Linux", "endoflife.date/azure-linux",
			row{os("azurelinux", "3.0"), "2027-09-01", "2027-08-31"}, row{os("azurelinux", "3.0"), today, ""}, os("azurelinux", "4.0")},
		{"Fedora", "endoflife.date/fedora",
			row{os("fedora", "37"), today, "2023-12-05"}, row{os("fedora", "43"), today, ""}, os("fedora", "45")},
		{"Wolfi (rolling)", "",
			row{os("wolfi", "20230201"), today, ""}, row{os("wolfi", "20230201"), today, ""}, sbom.OS{}},
		{"Chainguard (rolling)", "",
			row{os("chainguard", "20230214"), today, ""}, row{os("chainguard", "20230214"), today, ""}, sbom.OS{}},
		{"openSUSE Tumbleweed (rolling)", "",
			row{os("opensuse-tumbleweed", "20261201"), today, ""}, row{os("opensuse-tumbleweed", "20261201"), today, ""}, sbom.OS{}},
		{"a distribution without dates", "",
			row{os("slackware", "15.0"), today, ""}, row{os("slackware", "15.0"), today, ""}, os("slackware", "15.0")},
	}
	for _, tt := range tests {
		for _, r := range []row{tt.past, tt.current} {
			f, ok := EndOfLife(&r.os, day(r.now), finding.ObjectRef{})
			if ok != (r.want != "") {
				t.Errorf("%s: %s %s on %s: finding %v, want %v", tt.distro, r.os.ID, r.os.VersionID, r.now, ok, r.want != "")
				continue
			}
			if ok && (f.RuleID != RuleOSEndOfLife || f.Severity != finding.SeverityHigh || !strings.Contains(f.Message, r.want) || !strings.Contains(f.Message, "; source: https://"+tt.source)) {
				t.Errorf("%s: %s %s: %+v, want %q and source %s", tt.distro, r.os.ID, r.os.VersionID, f, r.want, tt.source)
			}
			if p, unknown := EndOfLifeUnknown(&r.os); unknown && tt.unknown.ID != r.os.ID {
				t.Errorf("%s: %s %s: known release reported unknown: %s", tt.distro, r.os.ID, r.os.VersionID, p.Message)
			}
		}
		if tt.unknown.ID == "" {
			continue
		}
		if _, ok := EndOfLife(&tt.unknown, day(today), finding.ObjectRef{}); ok {
			t.Errorf("%s: unknown release %q gave a finding", tt.distro, tt.unknown.VersionID)
		}
		p, ok := EndOfLifeUnknown(&tt.unknown)
		if !ok || p.Level != finding.LevelWarning || !strings.Contains(p.Message, "end of life unknown") {
			t.Errorf("%s: unknown release %q: warning %v %+v", tt.distro, tt.unknown.VersionID, ok, p)
		}
	}
	if _, ok := EndOfLife(nil, time.Now(), finding.ObjectRef{}); ok {
		t.Error("no OS gave a finding")
	}
	if _, ok := EndOfLifeUnknown(nil); ok {
		t.Error("no OS gave a warning")
	}
}

// FuzzEndOfLife: an image's os-release is hostile input. Whatever its ID,
// VERSION_ID and NAME, the end-of-life check neither panics nor both
// reports a release ended and unknown.
func FuzzEndOfLife(f *testing.F) {
	for _, s := range [][3]string{
		{"amzn", "2018.03", ""}, {"centos", "9", "CentOS Stream"}, {"photon", "5", ""}, {"rhel", "9.4", ""},
		{"sles", "15.5", ""}, {"alpine", "3.20.3", ""}, {"debian", "", ""}, {"amzn", "2010.1", ""}, {"", "", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, id, version, name string) {
		o := &sbom.OS{ID: id, VersionID: version, Name: name}
		_, ended := EndOfLife(o, now, finding.ObjectRef{})
		p, unknown := EndOfLifeUnknown(o)
		if ended && unknown {
			t.Fatalf("%q %q %q: ended and unknown: %s", id, version, name, p.Message)
		}
	})
}
