package vulndb

// The Ubuntu CVE Tracker (https://git.launchpad.net/ubuntu-cve-tracker,
// its statuses documented in the tracker's README and at
// https://ubuntu.com/security/cves/about#statuses): one text file per
// CVE (active/CVE-2024-0727, retired/…) with the CVE's priority and, per
// release and source package, a line "jammy_openssl: needed" or
// "focal_openssl: released (1.1.1f-1ubuntu2.22)".
//
// Ubuntu's OSV export carries the fixed versions and the priorities, but
// lists "needed", "needs-triage", "pending", "deferred" and "ignored"
// alike as affected without a fix, and leaves out "DNE" and
// "not-affected". The tracker's states become PackageStatus entries of
// the CVE, as the Debian Security Tracker's do:
//
//	needed, needs-triage, in-progress  affected (reason: the word)
//	pending                            affected ("pending": a fix awaits publication)
//	deferred                           fix_deferred
//	ignored                            will_not_fix, or end_of_life when the note says the
//	                                   release or package reached its end of life / support
//	DNE, not-affected                  not_affected (the matcher reports nothing)
//	released                           nothing: OSV's fixed versions say it
//
// The tracker's priorities are Ubuntu's own rating of a CVE: "Priority:"
// for the CVE, "Priority_<package>:" where a source package's differs
// (the kernel's often do) and "Priority_<package>_<release>:" where one
// release's does. They become Priorities of the CVE; the matcher rates
// an Ubuntu package by the most specific one. "untriaged" rates nothing.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
)

// FormatUbuntuTracker is the Ubuntu CVE Tracker's text files.
const FormatUbuntuTracker = "ubuntu-tracker"

// SourceUbuntuTracker names the tracker as the source of a rating.
const SourceUbuntuTracker = "Ubuntu CVE Tracker"

// UbuntuTrackerURL is a snapshot of the tracker's repository as the
// Launchpad git browser serves it.
const UbuntuTrackerURL = "https://git.launchpad.net/ubuntu-cve-tracker/snapshot/ubuntu-cve-tracker-master.tar.gz"

// UbuntuReleases maps Ubuntu's codenames to OSV's ecosystem releases.
var UbuntuReleases = map[string]string{
	"trusty": "14.04:LTS", "xenial": "16.04:LTS", "bionic": "18.04:LTS", "focal": "20.04:LTS",
	"jammy": "22.04:LTS", "kinetic": "22.10", "lunar": "23.04", "mantic": "23.10", "noble": "24.04:LTS",
	"oracular": "24.10", "plucky": "25.04", "questing": "25.10", "resolute": "26.04:LTS",
}

// Limits of a tracker file (the kernel's, with hundreds of package lines,
// are the largest, under a megabyte).
const (
	maxTrackerFile = 16 << 20
	maxTrackerLine = 64 << 10
)

var (
	uctStatusLine = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^([a-z0-9][a-z0-9./-]*)_([a-z0-9][a-z0-9.+-]*): *([a-z-]+|DNE)(?: +\((.*)\))? *$`)
	})
	uctPriorityLine = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^Priority(?:_([a-z0-9][a-z0-9.+-]*)(?:_([a-z0-9][a-z0-9./-]*))?)?: *([A-Za-z]+)\b`)
	})
)

// ubuntuPriorities are the tracker's priority words that rate a CVE.
var ubuntuPriorities = map[string]bool{"negligible": true, "low": true, "medium": true, "high": true, "critical": true}

// ubuntuEcosystem returns the OSV ecosystem of a tracker release name:
// "jammy" is "Ubuntu:22.04:LTS"; the ESM (Ubuntu Pro) pockets
// "esm-infra/xenial", "esm-apps/jammy" and "trusty/esm" are
// "Ubuntu:Pro:16.04:LTS" …; others ("upstream", "devel", "snap",
// "fips/…") are not releases of an image.
func ubuntuEcosystem(rel string) (string, bool) {
	pro := false
	switch {
	case strings.HasPrefix(rel, "esm-infra/"), strings.HasPrefix(rel, "esm-apps/"):
		rel, pro = rel[strings.IndexByte(rel, '/')+1:], true
	case strings.HasSuffix(rel, "/esm"):
		rel, pro = strings.TrimSuffix(rel, "/esm"), true
	}
	num, ok := UbuntuReleases[rel]
	if !ok {
		return "", false
	}
	if pro {
		return "Ubuntu:Pro:" + num, true
	}
	return "Ubuntu:" + num, true
}

