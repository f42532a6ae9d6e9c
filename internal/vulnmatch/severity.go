package vulnmatch

import (
	"fmt"
	"slices"
	"strings"

	"github.com/palisade-sec/palisade/internal/finding"
	"github.com/palisade-sec/palisade/internal/vulndb"
)

// CVESource is implemented by sources that hold CVE enrichment (NVD's
// scores, CISA KEV, EPSS, distributions' fix states); *vulndb.DB is one.
type CVESource interface {
	CVE(id string) (*vulndb.CVEInfo, error)
}

// Severity sources, in the order they are consulted after the
// distribution's own rating (which is named by its ecosystem).
const (
	SourceNVD    = "NVD"
	SourceGitHub = "GitHub"
)

// cvesOf returns the CVE IDs a match is known by: the record's ID, its
// aliases and upstream IDs, and the IDs of duplicates merged into it.
func cvesOf(m match) []string {
	var out []string
	for _, ids := range [][]string{{m.rec.ID}, m.rec.Aliases, m.rec.Upstream, m.aliases} {
		for _, id := range ids {
			if vulndb.IsCVE(id) && !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// rating is the severity of a match and everything known of its CVEs.
type rating struct {
	severity finding.Severity
	source   string
	// word is a tracker's priority when it gave the severity ("high"),
	// of whose it is ("of linux in 22.04:LTS").
	word, of string
	scores   []finding.CVSS
	kev      *finding.KEV
	epss     *finding.EPSS
}

// rate rates a match of a package looked up as q, asking in order: the
// distribution (Ubuntu's CVE Tracker priority of the package, the most
// specific first; the advisory's own rating: Debian's urgency, Ubuntu's
// priority, Red Hat's impact),
// the advisory's CVSS vectors (the highest version: 4.0, 3.x, 2), NVD's
// CVSS of its CVEs (NVD's own score before a CNA's, the highest version
// first), and GitHub's rating. The first that knows gives the severity;
// every score is reported.
func rate(m match, q query, cves []*vulndb.CVEInfo) rating {
	var r rating
	rec, aff := m.rec, m.aff
	var all []vulndb.Severity
	if aff != nil {
		all = append(all, aff.Severity...)
	}
	all = append(all, rec.Severity...)

	// 1. The distribution's own rating.
	github := strings.HasPrefix(rec.ID, "GHSA-")
	vendorWord, vendorSource := "", ""
	for _, s := range all {
		if strings.HasPrefix(s.Type, "CVSS_") {
			continue
		}
		if _, ok := SeverityOfWord(s.Score); ok && vendorWord == "" {
			vendorWord, vendorSource = s.Score, s.Type
		}
	}
	specific := rec.SpecificSeverity(aff)
	if vendorWord == "" && !github && specific != "" {
		vendorWord, vendorSource = specific, ratingSource(rec, aff)
	}
	if sev, ok := SeverityOfWord(vendorWord); ok && !github {
		r.severity, r.source = sev, vendorSource
	}
	// A tracker's priority of the package outranks the advisory's rating
	// of the CVE: the tracker is where the distribution rates each
	// package, and its advisories are generated from it.
	if p, of := packagePriority(q, cves); p != nil {
		if sev, ok := SeverityOfWord(p.Priority); ok {
			r.severity, r.source, r.word, r.of = sev, p.Source, p.Priority, of
		}
	}

	// 2. The advisory's CVSS vectors.
	best, bestRank, bestType := finding.SeverityUnknown, 0, ""
	for _, s := range all {
		c, sev, rank, ok := scoreVector(s.Type, s.Score)
		if !ok {
			continue
		}
		if !slices.ContainsFunc(r.scores, func(x finding.CVSS) bool { return x.Vector == c.Vector }) {
			r.scores = append(r.scores, c)
		}
		if rank > bestRank && sev != finding.SeverityUnknown {
			best, bestRank, bestType = sev, rank, s.Type
		}
	}
	if r.source == "" && bestRank > 0 {
		r.severity, r.source = best, bestType
	}

	// 3. NVD's scores of the CVEs.
	nvdBest, nvdRank := finding.SeverityUnknown, 0
	for _, info := range cves {
		for _, sc := range info.CVSS {
			typ := "CVSS_V" + strings.SplitN(sc.Version, ".", 2)[0]
			c, sev, rank, ok := scoreVector(typ, sc.Vector)
			if !ok {
				continue
			}
			c.Source = SourceNVD
			if !slices.ContainsFunc(r.scores, func(x finding.CVSS) bool { return x.Vector == c.Vector }) {
				r.scores = append(r.scores, c)
			}
			// NVD's own ("Primary") score outranks a CNA's of any version.
			if sc.Primary {
				rank += 10
			}
			if rank > nvdRank && sev != finding.SeverityUnknown {
				nvdBest, nvdRank = sev, rank
			}
		}
		if info.KEV != nil && r.kev == nil {
			r.kev = &finding.KEV{CVE: info.ID, DateAdded: info.KEV.DateAdded, DueDate: info.KEV.DueDate, Ransomware: info.KEV.Ransomware}
		}
		if info.EPSS != nil && (r.epss == nil || info.EPSS.Score > r.epss.Score) {
			r.epss = &finding.EPSS{CVE: info.ID, Score: info.EPSS.Score, Percentile: info.EPSS.Percentile}
		}
	}
	if r.source == "" && nvdRank > 0 {
		r.severity, r.source = nvdBest, SourceNVD
	}

	// 4. GitHub's rating.
	if r.source == "" && github {
		if sev, ok := SeverityOfWord(specific); ok {
			r.severity, r.source = sev, SourceGitHub
		}
	}
	if r.source == "" {
		r.severity = finding.SeverityUnknown
	}
	return r
}

// note says, for a finding's message, who rated it and how exploited it
// is known to be.
func (r rating) note() string {
	var parts []string
	switch {
	case r.source == "":
		parts = append(parts, "severity unknown: no source rates it")
	default:
		text := "severity from " + r.source
		if r.word != "" {
			text += " (" + r.word + " " + r.of + ")"
		}
		for _, c := range r.scores {
			if (r.source == SourceNVD) == (c.Source == SourceNVD) && (r.source == SourceNVD || r.source == "CVSS_V"+strings.SplitN(c.Version, ".", 2)[0]) {
				text += fmt.Sprintf(" (CVSS %s %.1f)", c.Version, c.Score)
				break
			}
		}
		parts = append(parts, text)
	}
	if r.kev != nil {
		parts = append(parts, fmt.Sprintf("known exploited (CISA KEV, %s, since %s)", r.kev.CVE, r.kev.DateAdded))
	}
	if r.epss != nil {
		parts = append(parts, fmt.Sprintf("EPSS %.1f%% (percentile %.0f)", 100*r.epss.Score, 100*r.epss.Percentile))
	}
	return strings.Join(parts, "; ")
}

// scoreVector scores a CVSS vector of an OSV severity type; rank orders
// versions (4.0 over 3.x over 2).
func scoreVector(typ, vector string) (c finding.CVSS, sev finding.Severity, rank int, ok bool) {
	switch typ {
	case "CVSS_V4":
		score, err := CVSS4(vector)
		if err != nil {
			return c, sev, 0, false
		}
		return finding.CVSS{Version: "4.0", Vector: vector, Score: score}, SeverityOfScore(score), 4, true
	case "CVSS_V3":
		score, ver, err := CVSS3(vector)
		if err != nil {
			return c, sev, 0, false
		}
		return finding.CVSS{Version: ver, Vector: vector, Score: score}, SeverityOfScore(score), 3, true
	case "CVSS_V2":
		score, err := CVSS2(vector)
		if err != nil {
			return c, sev, 0, false
		}
		return finding.CVSS{Version: "2.0", Vector: vector, Score: score}, severityOfCVSS2(score), 2, true
	}
	return c, sev, 0, false
}

// ratingSource names the database whose own rating a record carries.
func ratingSource(rec *vulndb.Record, aff *vulndb.Affected) string {
	if strings.HasPrefix(rec.ID, "GHSA-") {
		return SourceGitHub
	}
	if aff != nil {
		return vulndb.BaseEcosystem(aff.Package.Ecosystem)
	}
	return ""
}

// packagePriority returns the distribution's priority of the package q
// names in the CVE enrichment (the Ubuntu CVE Tracker's), the most
// specific first: of the package in its release, of the package, of the
// CVE; among CVEs of equal specificity, the highest. of says whose
// rating it is, for the message; nil when no source rates it.
func packagePriority(q query, cves []*vulndb.CVEInfo) (*vulndb.Priority, string) {
	var best *vulndb.Priority
	bestRank, bestSev := 0, finding.SeverityUnknown
	for _, info := range cves {
		for i := range info.Priorities {
			p := &info.Priorities[i]
			if !strings.EqualFold(vulndb.BaseEcosystem(p.Ecosystem), vulndb.BaseEcosystem(q.ecosystem)) {
				continue
			}
			if p.Package != "" && p.Package != q.name {
				continue
			}
			rel := release(p.Ecosystem)
			if rel != "" && (release(q.ecosystem) == "" || !releaseApplies(q.ecosystem, rel, release(q.ecosystem))) {
				continue
			}
			sev, ok := SeverityOfWord(p.Priority)
			if !ok {
				continue
			}
			rank := 1
			if p.Package != "" {
				rank = 2
				if rel != "" {
					rank = 3
				}
			}
			if rank > bestRank || (rank == bestRank && sev > bestSev) {
				best, bestRank, bestSev = p, rank, sev
			}
		}
	}
	switch {
	case best == nil:
		return nil, ""
	case bestRank == 3:
		return best, "of " + best.Package + " in " + release(best.Ecosystem)
	case bestRank == 2:
		return best, "of " + best.Package
	}
	return best, "of the CVE"
}
