package vulnmatch

import (
	"fmt"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/sbom"
)

// RuleOSEndOfLife is the rule ID of the finding that an image's operating
// system release no longer receives security updates.
const RuleOSEndOfLife = "os-end-of-life"

// lifecycle is the end of security support of one distribution release.
type lifecycle struct {
	id, release string
	// end is the last day of the release's standard security support:
	// the updates every user of the distribution gets without a paid
	// extension. For Debian the end of its LTS (DLA advisories continue
	// until then), for Ubuntu the end of standard support (ESM continues
	// for Ubuntu Pro), for RHEL the end of Maintenance Support (ELS is a
	// paid add-on), for SLES the end of general support of the service
	// pack (LTSS is paid), for Oracle Linux the end of Premier/Basic
	// support (Extended Support is paid). This is the date Trivy reports
	// as end of service life, for the same reason: the advisories the
	// scan reads stop there for most users.
	end string
	// note says what support may remain (a paid extension).
	note string
}

// distribution is where one distribution's dates come from, with its
// name for messages.
type distribution struct {
	name   string
	source string
}

// distributions names the source of each distribution's dates: the
// vendor's lifecycle page, or endoflife.date's product page (which cites
// the vendor's) when the vendor publishes no single page. Checked on
// 2026-12-07; see docs/image-scanning.md for the table.
var distributions = map[string]distribution{
	// endoflife.date products/debian.md at 007fc5ab, from
	// wiki.debian.org/DebianReleases and wiki.debian.org/LTS.
	"debian": {"Debian", "https://endoflife.date/debian"},
	// products/ubuntu.md at 021ca13a, from wiki.ubuntu.com/Releases.
	"ubuntu": {"Ubuntu", "https://endoflife.date/ubuntu"},
	// products/alpine-linux.md at 0118c303, from alpinelinux.org/releases.
	"alpine": {"Alpine Linux", "https://endoflife.date/alpine-linux"},
	// products/rhel.md at 06362a04, from Red Hat's
	// access.redhat.com/support/policy/updates/errata ("Maintenance
	// support" ends; ELS dates in the notes). UBI images carry ID=rhel
	// and follow RHEL's life cycle.
	"rhel": {"Red Hat Enterprise Linux", "https://access.redhat.com/support/policy/updates/errata"},
	// products/centos.md at 0776bd7c (CentOS Linux; 8 ended early, on
	// 2021-12-31, by the CentOS project's announcement).
	"centos": {"CentOS Linux", "https://endoflife.date/centos"},
	// products/centos-stream.md at 08aea8f6: a stream ends when its RHEL
	// major leaves full support. Its os-release says ID=centos too;
	// NAME="CentOS Stream" tells it apart.
	"centos-stream": {"CentOS Stream", "https://endoflife.date/centos-stream"},
	// products/rocky-linux.md at 11ec7295, from
	// wiki.rockylinux.org/rocky/version ("End of Life"; Rocky offers no ELS).
	"rocky": {"Rocky Linux", "https://endoflife.date/rocky-linux"},
	// products/almalinux.md at 0f7d558f, from wiki.almalinux.org.
	"almalinux": {"AlmaLinux OS", "https://endoflife.date/almalinux"},
	// products/oracle-linux.md at 066c6241, from Oracle's Lifetime
	// Support Policy (oracle.com/a/ocom/docs/elsp-lifetime-069338.pdf).
	"ol": {"Oracle Linux", "https://endoflife.date/oracle-linux"},
	// AWS: Amazon Linux 2 FAQs (end of support 2026-06-30, extended
	// from 2025-06-30), AL2023 release cadence (docs.aws.amazon.com/
	// linux/al2023/ug/release-cadence.html: maintenance ends
	// 2029-06-30), the Amazon Linux AMI end of life (2023-12-31, blog
	// "Update on Amazon Linux AMI end-of-life"; endoflife.date
	// products/amazon-linux.md at 003e48ed has it too).
	"amzn": {"Amazon Linux", "https://aws.amazon.com/amazon-linux-2/faqs/"},
	// products/sles.md at 01af712d ("General Support"; LTSS in the
	// notes) from suse.com/lifecycle; 15 SP6's general support ended in
	// December 2025 (suse.com/c/sles-15-sp6-ltss-2026-support-gap).
	"sles": {"SUSE Linux Enterprise Server", "https://www.suse.com/lifecycle"},
	// products/opensuse.md at 02ce42c2, from en.opensuse.org/Lifetime.
	"opensuse-leap": {"openSUSE Leap", "https://endoflife.date/opensuse"},
	// VMware's Photon OS end-of-support schedule
	// (blogs.vmware.com/vsphere/2022/01/photon-1-x-end-of-support-
	// announcement.html for 1.0) and endoflife.date's Photon dates as
	// endoflife.ai/photon republishes them (2.0-4.0); 5.0 has no
	// published end yet.
	"photon": {"Photon OS", "https://endoflife.date/photon"},
	// products/azure-linux.md at b923d030, from learn.microsoft.com/
	// azure/azure-linux/release-cadence-lifecycle (CBL-Mariner 1.0 and
	// 2.0, Azure Linux 3.0, whose os-release says ID=azurelinux).
	"mariner":    {"CBL-Mariner", "https://endoflife.date/azure-linux"},
	"azurelinux": {"Azure Linux", "https://endoflife.date/azure-linux"},
	// products/fedora.md at 02ce42c2, from
	// docs.fedoraproject.org/en-US/releases/eol (43's end is Fedora's
	// schedule, four weeks after 45 ships).
	"fedora": {"Fedora Linux", "https://endoflife.date/fedora"},
}

