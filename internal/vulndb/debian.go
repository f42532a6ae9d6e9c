package vulndb

// The Debian Security Tracker's JSON (https://security-tracker.debian.org/tracker/data/json):
// for every source package and CVE, each release's status. OSV's Debian
// export carries the fixed versions; what it loses is why an open issue
// stays open: "no-dsa" (a minor issue, fixed in a point release if at
// all), its reasons "ignored" (will not be fixed) and "postponed" (fix
// deferred), and the "end-of-life" urgency of releases and packages no
// longer supported. Those become PackageStatus entries of the CVE.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// FormatDebianTracker is the Debian Security Tracker's JSON.
const FormatDebianTracker = "debian-tracker"

// DebianReleases maps Debian's codenames to their release numbers, the
// release of OSV's "Debian:N" ecosystems.
var DebianReleases = map[string]string{
	"jessie": "8", "stretch": "9", "buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14", "duke": "15",
}

// maxTrackerPackage bounds one package's entry (the linux package's, the
// largest, is a few megabytes).
const maxTrackerPackage = 64 << 20

type trackerRelease struct {
	Status      string `json:"status"`
	Urgency     string `json:"urgency"`
	NoDSA       string `json:"nodsa"`
	NoDSAReason string `json:"nodsa_reason"`
}

// readDebianTracker streams the tracker's JSON object of packages and
// emits, per CVE, the packages and releases whose issue is open for a
// stated reason. Resolved issues are OSV's to report; plain open ones are
// "affected" already.
func readDebianTracker(ctx context.Context, r io.Reader, st *readStats, fn func(*CVEInfo) error) error {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return fmt.Errorf("the Debian Security Tracker JSON: %w", err)
	}
	for dec.More() {
		if err := ctx.Err(); err != nil {
			return err
		}
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("the Debian Security Tracker JSON: %w", err)
		}
		pkg, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("the Debian Security Tracker JSON: package %q: %w", truncate(pkg, 64), err)
		}
		if pkg == "" || len(pkg) > maxNameLen || len(raw) > maxTrackerPackage {
			st.skip(truncate(pkg, 64), errors.New("invalid or oversized package entry"))
			continue
		}
		var cves map[string]struct {
			Releases map[string]trackerRelease `json:"releases"`
		}
		if err := json.Unmarshal(raw, &cves); err != nil {
			st.skip(pkg, err)
			continue
		}
		for id, c := range cves {
			if !IsCVE(id) {
				continue // TEMP- and other tracker-local IDs
			}
			info := &CVEInfo{ID: id}
			for codename, rel := range c.Releases {
				num, ok := DebianReleases[codename]
				if !ok || rel.Status != "open" {
					continue
				}
				state, reason := "", ""
				switch {
				case rel.Urgency == "end-of-life":
					state, reason = "end_of_life", "end-of-life"
				case rel.NoDSAReason == "ignored":
					state, reason = "will_not_fix", "ignored"
				case rel.NoDSAReason == "postponed":
					state, reason = "fix_deferred", "postponed"
				case rel.NoDSA != "":
					state, reason = "affected", "no-dsa"
				default:
					continue
				}
				info.Statuses = append(info.Statuses, PackageStatus{Ecosystem: "Debian:" + num, Package: pkg, State: state, Reason: reason})
			}
			if len(info.Statuses) == 0 {
				continue
			}
			st.records++
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}
