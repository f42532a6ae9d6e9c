package vulndb

// Advisories from NVD's CPE configurations, for software no OSV source
// covers: language runtimes built outside a package manager (Node.js,
// CPython, OpenJDK, OpenSSL found as binaries) and the C libraries of
// Conan. NVD's CVE API 2.0 items list, under "configurations", nodes of
// cpeMatch entries: a CPE 2.3 name ("cpe:2.3:a:nodejs:node.js:*:*:*:*:*:*:*:*")
// with an optional range (versionStartIncluding/Excluding,
// versionEndIncluding/Excluding) and whether it is the vulnerable
// product. Like Grype's CPE matcher, every vulnerable, non-negated entry
// of a mapped product counts, whatever AND-ed platform its node names
// ("running on Windows" is not checked).
//
// A CVE with such entries becomes one Record, "NVD-CVE-…" with the CVE as
// alias (the ID never collides with another source's record of the CVE),
// with one Affected per mapped package and one ECOSYSTEM range per entry,
// stored with the other records under the NVD source: the matcher needs
// nothing new, the index and the bundles carry them, and the CVE's
// severity comes from the same feed's CVSS. Only CVEs naming a mapped
// product are decoded a second time, found by a substring test on the
// raw item, so the import of a whole NVD feed costs almost nothing more.
//
// Range translation: StartIncluding is "introduced", EndExcluding
// "fixed", EndIncluding "last_affected". OSV has no excluded start:
// StartExcluding X is "introduced" X with the range's database_specific
// saying that X itself is excluded (Range.IntroducedExcluded), which the
// matcher honours. An entry without a range
// names one version (the CPE's version and, when not "*" or "-", its
// update, "3.12.0" + "rc1"); "*" without a range affects every version;
// "-" (not applicable) is skipped.

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"
)

// cpeProduct is a CPE vendor:product and the packages it names.
type cpeProduct struct {
	vendor, product string
	packages        []Package
}

// cpeProducts maps CPE products to the ecosystems and names the catalogers
// give their packages (internal/sbom: Node.js "node", CPython "python",
// OpenJDK "openjdk", OpenSSL "openssl"; ConanCenter recipes by their
// reference names). A product not listed here yields no record: its
// packages stay unchecked (CPEMapped).
var cpeProducts = []cpeProduct{
	{"nodejs", "node.js", []Package{{Ecosystem: "Node.js", Name: "node"}}},
	{"python", "python", []Package{{Ecosystem: "CPython", Name: "python"}}},
	{"oracle", "openjdk", []Package{{Ecosystem: "OpenJDK", Name: "openjdk"}}},
	{"openssl", "openssl", []Package{{Ecosystem: "OpenSSL", Name: "openssl"}, {Ecosystem: "ConanCenter", Name: "openssl"}}},
	{"zlib", "zlib", []Package{{Ecosystem: "ConanCenter", Name: "zlib"}}},
	{"haxx", "libcurl", []Package{{Ecosystem: "ConanCenter", Name: "libcurl"}}},
	{"haxx", "curl", []Package{{Ecosystem: "ConanCenter", Name: "libcurl"}}},
	{"libexpat_project", "libexpat", []Package{{Ecosystem: "ConanCenter", Name: "expat"}}},
	{"sqlite", "sqlite", []Package{{Ecosystem: "ConanCenter", Name: "sqlite3"}}},
	{"libpng", "libpng", []Package{{Ecosystem: "ConanCenter", Name: "libpng"}}},
	{"xmlsoft", "libxml2", []Package{{Ecosystem: "ConanCenter", Name: "libxml2"}}},
	{"libarchive", "libarchive", []Package{{Ecosystem: "ConanCenter", Name: "libarchive"}}},
	{"tukaani", "xz", []Package{{Ecosystem: "ConanCenter", Name: "xz_utils"}}},
	{"libjpeg-turbo", "libjpeg-turbo", []Package{{Ecosystem: "ConanCenter", Name: "libjpeg-turbo"}}},
	{"libtiff", "libtiff", []Package{{Ecosystem: "ConanCenter", Name: "libtiff"}}},
	{"freetype", "freetype", []Package{{Ecosystem: "ConanCenter", Name: "freetype"}}},
	{"bzip", "bzip2", []Package{{Ecosystem: "ConanCenter", Name: "bzip2"}}},
	{"facebook", "zstandard", []Package{{Ecosystem: "ConanCenter", Name: "zstd"}}},
	{"libssh2", "libssh2", []Package{{Ecosystem: "ConanCenter", Name: "libssh2"}}},
	{"c-ares", "c-ares", []Package{{Ecosystem: "ConanCenter", Name: "c-ares"}}},
	{"nghttp2", "nghttp2", []Package{{Ecosystem: "ConanCenter", Name: "libnghttp2"}}},
	{"protobuf", "protobuf", []Package{{Ecosystem: "ConanCenter", Name: "protobuf"}}},
	{"google", "protobuf", []Package{{Ecosystem: "ConanCenter", Name: "protobuf"}}},
	{"pcre", "pcre2", []Package{{Ecosystem: "ConanCenter", Name: "pcre2"}}},
	{"gnu", "libiconv", []Package{{Ecosystem: "ConanCenter", Name: "libiconv"}}},
}