// rolling are distributions without releases: every image updates to
// the same stream, each package has its own life, and there is no
// release to be past its end. They get no end-of-life finding and no
// "unknown" note; their packages' own advisories are what matter.
var rolling = map[string]bool{
	"wolfi":               true,
	"chainguard":          true,
	"opensuse-tumbleweed": true,
	"arch":                true,
	"gentoo":              true,
}

var lifecycles = []lifecycle{
	{"debian", "8", "2020-06-30", ""},
	{"debian", "9", "2022-07-01", ""},
	{"debian", "10", "2024-06-30", ""},
	{"debian", "11", "2026-08-31", ""},
	{"debian", "12", "2028-06-30", ""},
	{"debian", "13", "2030-06-30", ""},
	{"ubuntu", "14.04", "2019-04-02", "Ubuntu Pro (ESM) until 2024-04-02"},
	{"ubuntu", "16.04", "2021-04-02", "Ubuntu Pro (ESM) until 2026-04-02"},
	{"ubuntu", "18.04", "2023-05-31", "Ubuntu Pro (ESM) until 2028-04-01"},
	{"ubuntu", "20.04", "2025-05-31", "Ubuntu Pro (ESM) until 2030-04-02"},
	{"ubuntu", "22.04", "2027-04-01", "Ubuntu Pro (ESM) until 2032-04-09"},
	{"ubuntu", "22.10", "2023-07-20", ""},
	{"ubuntu", "23.04", "2024-01-20", ""},
	{"ubuntu", "23.10", "2024-07-12", ""},
	{"ubuntu", "24.04", "2029-05-31", "Ubuntu Pro (ESM) until 2036-05-31"},
	{"ubuntu", "24.10", "2025-07-10", ""},
	{"ubuntu", "25.04", "2026-01-17", ""},
	{"ubuntu", "25.10", "2026-07-01", ""},
	{"ubuntu", "26.04", "2031-04-30", "Ubuntu Pro (ESM) until 2036-04-30"},
	{"alpine", "3.0", "2016-05-01", ""},
	{"alpine", "3.1", "2016-11-01", ""},
	{"alpine", "3.2", "2017-05-01", ""},
	{"alpine", "3.3", "2017-11-01", ""},
	{"alpine", "3.4", "2018-05-01", ""},
	{"alpine", "3.5", "2018-11-01", ""},
	{"alpine", "3.6", "2019-05-01", ""},
	{"alpine", "3.7", "2019-11-01", ""},
	{"alpine", "3.8", "2020-05-01", ""},
	{"alpine", "3.9", "2020-11-01", ""},
	{"alpine", "3.10", "2021-05-01", ""},
	{"alpine", "3.11", "2021-11-01", ""},
	{"alpine", "3.12", "2022-05-01", ""},
	{"alpine", "3.13", "2022-11-01", ""},
	{"alpine", "3.14", "2023-05-01", ""},
	{"alpine", "3.15", "2023-11-01", ""},
	{"alpine", "3.16", "2024-05-23", ""},
	{"alpine", "3.17", "2024-11-22", ""},
	{"alpine", "3.18", "2025-05-09", ""},
	{"alpine", "3.19", "2025-11-01", ""},
	{"alpine", "3.20", "2026-04-01", ""},
	{"alpine", "3.21", "2026-11-01", ""},
	{"alpine", "3.22", "2027-05-01", ""},
	{"alpine", "3.23", "2027-11-01", ""},
	{"rhel", "6", "2020-11-30", "Extended Life Cycle Support (paid add-on) until 2024-06-30"},
	{"rhel", "7", "2024-06-30", "Extended Life Cycle Support (paid add-on) until 2028-06-30"},
	{"rhel", "8", "2029-05-31", "Extended Life Cycle Support (paid add-on) until 2032-05-31"},
	{"rhel", "9", "2032-05-31", "Extended Life Cycle Support (paid add-on) until 2035-05-31"},
	{"rhel", "10", "2035-05-31", ""},
	{"centos", "6", "2020-11-30", ""},
	{"centos", "7", "2024-06-30", ""},
	{"centos", "8", "2021-12-31", ""},
	{"centos-stream", "8", "2024-05-31", ""},
	{"centos-stream", "9", "2027-05-31", ""},
	{"centos-stream", "10", "2030-01-01", ""},
	{"rocky", "8", "2029-05-31", ""},
	{"rocky", "9", "2032-05-31", ""},
	{"rocky", "10", "2035-05-31", ""},
	{"almalinux", "8", "2029-03-01", ""},
	{"almalinux", "9", "2032-05-31", ""},
	{"almalinux", "10", "2035-05-31", ""},
	{"ol", "6", "2021-03-01", "Oracle Extended Support (paid) until 2024-12-01"},
	{"ol", "7", "2024-12-01", "Oracle Extended Support (paid) until 2026-06-01"},
	{"ol", "8", "2029-07-01", "Oracle Extended Support (paid) until 2031-07-01"},
	{"ol", "9", "2032-06-30", "Oracle Extended Support (paid) until 2034-06-30"},
	// Amazon Linux AMI (AL1): os-release's VERSION_ID is its AMI
	// release, "2018.03"; every one of them is release "1" here.
	{"amzn", "1", "2023-12-31", ""},
	{"amzn", "2", "2026-06-30", ""},
	{"amzn", "2023", "2029-06-30", ""},
	{"sles", "12.3", "2019-06-30", "LTSS (paid) until 2022-06-30"},
	{"sles", "12.4", "2020-06-30", "LTSS (paid) until 2023-06-30"},
	{"sles", "12.5", "2024-10-31", "LTSS (paid) until 2027-10-31"},
	{"sles", "15", "2019-12-31", "LTSS (paid) until 2022-12-31"},
	{"sles", "15.1", "2021-01-31", "LTSS (paid) until 2024-01-31"},
	{"sles", "15.2", "2021-12-31", "LTSS (paid) until 2024-12-31"},
	{"sles", "15.3", "2022-12-31", "LTSS (paid) until 2025-12-31"},
	{"sles", "15.4", "2023-12-31", "LTSS (paid) until 2026-12-31"},
	{"sles", "15.5", "2024-12-31", "LTSS (paid) until 2027-12-31"},
	{"sles", "15.6", "2025-12-31", "LTSS (paid) until 2028-12-31"},
	{"sles", "15.7", "2031-07-31", ""},
	{"opensuse-leap", "15.0", "2019-12-03", ""},
	{"opensuse-leap", "15.1", "2021-02-02", ""},
	{"opensuse-leap", "15.2", "2022-01-04", ""},
	{"opensuse-leap", "15.3", "2022-12-31", ""},
	{"opensuse-leap", "15.4", "2023-12-07", ""},
	{"opensuse-leap", "15.5", "2024-12-31", ""},
	{"opensuse-leap", "15.6", "2026-04-30", ""},
	{"opensuse-leap", "16.0", "2027-10-31", ""},
	{"photon", "1.0", "2022-02-28", ""},
	{"photon", "2.0", "2022-12-01", ""},
	{"photon", "3.0", "2025-10-02", ""},
	{"photon", "4.0", "2027-10-11", ""},
	{"mariner", "1.0", "2023-08-31", ""},
	{"mariner", "2.0", "2025-07-31", ""},
	{"azurelinux", "3.0", "2027-08-31", ""},
	{"fedora", "33", "2021-11-30", ""},
	{"fedora", "34", "2022-06-07", ""},
	{"fedora", "35", "2022-12-13", ""},
	{"fedora", "36", "2023-05-16", ""},
	{"fedora", "37", "2023-12-05", ""},
	{"fedora", "38", "2024-05-21", ""},
	{"fedora", "39", "2024-11-26", ""},
	{"fedora", "40", "2025-05-13", ""},
	{"fedora", "41", "2025-12-15", ""},
	{"fedora", "42", "2026-05-13", ""},
	{"fedora", "43", "2026-12-09", ""},
}