// readUbuntuTracker reads every CVE-* file under path.
func readUbuntuTracker(ctx context.Context, path string, fn func(*CVEInfo) error) (readStats, error) {
	var st readStats
	err := forEachDocument(ctx, path, func(name string) bool { return strings.HasPrefix(name, "CVE-") },
		func(name string, r io.Reader) error {
			data, err := io.ReadAll(io.LimitReader(r, maxTrackerFile+1))
			if err != nil {
				return err
			}
			info, err := parseUbuntuTracker(bytes.NewReader(data))
			if err != nil {
				st.skip(name, err)
				return nil
			}
			if info == nil {
				return nil
			}
			st.records++
			return fn(info)
		})
	return st, err
}

// parseUbuntuTracker reads one tracker file; nil when it states nothing
// beyond fixed versions.
func parseUbuntuTracker(r io.Reader) (*CVEInfo, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxTrackerLine)
	info := &CVEInfo{}
	size := 0
	for sc.Scan() {
		line := sc.Text()
		if size += len(line) + 1; size > maxTrackerFile {
			return nil, errDocumentTooLarge
		}
		if v, ok := strings.CutPrefix(line, "Candidate:"); ok {
			info.ID = strings.TrimSpace(v)
			continue
		}
		if strings.HasPrefix(line, "Priority") {
			if p, ok := ubuntuPriority(line); ok && len(info.Priorities) < maxAffected {
				info.Priorities = append(info.Priorities, p)
			}
			continue
		}
		m := uctStatusLine().FindStringSubmatch(line)
		if m == nil {
			continue
		}
		eco, ok := ubuntuEcosystem(m[1])
		if !ok || len(m[2]) > maxNameLen || len(info.Statuses) >= maxAffected {
			continue
		}
		state, reason := ubuntuState(m[3], strings.TrimSpace(m[4]))
		if state == "" {
			continue
		}
		info.Statuses = append(info.Statuses, PackageStatus{Ecosystem: eco, Package: m[2], State: state, Reason: truncate(reason, 256)})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line longer than %d bytes", maxTrackerLine)
		}
		return nil, err
	}
	if !IsCVE(info.ID) {
		return nil, fmt.Errorf("the Candidate field %q is not a CVE ID", truncate(info.ID, 40))
	}
	if len(info.Statuses) == 0 && len(info.Priorities) == 0 {
		return nil, nil
	}
	return info, nil
}

// ubuntuPriority reads a "Priority:", "Priority_<package>:" or
// "Priority_<package>_<release>:" line; ok is false for other lines,
// words that rate nothing ("untriaged") and releases that are not an
// image's.
func ubuntuPriority(line string) (Priority, bool) {
	m := uctPriorityLine().FindStringSubmatch(line)
	if m == nil || len(m[1]) > maxNameLen {
		return Priority{}, false
	}
	word := strings.ToLower(m[3])
	if !ubuntuPriorities[word] {
		return Priority{}, false
	}
	p := Priority{Ecosystem: "Ubuntu", Package: m[1], Priority: word, Source: SourceUbuntuTracker}
	if m[2] != "" {
		eco, ok := ubuntuEcosystem(m[2])
		if !ok {
			return Priority{}, false
		}
		p.Ecosystem = eco
	}
	return p, true
}

// ubuntuState maps a tracker status and its note to a fix state and the
// tracker's words; "" for states OSV's records already say (released).
func ubuntuState(status, note string) (state, reason string) {
	reason = status
	if note != "" {
		reason += " (" + note + ")"
	}
	switch status {
	case "needed", "needs-triage", "in-progress", "active", "pending":
		return "affected", reason
	case "deferred":
		return "fix_deferred", reason
	case "ignored":
		n := strings.ToLower(note)
		if strings.Contains(n, "end of") || strings.Contains(n, "end-of-life") || strings.Contains(n, "out of standard support") {
			return "end_of_life", reason
		}
		return "will_not_fix", reason
	case "DNE", "not-affected":
		return StateNotAffected, reason
	}
	return "", ""
}