// cpeEcosystems are the ecosystems only CPE configurations advise on.
var cpeEcosystems = []string{"Node.js", "CPython", "OpenJDK", "OpenSSL", "ConanCenter"}

// CPEMapped reports, for an ecosystem that only NVD's CPE configurations
// advise on, whether a package name has a CPE product mapped to it, so
// its absence from the database means "no known vulnerability" rather
// than "never looked for". ok is false for every other ecosystem.
func CPEMapped(ecosystem, name string) (mapped, ok bool) {
	base := BaseEcosystem(ecosystem)
	for _, e := range cpeEcosystems {
		if strings.EqualFold(e, base) {
			ok = true
		}
	}
	if !ok {
		return false, false
	}
	for _, p := range cpeProducts {
		for _, pk := range p.packages {
			if strings.EqualFold(pk.Ecosystem, base) && pk.Name == name {
				return true, true
			}
		}
	}
	return false, true
}

// cpeMapped holds the "vendor:product" of every mapped product, as its
// CPE names spell it after "cpe:2.3:a:".
var cpeMapped = sync.OnceValue(func() map[string]bool {
	out := make(map[string]bool, len(cpeProducts))
	for _, p := range cpeProducts {
		out[p.vendor+":"+p.product] = true
	}
	return out
})

var cpeApplication = []byte("cpe:2.3:a:")

// namesMappedCPE reports whether raw holds the CPE name of a mapped
// product ("cpe:2.3:a:nodejs:node.js:..."): one pass over the item for
// the CPE prefix and a lookup of each vendor:product found, rather than a
// search for every product.
func namesMappedCPE(raw []byte) bool {
	for {
		i := bytes.Index(raw, cpeApplication)
		if i < 0 {
			return false
		}
		raw = raw[i+len(cpeApplication):]
		vendor := bytes.IndexByte(raw, ':')
		if vendor < 0 {
			return false
		}
		product := bytes.IndexByte(raw[vendor+1:], ':')
		if product < 0 {
			return false
		}
		if cpeMapped()[string(raw[:vendor+1+product])] {
			return true
		}
	}
}

// Limits of one CVE's configurations.
const (
	maxCPEMatches = 4096
	maxCPERanges  = 512
)

// nvdConfigurations is the part of an NVD item read for CPE matching.
type nvdConfigurations struct {
	CVE struct {
		Published    string `json:"published"`
		LastModified string `json:"lastModified"`
		Descriptions []struct {
			Lang  string `json:"lang"`
			Value string `json:"value"`
		} `json:"descriptions"`
		Configurations []struct {
			Nodes []struct {
				Negate   bool `json:"negate"`
				CPEMatch []struct {
					Vulnerable            bool   `json:"vulnerable"`
					Criteria              string `json:"criteria"`
					VersionStartIncluding string `json:"versionStartIncluding"`
					VersionStartExcluding string `json:"versionStartExcluding"`
					VersionEndIncluding   string `json:"versionEndIncluding"`
					VersionEndExcluding   string `json:"versionEndExcluding"`
				} `json:"cpeMatch"`
			} `json:"nodes"`
		} `json:"configurations"`
	} `json:"cve"`
}