// releaseOf returns the table's distribution and release of o, as its
// os-release says them: the major of enterprise releases ("9.4" is 9),
// major.minor of Alpine, SUSE and the ".0" releases of Photon and Azure
// Linux ("5" is 5.0), Amazon Linux AMI's "2018.03" is 1.
func releaseOf(o *sbom.OS) (id, release string) {
	id, release = o.ID, o.VersionID
	switch id {
	case "debian", "rhel", "rocky", "almalinux", "ol":
		release, _, _ = strings.Cut(release, ".")
	case "centos":
		release, _, _ = strings.Cut(release, ".")
		if strings.Contains(strings.ToLower(o.Name), "stream") {
			id = "centos-stream"
		}
	case "alpine", "sles", "opensuse-leap":
		release = majorMinor(release)
	case "photon", "mariner", "azurelinux":
		release = majorMinor(release)
		if release != "" && !strings.Contains(release, ".") {
			release += ".0"
		}
	case "amzn":
		// AL1's VERSION_ID is the AMI's "YYYY.MM"; AL2's "2", AL2023's
		// "2023".
		if y, m, ok := strings.Cut(release, "."); ok && len(y) == 4 && len(m) == 2 && y >= "2010" && y <= "2018" {
			release = "1"
		}
	}
	return id, release
}

