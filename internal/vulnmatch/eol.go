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
	// end is the last day of security updates: for Debian the end of its
	// LTS (DLA advisories continue until then), for Ubuntu the end of
	// standard support (ESM continues for Ubuntu Pro), for Alpine the
	// end of the branch's support.
	end string
	// note says what support may remain.
	note string
}

// lifecycleSource is where the dates come from: endoflife.date's product
// pages (products/debian.md at 007fc5ab, ubuntu.md at 021ca13a,
// alpine-linux.md at 0118c303), which cite the vendors' release pages
// (wiki.debian.org/DebianReleases, wiki.ubuntu.com/Releases,
// alpinelinux.org/releases).
const lifecycleSource = "https://endoflife.date"

var lifecycles = []lifecycle{
	{"debian", "8", "2020-06-30", ""},
	{"debian", "9", "2022-07-01", ""},
	{"debian", "10", "2024-06-30", ""},
	{"debian", "11", "2026-08-31", ""},
	{"debian", "12", "2028-06-10", ""},
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
}

// EndOfLife returns a finding when the operating system o is a release
// past the end of its security support on the day of now: its packages
// get no more fixes, whatever the advisories say, so the finding is High.
// Releases the table does not know give no finding.
func EndOfLife(o *sbom.OS, now time.Time, obj finding.ObjectRef) (finding.Finding, bool) {
	if o == nil {
		return finding.Finding{}, false
	}
	release := o.VersionID
	switch o.ID {
	case "debian":
		release, _, _ = strings.Cut(release, ".")
	case "alpine":
		release = majorMinor(release)
	}
	for _, l := range lifecycles {
		if l.id != o.ID || l.release != release {
			continue
		}
		end, err := time.Parse(time.DateOnly, l.end)
		if err != nil || !now.After(end.Add(24*time.Hour)) {
			return finding.Finding{}, false
		}
		name := o.PrettyName
		if name == "" {
			name = o.ID + " " + o.VersionID
		}
		msg := fmt.Sprintf("%s reached the end of its security support on %s: its packages receive no more security fixes", name, l.end)
		if l.note != "" {
			msg += " (" + l.note + ")"
		}
		msg += "; source: " + lifecycleSource + "/" + map[string]string{"debian": "debian", "ubuntu": "ubuntu", "alpine": "alpine-linux"}[o.ID]
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
	return finding.Finding{}, false
}

// majorMinor returns "3.20" of "3.20.3".
func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) >= 2 {
		return parts[0] + "." + parts[1]
	}
	return v
}