// cpeRecordOf returns the record of a CVE's mapped CPE configurations, or
// nil when the item names no mapped product (or cannot be read: the CVE's
// scores are still kept).
func cpeRecordOf(id string, raw []byte) *Record {
	if !namesMappedCPE(raw) {
		return nil
	}
	var it nvdConfigurations
	if json.Unmarshal(raw, &it) != nil {
		return nil
	}
	rec := &Record{ID: "NVD-" + id, Aliases: []string{id},
		References: []Reference{{Type: "ADVISORY", URL: "https://nvd.nist.gov/vuln/detail/" + id}}}
	if t, err := time.Parse("2006-01-02T15:04:05.999", it.CVE.LastModified); err == nil {
		rec.Modified = t.UTC()
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999", it.CVE.Published); err == nil {
		t = t.UTC()
		rec.Published = &t
	}
	for _, d := range it.CVE.Descriptions {
		if d.Lang == "en" {
			rec.Summary = truncate(strings.TrimSpace(d.Value), 1024)
			break
		}
	}
	byPkg := map[Package]int{} // index in rec.Affected
	seen := 0
	for _, c := range it.CVE.Configurations {
		for _, n := range c.Nodes {
			if n.Negate {
				continue
			}
			for _, m := range n.CPEMatch {
				if seen++; seen > maxCPEMatches {
					return finishCPERecord(rec)
				}
				if !m.Vulnerable {
					continue
				}
				vendor, product, ver, update, ok := splitCPE(m.Criteria)
				if !ok {
					continue
				}
				r, ok := cpeRange(ver, update, m.VersionStartIncluding, m.VersionStartExcluding, m.VersionEndIncluding, m.VersionEndExcluding)
				if !ok {
					continue
				}
				for _, p := range cpeProducts {
					if p.vendor != vendor || p.product != product {
						continue
					}
					for _, pk := range p.packages {
						i, ok := byPkg[pk]
						if !ok {
							i = len(rec.Affected)
							byPkg[pk] = i
							rec.Affected = append(rec.Affected, Affected{Package: pk})
						}
						if len(rec.Affected[i].Ranges) < maxCPERanges {
							rec.Affected[i].Ranges = append(rec.Affected[i].Ranges, r)
						}
					}
				}
			}
		}
	}
	return finishCPERecord(rec)
}

func finishCPERecord(rec *Record) *Record {
	if len(rec.Affected) == 0 {
		return nil
	}
	return rec
}

// cpeRange translates one cpeMatch into an OSV range; ok is false for an
// entry that names no version ("-") or whose versions are unusable.
func cpeRange(ver, update, startIncl, startExcl, endIncl, endExcl string) (Range, bool) {
	r := Range{Type: RangeEcosystem}
	bounded := startIncl != "" || startExcl != "" || endIncl != "" || endExcl != ""
	for _, v := range []string{startIncl, startExcl, endIncl, endExcl} {
		if len(v) > 128 || strings.ContainsAny(v, " \t\n") {
			return r, false
		}
	}
	switch {
	case bounded:
		start := startIncl
		if start == "" {
			start = startExcl
		}
		if start == "" {
			start = "0"
		}
		r.Events = append(r.Events, Event{Introduced: start})
		if startIncl == "" && startExcl != "" {
			r.DatabaseSpecific = rangeIntroducedExcluded
		}
		switch {
		case endExcl != "":
			r.Events = append(r.Events, Event{Fixed: endExcl})
		case endIncl != "":
			r.Events = append(r.Events, Event{LastAffected: endIncl})
		}
	case ver == "*":
		r.Events = []Event{{Introduced: "0"}}
	case ver == "-" || ver == "" || len(ver) > 64:
		return r, false
	default:
		v := ver
		if update != "*" && update != "-" && update != "" && len(update) <= 32 {
			v += update
		}
		r.Events = []Event{{Introduced: v}, {LastAffected: v}}
	}
	return r, true
}

// splitCPE returns the vendor, product, version and update of an
// application's CPE 2.3 formatted string, unquoting "\" escapes; ok is
// false for anything else.
func splitCPE(s string) (vendor, product, ver, update string, ok bool) {
	if len(s) > 1024 || !strings.HasPrefix(s, "cpe:2.3:a:") {
		return "", "", "", "", false
	}
	var fields []string
	var cur strings.Builder
	for i := len("cpe:2.3:a:"); i < len(s) && len(fields) < 4; i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == ':':
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if len(fields) < 4 {
		return "", "", "", "", false
	}
	return fields[0], fields[1], fields[2], fields[3], true
}

// readNVDSource reads an NVD feed source: the CVEs' scores as enrichment,
// and the records of mapped CPE configurations as advisories.
func readNVDSource(ctx context.Context, path string, add func(*Record) error, addCVE func(*CVEInfo) error) (readStats, error) {
	return readCVEs(ctx, path, FormatNVD, func(info *CVEInfo) error {
		if rec := info.cpeRecord; rec != nil {
			info.cpeRecord = nil
			if err := add(rec); err != nil {
				return err
			}
		}
		return addCVE(info)
	})
}