// lifecycleOf returns the table's row for o.
func lifecycleOf(o *sbom.OS) (lifecycle, bool) {
	id, release := releaseOf(o)
	for _, l := range lifecycles {
		if l.id == id && l.release == release {
			return l, true
		}
	}
	return lifecycle{}, false
}

// displayName is how messages name o.
func displayName(o *sbom.OS) string {
	if o.PrettyName != "" {
		return o.PrettyName
	}
	return strings.TrimSpace(o.ID + " " + o.VersionID)
}

// EndOfLife returns a finding when the operating system o is a release
// past the end of its standard security support on the day of now: its
// packages get no more fixes, whatever the advisories say, so the
// finding is High. Releases the table does not know give no finding;
// EndOfLifeUnknown says so.
func EndOfLife(o *sbom.OS, now time.Time, obj finding.ObjectRef) (finding.Finding, bool) {
	if o == nil {
		return finding.Finding{}, false
	}
	l, ok := lifecycleOf(o)
	if !ok {
		return finding.Finding{}, false
	}
	end, err := time.Parse(time.DateOnly, l.end)
	if err != nil || !now.After(end.Add(24*time.Hour)) {
		return finding.Finding{}, false
	}
	name := displayName(o)
	msg := fmt.Sprintf("%s reached the end of its security support on %s: its packages receive no more security fixes", name, l.end)
	if l.note != "" {
		msg += " (" + l.note + ")"
	}
	msg += "; source: " + distributions[l.id].source
	if obj.Kind == "" {
		obj = finding.ObjectRef{Kind: "OperatingSystem", Name: name}
	}
	return finding.Finding{
		RuleID:      RuleOSEndOfLife,
		Severity:    finding.SeverityHigh,
		Title:       "Operating system past its end of life",
		Message:     msg,
		Object:      obj,
		Remediation: "Rebuild the image on a supported release of the distribution.",
	}, true
}

// EndOfLifeUnknown returns a warning when Palisade cannot tell whether o
// is past its end of life: a release (or a distribution) the table does
// not know. It is not an error: the packages were still matched; but
// silence would read as "supported". Rolling distributions (Wolfi,
// Chainguard, openSUSE Tumbleweed) have no release to be past its end
// and get none; neither does an image without an os-release (o nil).
func EndOfLifeUnknown(o *sbom.OS) (finding.Problem, bool) {
	if o == nil || o.ID == "" || rolling[o.ID] {
		return finding.Problem{}, false
	}
	if _, ok := lifecycleOf(o); ok {
		return finding.Problem{}, false
	}
	id, release := releaseOf(o)
	what := fmt.Sprintf("release %q of %s", release, distributions[id].name)
	switch _, known := distributions[id]; {
	case !known:
		what = fmt.Sprintf("distribution %q", o.ID)
	case release == "":
		what = "a release of " + distributions[id].name + " without VERSION_ID"
	}
	return finding.Problem{
		Level: finding.LevelWarning,
		Message: fmt.Sprintf("%s: end of life unknown: Palisade has no end-of-support date for %s, "+
			"so the image is not reported past its end of life even if it is", displayName(o), what),
	}, true
}

// majorMinor returns "3.20" of "3.20.3".
func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) >= 2 {
		return parts[0] + "." + parts[1]
	}
	return v
}
